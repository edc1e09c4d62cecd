import { createPublicKey } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { PUBLIC_ROUTE } from '../openapi.js';

/**
 * `GET /api/v1/firmware/trust-anchor`: the public half of the operator's firmware-signing key,
 * for devices that get it by configuration rather than at bootstrap (plain CoAP agents:
 * `firmwareTrustAnchor`). Public by nature; the private key never leaves the data directory.
 */
export function trustAnchorRoutes(app: FastifyInstance, spkiDer: Uint8Array): void {
  const key = createPublicKey({ key: Buffer.from(spkiDer), format: 'der', type: 'spki' });
  const body = { algorithm: 'Ed25519', spkiDer: Buffer.from(spkiDer).toString('base64'), pem: key.export({ format: 'pem', type: 'spki' }).toString() };
  app.get(
    '/api/v1/firmware/trust-anchor',
    {
      schema: {
        tags: ['firmware'],
        summary: "The operator's firmware-signing public key, for plain CoAP agents configured by hand",
        security: PUBLIC_ROUTE,
        response: {
          200: {
            type: 'object',
            required: ['algorithm', 'spkiDer', 'pem'],
            properties: { algorithm: { type: 'string' }, spkiDer: { type: 'string', description: 'SPKI DER, base64' }, pem: { type: 'string' } },
          },
        },
      },
    },
    async () => body,
  );
}
