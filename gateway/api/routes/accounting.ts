import type { FastifyInstance } from 'fastify';
import { ledgerCsv } from '../../accounting/ledger-csv.js';
import type { TrafficLedger } from '../../accounting/traffic-ledger.js';
import { errorBodySchema } from '../errors.js';
import { parseRange } from '../time-range.js';

interface Query {
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
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            endpoint: { type: 'string', minLength: 1, maxLength: 128 },
            from: { type: 'string', maxLength: 64 },
            to: { type: 'string', maxLength: 64 },
            group: { type: 'string', enum: ['hour', 'day'], default: 'hour' },
            format: { type: 'string', enum: ['json', 'csv'] },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { from: { type: 'string' }, to: { type: 'string' }, group: { type: 'string' }, items: { type: 'array', items: rowSchema } },
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
      return {
        from: new Date(from).toISOString(),
        to: new Date(to).toISOString(),
        group: req.query.group,
        items: rows.map((r) => ({ ...r, period: new Date(r.period).toISOString() })),
      };
    },
  );
}
