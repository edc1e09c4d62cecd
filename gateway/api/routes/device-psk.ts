import type { FastifyInstance } from 'fastify';
import { PskRequestError, type DevicePsks } from '../../fleet/device-psks.js';
import { DeviceNotFoundError } from '../../store/device-repository.js';
import { PskIdentityTakenError } from '../../store/device-psk-store.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { endpointParamSchema } from '../schemas.js';

interface Params {
  endpoint: string;
}

const pskInfoSchema = {
  type: 'object',
  required: ['endpoint', 'identity', 'createdAt'],
  properties: {
    endpoint: { type: 'string' },
    identity: { type: 'string', description: 'the PSK identity (sent in clear in every DTLS handshake)' },
    createdAt: { type: 'string', format: 'date-time' },
  },
} as const;

const pskIssuedSchema = {
  type: 'object',
  required: ['endpoint', 'identity', 'key', 'rotated', 'createdAt'],
  properties: {
    ...pskInfoSchema.properties,
    key: { type: 'string', description: 'the key, hex; shown this once' },
    rotated: { type: 'boolean', description: 'an earlier key was replaced (the device must bootstrap again to get this one)' },
  },
} as const;

/**
 * A device's DTLS pre-shared key (LwM2M Security Mode 0): set or generate (the key is answered
 * this once), show its identity, remove. Admin only: it is a device credential.
 */
export function devicePskRoutes(app: FastifyInstance, psks: DevicePsks): void {
  app.get<{ Params: Params }>(
    '/api/v1/devices/:endpoint/psk',
    {
      schema: {
        tags: ['devices'],
        summary: "The device's PSK identity (never the key)",
        params: endpointParamSchema,
        response: { 200: pskInfoSchema, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const psk = psks.get(req.params.endpoint);
      if (!psk) throw new ApiError(404, 'psk_not_found', `${req.params.endpoint} has no pre-shared key`);
      return { endpoint: psk.endpoint, identity: psk.identity, createdAt: new Date(psk.createdAt).toISOString() };
    },
  );

  app.post<{ Params: Params; Body: { identity?: string; key?: string } | undefined }>(
    '/api/v1/devices/:endpoint/psk',
    {
      schema: {
        tags: ['devices'],
        summary: 'Set or rotate the device’s DTLS pre-shared key; generated unless given. Answers the key once',
        description:
          'Without `key`, 16 random bytes; without `identity`, the endpoint name. Replacing a key ends the device’s DTLS sessions and registration: its next handshake fails, it returns to bootstrap and gets the new key there.',
        params: endpointParamSchema,
        body: {
          type: ['object', 'null'],
          additionalProperties: false,
          properties: {
            identity: { type: 'string', minLength: 1, maxLength: 128 },
            key: { type: 'string', pattern: '^([0-9a-fA-F]{2}){8,64}$', description: 'the key, hex (8–64 bytes)' },
          },
        },
        response: { 201: pskIssuedSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req, reply) => {
      const { endpoint } = req.params;
      const body = req.body ?? {};
      const rotated = psks.get(endpoint) !== undefined;
      try {
        const psk = psks.provision(endpoint, {
          ...(body.identity !== undefined ? { identity: body.identity } : {}),
          ...(body.key !== undefined ? { key: Buffer.from(body.key, 'hex') } : {}),
        });
        void reply.status(201);
        return { endpoint, identity: psk.identity, key: psk.key.toString('hex'), rotated, createdAt: new Date(psk.createdAt).toISOString() };
      } catch (err) {
        throw apiErrorOf(err);
      }
    },
  );

  app.delete<{ Params: Params }>(
    '/api/v1/devices/:endpoint/psk',
    {
      schema: {
        tags: ['devices'],
        summary: 'Remove the device’s pre-shared key (its DTLS sessions end; it is NoSec again unless lwm2m.security is psk)',
        params: endpointParamSchema,
        response: { 204: { type: 'null' }, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req, reply) => {
      if (!psks.remove(req.params.endpoint)) throw new ApiError(404, 'psk_not_found', `${req.params.endpoint} has no pre-shared key`);
      return reply.status(204).send();
    },
  );
}

function apiErrorOf(err: unknown): unknown {
  if (err instanceof PskIdentityTakenError) return new ApiError(409, 'psk_identity_taken', err.message);
  if (err instanceof PskRequestError) return err.kind === 'invalid' ? new ApiError(400, 'invalid_psk', err.message) : new ApiError(409, 'psk_conflict', err.message);
  if (err instanceof DeviceNotFoundError) return err;
  return err;
}
