import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Firmware, FirmwareRepository, Transfer } from '../../firmware/firmware-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';

export const firmwareSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    version: { type: 'string' },
    vendor: { type: 'string' },
    models: { type: 'array', items: { type: 'string' } },
    size: { type: 'integer' },
    sha256: { type: 'string' },
    createdAt: { type: 'string' },
  },
} as const;

const transferSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    firmwareId: { type: 'string' },
    endpoint: { type: 'string' },
    rolloutId: { type: ['string', 'null'] },
    transport: { type: 'string' },
    allowDowngrade: { type: 'boolean' },
    bytesServed: { type: 'integer' },
    requests: { type: 'integer' },
    createdAt: { type: 'string' },
    lastRequestAt: { type: ['string', 'null'] },
  },
} as const;

export const firmwareView = (f: Firmware) => ({ ...f, createdAt: new Date(f.createdAt).toISOString() });
const transferView = (t: Transfer) => ({
  ...t,
  createdAt: new Date(t.createdAt).toISOString(),
  lastRequestAt: t.lastRequestAt === null ? null : new Date(t.lastRequestAt).toISOString(),
});

/** The firmware repository's API: upload (raw body), list, show, and per-transfer byte counters. */
export function firmwareRoutes(app: FastifyInstance, firmware: FirmwareRepository, opts: { maxImageBytes: number; vendor: string }): void {
  // The image streams to disk while it is hashed; it is never held in memory whole.
  app.addContentTypeParser('application/octet-stream', (_req, payload, done) => done(null, payload));

  app.post<{ Querystring: { name: string; version: string; model: string; vendor?: string } }>(
    '/api/v1/firmware',
    {
      schema: {
        querystring: {
          type: 'object',
          required: ['name', 'version', 'model'],
          additionalProperties: false,
          properties: {
            name: { type: 'string', minLength: 1, maxLength: 64 },
            version: { type: 'string', minLength: 1, maxLength: 64 },
            model: { type: 'string', minLength: 1, maxLength: 1024, description: 'comma-separated device models' },
            vendor: { type: 'string', minLength: 1, maxLength: 128 },
          },
        },
        response: { 201: firmwareSchema, 400: errorBodySchema, 409: errorBodySchema, 415: errorBodySchema },
      },
    },
    async (req, reply) => {
      if (!req.headers['content-type']?.startsWith('application/octet-stream')) {
        throw new ApiError(415, 'unsupported_media_type', 'send the image as application/octet-stream');
      }
      const added = await firmware.add(
        req.body as Readable,
        { name: req.query.name, version: req.query.version, models: req.query.model.split(','), vendor: req.query.vendor ?? opts.vendor },
        opts.maxImageBytes,
      );
      return reply.status(201).send(firmwareView(added));
    },
  );

  app.get('/api/v1/firmware', { schema: { response: { 200: { type: 'object', properties: { items: { type: 'array', items: firmwareSchema } } } } } }, async () => ({
    items: firmware.list().map(firmwareView),
  }));

  app.get<{ Params: { id: string } }>(
    '/api/v1/firmware/:id',
    { schema: { response: { 200: firmwareSchema, 404: errorBodySchema } } },
    async (req) => {
      const f = firmware.get(req.params.id);
      if (!f) throw new ApiError(404, 'firmware_not_found', `no firmware ${req.params.id}`);
      return firmwareView(f);
    },
  );

  app.get<{ Querystring: { endpoint?: string; rollout?: string } }>(
    '/api/v1/transfers',
    {
      schema: {
        querystring: { type: 'object', additionalProperties: false, properties: { endpoint: { type: 'string' }, rollout: { type: 'string' } } },
        response: { 200: { type: 'object', properties: { items: { type: 'array', items: transferSchema } } } },
      },
    },
    async (req) => ({
      items: firmware
        .transfers({ ...(req.query.endpoint ? { endpoint: req.query.endpoint } : {}), ...(req.query.rollout ? { rolloutId: req.query.rollout } : {}) })
        .map(transferView),
    }),
  );
}
