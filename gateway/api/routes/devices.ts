import type { FastifyInstance } from 'fastify';
import { parseFactoryCsv } from '../../fleet/factory-import.js';
import type { DeviceService } from '../../fleet/device-service.js';
import { DeviceNotFoundError } from '../../store/device-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageQueryProperties, pageSchema, type PageQuery } from '../pagination.js';
import { deviceSchema, endpointParamSchema } from '../schemas.js';
import { deviceView } from '../views.js';

interface Params {
  endpoint: string;
}

const labelChangeSchema = {
  type: 'object',
  additionalProperties: false,
  minProperties: 1,
  properties: {
    set: { type: 'array', items: { type: 'string' }, maxItems: 256 },
    add: { type: 'array', items: { type: 'string' }, maxItems: 256 },
    remove: { type: 'array', items: { type: 'string' }, maxItems: 256 },
  },
} as const;

export function deviceRoutes(app: FastifyInstance, devices: DeviceService): void {
  app.get<{ Querystring: { target?: string } & PageQuery }>(
    '/api/v1/devices',
    {
      schema: {
        tags: ['devices'],
        summary: 'List devices, optionally those a target expression selects',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            target: { type: 'string', maxLength: 2048, description: 'a target expression (docs/targets.md), e.g. `group:north status:online`' },
            ...pageQueryProperties,
          },
        },
        response: { 200: pageSchema(deviceSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const page = devices.list(req.query.target, req.query.offset, req.query.limit);
      return { ...page, items: page.items.map(deviceView) };
    },
  );

  app.get<{ Params: Params }>(
    '/api/v1/devices/:endpoint',
    { schema: { tags: ['devices'], summary: 'One device', params: endpointParamSchema, response: { 200: deviceSchema, 400: errorBodySchema, 404: errorBodySchema } } },
    async (req) => {
      const device = devices.get(req.params.endpoint);
      if (!device) throw new DeviceNotFoundError(req.params.endpoint);
      return deviceView(device);
    },
  );

  for (const kind of ['tags', 'groups'] as const) {
    app.post<{ Params: Params; Body: { set?: string[]; add?: string[]; remove?: string[] } }>(
      `/api/v1/devices/:endpoint/${kind}`,
      {
        schema: {
          tags: ['devices'],
          summary: `Set, add or remove the device's ${kind}`,
          params: endpointParamSchema,
          body: labelChangeSchema,
          response: { 200: deviceSchema, 400: errorBodySchema, 404: errorBodySchema },
        },
      },
      async (req) => deviceView(devices.updateLabels(req.params.endpoint, { kind, ...req.body })),
    );
  }

  app.post<{ Params: Params }>(
    '/api/v1/devices/:endpoint/decommission',
    {
      schema: {
        tags: ['devices'],
        summary: 'Decommission a device: revoke its credentials and close its session',
        params: endpointParamSchema,
        response: { 200: deviceSchema, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => deviceView(devices.decommission(req.params.endpoint)),
  );

  // Factory identities as CSV (text/csv) or as {"csv": "..."}; nothing is imported when any line is bad.
  app.post<{ Body: string | { csv: string } }>(
    '/api/v1/devices/import',
    {
      bodyLimit: 16 * 1024 * 1024,
      schema: {
        tags: ['devices'],
        summary: 'Import factory identities from CSV; all or nothing',
        description: 'Lines `endpoint,secret[,model][,tags][,groups]`, tags and groups separated by `;`. Nothing is imported when any line is bad (400 `invalid_csv`, the lines in `details`).',
        body: {
          content: {
            'text/csv': { schema: { type: 'string', minLength: 1 } },
            'application/json': {
              schema: { type: 'object', required: ['csv'], additionalProperties: false, properties: { csv: { type: 'string', minLength: 1 } } },
            },
          },
        },
        response: {
          200: {
            type: 'object',
            required: ['created', 'updated'],
            properties: { created: { type: 'integer' }, updated: { type: 'integer' } },
          },
          400: errorBodySchema,
        },
      },
    },
    async (req) => {
      const text = typeof req.body === 'string' ? req.body : req.body?.csv;
      if (typeof text !== 'string' || text.trim() === '') {
        throw new ApiError(400, 'invalid_request', 'send the factory CSV as text/csv, or as JSON {"csv": "..."}');
      }
      const parsed = parseFactoryCsv(text);
      if (parsed.errors.length > 0) {
        throw new ApiError(400, 'invalid_csv', `${parsed.errors.length} line(s) rejected; nothing imported`, parsed.errors);
      }
      return devices.importFactoryIdentities(parsed.rows);
    },
  );
}
