import type { FastifyInstance } from 'fastify';
import { InvalidPathError, LwM2mPath } from '../../../protocol/model/index.js';
import type { TimeSeriesStore } from '../../monitoring/timeseries-store.js';
import type { DeviceRepository } from '../../store/device-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { endpointParamSchema } from '../schemas.js';
import { parseRange } from '../time-range.js';

interface Query {
  path?: string;
  from?: string;
  to?: string;
  step?: number;
}

const pointSchema = {
  type: 'object',
  properties: { at: { type: 'string' }, value: { type: 'number' }, min: { type: 'number' }, max: { type: 'number' }, avg: { type: 'number' }, count: { type: 'integer' } },
} as const;

const DAY_MS = 86_400_000;

/** Performance management (Y.4702 8.3): a device's observed monitoring values over time, for charts. */
export function monitoringRoutes(app: FastifyInstance, store: TimeSeriesStore, devices: DeviceRepository): void {
  app.get<{ Params: { endpoint: string }; Querystring: Query }>(
    '/api/v1/devices/:endpoint/timeseries',
    {
      schema: {
        tags: ['monitoring'],
        summary: "A device's observed numeric values over time, per resource (min/max/avg per step)",
        params: endpointParamSchema,
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            path: { type: 'string', minLength: 1, maxLength: 64, description: 'one resource, e.g. /3/0/9; all when absent' },
            from: { type: 'string', maxLength: 64, description: 'ISO time, Unix ms, or a duration before now (`6h`); default 24 h ago' },
            to: { type: 'string', maxLength: 64, description: 'ISO time, Unix ms, or a duration before now; default now' },
            step: { type: 'integer', minimum: 1, maximum: 86_400, description: 'seconds per bucket; raw samples when absent' },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: {
              endpoint: { type: 'string' },
              from: { type: 'string' },
              to: { type: 'string' },
              step: { type: ['integer', 'null'] },
              series: { type: 'array', items: { type: 'object', properties: { path: { type: 'string' }, points: { type: 'array', items: pointSchema } } } },
            },
          },
          400: errorBodySchema,
          404: errorBodySchema,
        },
      },
    },
    async (req) => {
      const { endpoint } = req.params;
      if (!devices.get(endpoint)) throw new ApiError(404, 'device_not_found', `no device "${endpoint}" in the registry`);
      const { from, to } = parseRange(req.query, DAY_MS);
      let path: string | undefined;
      if (req.query.path !== undefined) {
        try {
          path = LwM2mPath.parse(req.query.path).toString();
        } catch (err) {
          throw new ApiError(400, 'invalid_path', err instanceof InvalidPathError ? err.message : `invalid path "${req.query.path}"`);
        }
      }
      const step = req.query.step;
      const series = store.query(endpoint, { ...(path ? { path } : {}), from, to, ...(step ? { step } : {}) });
      return {
        endpoint,
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        step: step ?? null,
        series: series.map((s) => ({ path: s.path, points: s.points.map((p) => ({ ...p, at: new Date(p.at).toISOString() })) })),
      };
    },
  );
}
