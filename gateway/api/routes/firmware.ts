import type { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import type { Firmware, FirmwareRepository, Transfer } from '../../firmware/firmware-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { documentRawBody } from '../openapi.js';
import { pageOf, pageQueryProperties, pageQuerySchema, pageSchema, type PageQuery } from '../pagination.js';

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
      // The image is a stream, not parsed: the document says what it takes, no schema validates it.
      config: { swaggerTransform: documentRawBody({ 'application/octet-stream': { description: `the image, at most ${opts.maxImageBytes} bytes` } }) },
      schema: {
        tags: ['firmware'],
        summary: 'Add a firmware image (the raw body) to the repository; its manifest is signed with the operator key',
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
        response: { 201: firmwareSchema, 400: errorBodySchema, 409: errorBodySchema, 413: errorBodySchema, 415: errorBodySchema },
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

  app.get<{ Querystring: PageQuery }>(
    '/api/v1/firmware',
    {
      schema: {
        tags: ['firmware'],
        summary: 'List the firmware images, by name and age',
        querystring: pageQuerySchema,
        response: { 200: pageSchema(firmwareSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const page = pageOf(firmware.list(), req.query);
      return { ...page, items: page.items.map(firmwareView) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/firmware/:id',
    {
      schema: {
        tags: ['firmware'],
        summary: 'One firmware image',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 160, description: '`name@version`' } } },
        response: { 200: firmwareSchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const f = firmware.get(req.params.id);
      if (!f) throw new ApiError(404, 'firmware_not_found', `no firmware ${req.params.id}`);
      return firmwareView(f);
    },
  );

  app.get<{ Querystring: { endpoint?: string; rollout?: string } & PageQuery }>(
    '/api/v1/transfers',
    {
      schema: {
        tags: ['firmware'],
        summary: 'Firmware transfers with the bytes served through each, oldest first',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { endpoint: { type: 'string', maxLength: 128 }, rollout: { type: 'string', maxLength: 64 }, ...pageQueryProperties },
        },
        response: { 200: pageSchema(transferSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const { offset, limit } = req.query;
      const filter = { ...(req.query.endpoint ? { endpoint: req.query.endpoint } : {}), ...(req.query.rollout ? { rolloutId: req.query.rollout } : {}) };
      return { items: firmware.transfers({ ...filter, offset, limit }).map(transferView), total: firmware.countTransfers(filter), offset, limit };
    },
  );
}
