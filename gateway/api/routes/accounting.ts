import type { FastifyInstance } from 'fastify';
import { ledgerCsv } from '../../accounting/ledger-csv.js';
import type { TrafficLedger } from '../../accounting/traffic-ledger.js';
import { errorBodySchema } from '../errors.js';
import { pageOf, pageQueryProperties, type PageQuery } from '../pagination.js';
import { parseRange } from '../time-range.js';

interface Query extends PageQuery {
  endpoint?: string;
  from?: string;
  to?: string;
  group: 'hour' | 'day';
  format?: 'json' | 'csv';
}

const rowSchema = {
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    period: { type: 'string' },
    transport: { type: 'string' },
    messagesIn: { type: 'integer' },
    messagesOut: { type: 'integer' },
    bytesIn: { type: 'integer' },
    bytesOut: { type: 'integer' },
    firmwareBytes: { type: 'integer' },
    operations: { type: 'object', additionalProperties: { type: 'integer' } },
  },
} as const;

const DAY_MS = 86_400_000;

/** Accounting (Y.4702 8.7): the per-device ledger by period, as JSON or (`Accept: text/csv` or `?format=csv`) CSV. */
export function accountingRoutes(app: FastifyInstance, ledger: TrafficLedger): void {
  app.get<{ Querystring: Query }>(
    '/api/v1/accounting',
    {
      schema: {
        tags: ['accounting'],
        summary: 'The accounting ledger by device, period and transport, as JSON (paged) or CSV (whole)',
        description: 'CSV with `format=csv` or `Accept: text/csv`: every row of the range in one download; `offset` and `limit` page the JSON only.',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            endpoint: { type: 'string', minLength: 1, maxLength: 128 },
            from: { type: 'string', maxLength: 64, description: 'ISO time, Unix ms, or a duration before now (`24h`); default a day ago' },
            to: { type: 'string', maxLength: 64, description: 'ISO time, Unix ms, or a duration before now; default now' },
            group: { type: 'string', enum: ['hour', 'day'], default: 'hour' },
            format: { type: 'string', enum: ['json', 'csv'] },
            ...pageQueryProperties,
          },
        },
        response: {
          200: {
            description: 'The ledger rows of the range',
            content: {
              'application/json': {
                schema: {
                  type: 'object',
                  required: ['from', 'to', 'group', 'items', 'total', 'offset', 'limit'],
                  properties: {
                    from: { type: 'string', format: 'date-time' },
                    to: { type: 'string', format: 'date-time' },
                    group: { type: 'string' },
                    items: { type: 'array', items: rowSchema },
                    total: { type: 'integer' },
                    offset: { type: 'integer' },
                    limit: { type: 'integer' },
                  },
                },
              },
              'text/csv': { schema: { type: 'string', description: 'a header line, then one line per row' } },
            },
          },
          400: errorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const { from, to } = parseRange(req.query, DAY_MS);
      const rows = ledger.query({ ...(req.query.endpoint ? { endpoint: req.query.endpoint } : {}), from, to, group: req.query.group });
      const csv = req.query.format === 'csv' || (req.query.format === undefined && /\btext\/csv\b/.test(req.headers.accept ?? ''));
      if (csv) {
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="edgedm-accounting.csv"')
          .send(ledgerCsv(rows));
      }
      const page = pageOf(rows, req.query);
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        group: req.query.group,
        ...page,
        items: page.items.map((r) => ({ ...r, period: new Date(r.period).toISOString() })),
      };
    },
  );
}
