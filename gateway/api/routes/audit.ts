import type { FastifyInstance } from 'fastify';
import { stringify } from 'csv-stringify';
import { Readable } from 'node:stream';
import type { AuditLog, AuditOutcome } from '../../audit/audit-log.js';
import { errorBodySchema } from '../errors.js';
import { parseTime } from '../time-range.js';

interface Query {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: AuditOutcome;
  from?: string;
  to?: string;
  format?: 'json' | 'csv';
  offset: number;
  limit: number;
}

const entrySchema = {
  type: 'object',
  required: ['id', 'at', 'actor', 'role', 'action', 'method', 'path', 'target', 'status', 'outcome'],
  properties: {
    id: { type: 'integer' },
    at: { type: 'string', format: 'date-time' },
    actor: { type: ['string', 'null'] },
    role: { type: ['string', 'null'] },
    action: { type: 'string' },
    method: { type: 'string' },
    path: { type: 'string' },
    target: { type: ['string', 'null'] },
    status: { type: 'integer' },
    outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
    source: { type: ['string', 'null'] },
    details: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;

const COLUMNS = ['id', 'at', 'actor', 'role', 'action', 'method', 'path', 'target', 'status', 'outcome', 'source', 'details'] as const;

/** The audit log: newest first, filtered, paginated; or all of it as CSV (`?format=csv` or `Accept: text/csv`), streamed. */
export function auditRoutes(app: FastifyInstance, audit: AuditLog): void {
  app.get<{ Querystring: Query }>(
    '/api/v1/audit',
    {
      schema: {
        tags: ['audit'],
        summary: 'The audit log of state-changing actions (who, when, what, target, result)',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            actor: { type: 'string', maxLength: 64 },
            action: { type: 'string', maxLength: 100, description: 'an action, or its prefix: `rollouts` matches rollouts.create, rollouts.pause…' },
            target: { type: 'string', maxLength: 1024 },
            outcome: { type: 'string', enum: ['success', 'failure', 'denied'] },
            from: { type: 'string', maxLength: 64 },
            to: { type: 'string', maxLength: 64 },
            format: { type: 'string', enum: ['json', 'csv'] },
            offset: { type: 'integer', minimum: 0, default: 0 },
            limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: entrySchema }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } },
          },
          400: errorBodySchema,
        },
      },
    },
    async (req, reply) => {
      const q = req.query;
      const filter = {
        ...(q.actor ? { actor: q.actor.toLowerCase() } : {}),
        ...(q.action ? { action: q.action } : {}),
        ...(q.target ? { target: q.target } : {}),
        ...(q.outcome ? { outcome: q.outcome } : {}),
        ...(q.from ? { from: parseTime(q.from, 'from', 0) } : {}),
        ...(q.to ? { to: parseTime(q.to, 'to', Date.now()) } : {}),
      };
      const csv = q.format === 'csv' || (q.format === undefined && /\btext\/csv\b/.test(req.headers.accept ?? ''));
      if (csv) {
        const rows = Readable.from(
          (function* () {
            for (const e of audit.export(filter)) yield COLUMNS.map((c) => (c === 'details' ? (e.details ? JSON.stringify(e.details) : '') : (e[c] ?? '')));
          })(),
        );
        return reply
          .header('content-type', 'text/csv; charset=utf-8')
          .header('content-disposition', 'attachment; filename="edgedm-audit.csv"')
          .send(rows.pipe(stringify({ header: true, columns: [...COLUMNS], record_delimiter: 'windows' })));
      }
      return { ...audit.query({ ...filter, offset: q.offset, limit: q.limit }), offset: q.offset, limit: q.limit };
    },
  );
}
