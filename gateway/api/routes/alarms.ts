import type { FastifyInstance } from 'fastify';
import { AlarmError, type AlarmEngine } from '../../alarms/alarm-engine.js';
import { ALARM_RULE_KINDS, ALARM_SEVERITIES, AlarmRuleError, VALUE_OPERATORS, type AlarmRule, type AlarmRuleInput, type AlarmSeverity } from '../../alarms/alarm-rules.js';
import { ALARM_STATES, type AlarmState } from '../../alarms/alarm-view.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageOf, pageQueryProperties, pageQuerySchema, pageSchema, type PageQuery } from '../pagination.js';

const nullableString = { type: ['string', 'null'] } as const;

export const alarmSchema = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    ruleId: { type: 'string' },
    ruleName: { type: 'string' },
    endpoint: { type: 'string' },
    severity: { type: 'string' },
    state: { type: 'string' },
    message: { type: 'string' },
    value: {},
    raisedAt: { type: 'string' },
    acknowledgedAt: nullableString,
    acknowledgedBy: nullableString,
    clearedAt: nullableString,
    clearReason: nullableString,
  },
} as const;

const ruleSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string' },
    severity: { type: 'string' },
    enabled: { type: 'boolean' },
    path: { type: 'string' },
    op: { type: 'string' },
    threshold: { type: 'number' },
    hysteresis: { type: 'number' },
    afterSeconds: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
  },
} as const;

const ruleBodySchema = {
  type: 'object',
  required: ['name', 'kind', 'severity'],
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 200 },
    kind: { type: 'string', enum: [...ALARM_RULE_KINDS] },
    severity: { type: 'string', enum: [...ALARM_SEVERITIES] },
    enabled: { type: 'boolean' },
    path: { type: 'string', minLength: 1, maxLength: 64 },
    op: { type: 'string', enum: [...VALUE_OPERATORS] },
    threshold: { type: 'number' },
    hysteresis: { type: 'number', minimum: 0 },
    afterSeconds: { type: 'integer', minimum: 1, maximum: 31_536_000 },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const alarmIdParams = { type: 'object', required: ['id'], properties: { id: { type: 'integer', minimum: 1 } } } as const;

/** The API's flat view of a rule: the kind's parameters beside the common fields. */
function ruleView(r: AlarmRule) {
  return { id: r.id, name: r.name, kind: r.kind, severity: r.severity, enabled: r.enabled, ...r.params, createdAt: new Date(r.createdAt).toISOString(), updatedAt: new Date(r.updatedAt).toISOString() };
}

/** Alarm and rule errors as API errors: 400 for a bad rule, 404 unknown, 409 not in a state to act on. */
function asApiError(err: unknown): unknown {
  if (err instanceof AlarmRuleError) return err.kind === 'invalid' ? new ApiError(400, 'invalid_alarm_rule', err.message) : new ApiError(404, 'not_found', err.message);
  if (err instanceof AlarmError) return err.kind === 'conflict' ? new ApiError(409, 'alarm_conflict', err.message) : new ApiError(404, 'not_found', err.message);
  return err;
}

function guarded<T>(run: () => T): T {
  try {
    return run();
  } catch (err) {
    throw asApiError(err);
  }
}

/** Fault management (Y.4702 8.2): alarms and their rules. Changes also stream on /api/v1/events as `alarm.*`. */
export function alarmRoutes(app: FastifyInstance, engine: AlarmEngine): void {
  app.get<{ Querystring: { state?: AlarmState; severity?: AlarmSeverity; endpoint?: string; offset: number; limit: number } }>(
    '/api/v1/alarms',
    {
      schema: {
        tags: ['alarms'],
        summary: 'List alarms, newest first, by state, severity and device',
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: {
            state: { type: 'string', enum: [...ALARM_STATES] },
            severity: { type: 'string', enum: [...ALARM_SEVERITIES] },
            endpoint: { type: 'string', minLength: 1, maxLength: 128 },
            ...pageQueryProperties,
          },
        },
        response: { 200: pageSchema(alarmSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const { state, severity, endpoint, offset, limit } = req.query;
      const { items, total } = engine.list({ ...(state ? { state } : {}), ...(severity ? { severity } : {}), ...(endpoint ? { endpoint } : {}), offset, limit });
      return { items, total, offset, limit };
    },
  );

  app.get<{ Params: { id: number } }>(
    '/api/v1/alarms/:id',
    { schema: { tags: ['alarms'], summary: 'One alarm', params: alarmIdParams, response: { 200: alarmSchema, 400: errorBodySchema, 404: errorBodySchema } } },
    async (req) => {
      const alarm = engine.get(req.params.id);
      if (!alarm) throw new ApiError(404, 'not_found', `no alarm ${req.params.id}`);
      return alarm;
    },
  );

  // Who acknowledges or clears is the authenticated operator, never a name the request claims.
  app.post<{ Params: { id: number } }>(
    '/api/v1/alarms/:id/acknowledge',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Acknowledge an active alarm',
        params: alarmIdParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
        response: { 200: alarmSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req) => guarded(() => engine.acknowledge(req.params.id, req.principal!.username)),
  );

  // Clearing by hand: for a condition the rules cannot see end (the next evaluation raises anew if it holds).
  app.post<{ Params: { id: number } }>(
    '/api/v1/alarms/:id/clear',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Clear an open alarm by hand (raised anew if its condition still holds)',
        params: alarmIdParams,
        body: { type: ['object', 'null'], additionalProperties: false, properties: {} },
        response: { 200: alarmSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req) => guarded(() => engine.clearByOperator(req.params.id, req.principal!.username)),
  );

  app.get<{ Querystring: PageQuery }>(
    '/api/v1/alarm-rules',
    {
      schema: {
        tags: ['alarms'],
        summary: 'List alarm rules',
        querystring: pageQuerySchema,
        response: { 200: pageSchema(ruleSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const page = pageOf(engine.listRules(), req.query);
      return { ...page, items: page.items.map(ruleView) };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/alarm-rules/:id',
    { schema: { tags: ['alarms'], summary: 'One alarm rule', params: idParams, response: { 200: ruleSchema, 404: errorBodySchema } } },
    async (req) => {
      const rule = engine.getRule(req.params.id);
      if (!rule) throw new ApiError(404, 'not_found', `no alarm rule ${req.params.id}`);
      return ruleView(rule);
    },
  );

  app.post<{ Body: AlarmRuleInput }>(
    '/api/v1/alarm-rules',
    { schema: { tags: ['alarms'], summary: 'Create an alarm rule', body: ruleBodySchema, response: { 201: ruleSchema, 400: errorBodySchema } } },
    async (req, reply) => reply.status(201).send(ruleView(guarded(() => engine.createRule(req.body)))),
  );

  app.put<{ Params: { id: string }; Body: AlarmRuleInput }>(
    '/api/v1/alarm-rules/:id',
    {
      schema: {
        tags: ['alarms'],
        summary: 'Replace an alarm rule',
        params: idParams,
        body: ruleBodySchema,
        response: { 200: ruleSchema, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => ruleView(guarded(() => engine.replaceRule(req.params.id, req.body))),
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/alarm-rules/:id',
    { schema: { tags: ['alarms'], summary: 'Delete an alarm rule', params: idParams, response: { 204: { type: 'null', description: 'Deleted' }, 404: errorBodySchema } } },
    async (req, reply) => {
      guarded(() => engine.deleteRule(req.params.id));
      return reply.status(204).send();
    },
  );
}
