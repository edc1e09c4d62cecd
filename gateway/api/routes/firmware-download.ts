import { createReadStream } from 'node:fs';
import type { FastifyInstance } from 'fastify';
import parseRange from 'range-parser';
import { MANIFEST_SUFFIX } from '../../../protocol/firmware/index.js';
import type { FirmwareRepository } from '../../firmware/firmware-repository.js';
import { errorBodySchema } from '../errors.js';
import { PUBLIC_ROUTE } from '../openapi.js';

interface Params {
  transfer: string;
  file: string;
}

const binary = { schema: { type: 'string', format: 'binary' } } as const;

const signedManifestSchema = {
  type: 'object',
  required: ['manifest', 'signature'],
  properties: {
    manifest: {
      type: 'object',
      required: ['formatVersion', 'vendor', 'models', 'name', 'version', 'size', 'sha256', 'issuedAt'],
      properties: {
        formatVersion: { type: 'integer', enum: [1] },
        vendor: { type: 'string' },
        models: { type: 'array', items: { type: 'string' } },
        name: { type: 'string' },
        version: { type: 'string' },
        size: { type: 'integer' },
        sha256: { type: 'string', description: 'lower-case hex' },
        allowDowngrade: { type: 'boolean' },
        issuedAt: { type: 'string', format: 'date-time' },
      },
    },
    signature: { type: 'string', description: "Ed25519 over the manifest's canonical bytes, base64" },
  },
} as const;

const downloadSchema = {
  tags: ['firmware'],
  summary: 'What a device downloads: the image of a transfer (single byte ranges, If-Range), or its signed manifest',
  description:
    'The Package URI a rollout gives a device. The transfer id is the capability; bytes sent are counted per transfer. ' +
    '`{file}` is `{name}-{version}.bin` for the image and the same with `.manifest` for the signed manifest (JSON).',
  security: PUBLIC_ROUTE,
  params: {
    type: 'object',
    required: ['transfer', 'file'],
    properties: { transfer: { type: 'string', minLength: 1, maxLength: 128 }, file: { type: 'string', minLength: 1, maxLength: 256 } },
  },
  headers: {
    type: 'object',
    properties: {
      range: { type: 'string', description: 'one byte range (RFC 7233), e.g. `bytes=4096-`; several ranges get the whole image' },
      'if-range': { type: 'string', description: 'the ETag the device holds bytes of: the range applies only if the image is still that one' },
    },
  },
  response: {
    200: {
      description: 'The whole image, or the signed manifest',
      headers: {
        etag: { type: 'string', description: 'the image SHA-256, quoted' },
        'accept-ranges': { type: 'string', enum: ['bytes'] },
      },
      content: { 'application/octet-stream': binary, 'application/json': { schema: signedManifestSchema } },
    },
    206: {
      description: 'The byte range asked for',
      headers: { 'content-range': { type: 'string', description: '`bytes {start}-{end}/{size}`' }, etag: { type: 'string' } },
      content: { 'application/octet-stream': binary },
    },
    404: { description: 'No such transfer', ...errorBodySchema },
    416: { description: 'The range lies past the end of the image', type: 'null', headers: { 'content-range': { type: 'string', description: '`bytes */{size}`' } } },
  },
} as const;

/**
 * What devices fetch: `GET /fw/{transfer}/{name}-{version}.bin` (the Package URI) and the same
 * with `.manifest`. The transfer id is the capability; bytes actually sent are counted per
 * transfer. Single byte ranges (RFC 7233) with If-Range on the image's strong ETag, so a
 * device resumes where it stopped and never stitches two different images together.
 */
export function firmwareDownloadRoutes(app: FastifyInstance, firmware: FirmwareRepository): void {
  app.route<{ Params: Params }>({
    method: ['GET', 'HEAD'],
    url: '/fw/:transfer/:file',
    schema: downloadSchema,
    handler: async (req, reply) => {
      const transfer = firmware.transfer(req.params.transfer);
      const image = transfer && firmware.get(transfer.firmwareId);
      if (!transfer || !image) return reply.status(404).send({ error: { code: 'not_found', message: 'no such firmware transfer' } });

      if (req.params.file.endsWith(MANIFEST_SUFFIX)) {
        const body = JSON.stringify(firmware.manifest(image, { allowDowngrade: transfer.allowDowngrade }));
        return reply.header('cache-control', 'no-store').type('application/json').send(body);
      }

      const etag = `"${image.sha256}"`;
      void reply.header('accept-ranges', 'bytes').header('etag', etag).type('application/octet-stream');
      let start = 0;
      let end = image.size - 1;
      const rangeHeader = req.headers.range;
      const ifRange = req.headers['if-range'];
      if (rangeHeader && (ifRange === undefined || ifRange === etag)) {
        const ranges = parseRange(image.size, rangeHeader, { combine: true });
        if (ranges === -1) {
          return reply.status(416).header('content-range', `bytes */${image.size}`).send();
        }
        if (ranges !== -2 && ranges.type === 'bytes' && ranges.length === 1) {
          start = ranges[0]!.start;
          end = ranges[0]!.end;
          void reply.status(206).header('content-range', `bytes ${start}-${end}/${image.size}`);
        }
        // Malformed or multiple ranges: the whole image, as RFC 7233 allows.
      }
      void reply.header('content-length', end - start + 1);
      if (req.method === 'HEAD') return reply.send();

      const stream = createReadStream(firmware.imagePath(image), { start, end });
      const socket = req.raw.socket;
      const before = socket.bytesWritten;
      // Counted when the response ends or the device drops the link mid-way: what went onto the
      // socket, less the header, is what the device could have received.
      reply.raw.once('close', () => {
        const header = Buffer.byteLength((reply.raw as unknown as { _header?: string })._header ?? '');
        const body = reply.raw.writableFinished ? end - start + 1 : Math.max(0, socket.bytesWritten - before - header);
        firmware.countServed(transfer.id, Math.min(body, end - start + 1));
      });
      return reply.send(stream);
    },
  });
}
