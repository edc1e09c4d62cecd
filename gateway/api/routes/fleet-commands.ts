import type { FastifyInstance } from 'fastify';
import { LwM2mPath, recordToJson, type NotificationAttributes, type ResourceType } from '../../../protocol/model/index.js';
import { COMMAND_STATES, type CommandState } from '../../../protocol/states.js';
import { FLEET_ACTIONS } from '../../commands/command-spec.js';
import type { CommandDevice } from '../../commands/command-repository.js';
import { POLICY_LIMITS, type FleetCommandDetail, type FleetCommandEngine, type FleetCommandSummary } from '../../commands/fleet-commands.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageQueryProperties, pageSchema } from '../pagination.js';
import { writeContent } from './operations.js';

interface CreateBody {
  target: string;
  operation: string;
  path?: string;
  value?: unknown;
  type?: ResourceType;
  mode?: 'replace' | 'update';
  args?: string;
  attributes?: NotificationAttributes;
  ttlSeconds?: number;
  maxConcurrent?: number;
  ratePerMin?: number;
  timeoutMs?: number;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const summaryView = (s: FleetCommandSummary) => ({
  id: s.id,
  target: s.target,
  operation: s.spec.action,
  path: s.spec.path,
  steps: s.spec.steps.map((step) => `${step.kind} ${step.path}`),
  state: s.state,
  reason: s.reason,
  policy: s.policy,
  total: s.total,
  counts: s.counts,
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
  expiresAt: iso(s.expiresAt),
  finishedAt: iso(s.finishedAt),
});

const detailView = (d: FleetCommandDetail) => ({ ...summaryView(d), aggregate: d.aggregate });

const deviceView = (d: CommandDevice) => ({
  endpoint: d.endpoint,
  state: d.state,
  attempts: d.attempts,
  reason: d.reason,
  result: d.result,
  queuedAt: iso(d.queuedAt),
  sentAt: iso(d.sentAt),
  finishedAt: iso(d.finishedAt),
  expiresAt: iso(d.expiresAt),
});

const nullableTime = { type: ['string', 'null'] } as const;
const commandSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    target: { type: 'string' },
    operation: { type: 'string' },
    path: { type: ['string', 'null'] },
    steps: { type: 'array', items: { type: 'string' } },
    state: { type: 'string' },
    reason: { type: ['string', 'null'] },
    policy: {
      type: 'object',
      properties: {
        ttlSeconds: { type: 'integer' },
        maxConcurrent: { type: 'integer' },
        ratePerMin: { type: ['integer', 'null'] },
        timeoutMs: { type: 'integer' },
        maxAttempts: { type: 'integer' },
      },
    },
    total: { type: 'integer' },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    expiresAt: { type: 'string' },
    finishedAt: nullableTime,
  },
} as const;
const commandDetailSchema = { ...commandSchema, properties: { ...commandSchema.properties, aggregate: {} } } as const;

const commandDeviceSchema = {
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    state: { type: 'string' },
    attempts: { type: 'integer' },
    reason: { type: ['string', 'null'] },
    // Per-step codes, messages and values: free-form by operation.
    result: {},
    queuedAt: { type: 'string' },
    sentAt: nullableTime,
    finishedAt: nullableTime,
    expiresAt: { type: 'string' },
  },
} as const;

const page = (items: object) => pageSchema(items);
const paging = pageQueryProperties;
const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const limit = (key: keyof typeof POLICY_LIMITS) => ({ type: 'integer', minimum: POLICY_LIMITS[key].min, maximum: POLICY_LIMITS[key].max });

/**
 * Fleet commands: one model operation or built-in job over the devices a target selects, kept
 * in a durable per-device queue. Progress also streams on /api/v1/events
 * (`fleet.command.progress`, `fleet.command.device`).
 */
export function fleetCommandRoutes(app: FastifyInstance, engine: FleetCommandEngine): void {
  app.post<{ Body: CreateBody }>(
    '/api/v1/fleet/commands',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: 'Create a fleet command: one operation or job for every device a target selects, queued for those away',
        body: {
          type: 'object',
          required: ['target', 'operation'],
          additionalProperties: false,
          properties: {
            target: { type: 'string', minLength: 1, maxLength: 2048 },
            operation: { type: 'string', enum: [...FLEET_ACTIONS] },
            path: { type: 'string', minLength: 1, maxLength: 64 },
            value: {},
            type: { type: 'string' },
            mode: { type: 'string', enum: ['replace', 'update'] },
            args: { type: 'string', maxLength: 1024 },
            attributes: {
              type: 'object',
              additionalProperties: false,
              properties: { pmin: { type: 'integer', minimum: 0 }, pmax: { type: 'integer', minimum: 1 }, gt: { type: 'number' }, lt: { type: 'number' }, st: { type: 'number', minimum: 0 } },
            },
            ttlSeconds: limit('ttlSeconds'),
            maxConcurrent: limit('maxConcurrent'),
            ratePerMin: limit('ratePerMin'),
            timeoutMs: limit('timeoutMs'),
          },
        },
        response: { 201: commandSchema, 400: errorBodySchema },
      },
    },
    async (req, reply) => {
      const b = req.body;
      if (b.value !== undefined && b.operation !== 'write') throw new ApiError(400, 'invalid_command', `${b.operation} takes no value`);
      if (b.operation === 'write' && b.value === undefined) throw new ApiError(400, 'invalid_command', 'write needs a value');
      // A write's value is typed by the object registry here, once, not on every device.
      const content = b.operation === 'write' && b.path !== undefined ? writeContent(LwM2mPath.parse(b.path), b.value, b.type).map(recordToJson) : undefined;
      const created = engine.create({
        target: b.target,
        command: {
          action: b.operation,
          ...(b.path !== undefined ? { path: b.path } : {}),
          ...(content ? { content } : {}),
          ...(b.mode ? { mode: b.mode } : {}),
          ...(b.args !== undefined ? { args: b.args } : {}),
          ...(b.attributes ? { attributes: b.attributes } : {}),
        },
        policy: { ttlSeconds: b.ttlSeconds, maxConcurrent: b.maxConcurrent, ratePerMin: b.ratePerMin, timeoutMs: b.timeoutMs },
      });
      return reply.status(201).send(summaryView(created));
    },
  );

  app.get<{ Querystring: { offset: number; limit: number } }>(
    '/api/v1/fleet/commands',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: 'List fleet commands with their device counts, newest first',
        querystring: { type: 'object', additionalProperties: false, properties: paging },
        response: { 200: page(commandSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const { items, total } = engine.list(req.query.offset, req.query.limit);
      return { items: items.map(summaryView), total, offset: req.query.offset, limit: req.query.limit };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/fleet/commands/:id',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: 'One fleet command: counts by state and the results summed over the fleet',
        params: idParams,
        response: { 200: commandDetailSchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const detail = engine.detail(req.params.id);
      if (!detail) throw new ApiError(404, 'not_found', `no fleet command ${req.params.id}`);
      return detailView(detail);
    },
  );

  app.get<{ Params: { id: string }; Querystring: { state?: CommandState; offset: number; limit: number } }>(
    '/api/v1/fleet/commands/:id/devices',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: "A fleet command's devices: state, attempts, reason, result",
        params: idParams,
        querystring: { type: 'object', additionalProperties: false, properties: { state: { type: 'string', enum: [...COMMAND_STATES] }, ...paging } },
        response: { 200: page(commandDeviceSchema), 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const { state, offset, limit: max } = req.query;
      const { items, total } = engine.devices(req.params.id, { ...(state ? { state } : {}), offset, limit: max });
      return { items: items.map(deviceView), total, offset, limit: max };
    },
  );

  // One device's side: every command that included it (its history and what it still has queued), newest first.
  app.get<{ Params: { endpoint: string }; Querystring: { offset: number; limit: number } }>(
    '/api/v1/devices/:endpoint/fleet-commands',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: "A device's fleet commands, newest first: its history and its queue, with its own state in each",
        params: { type: 'object', required: ['endpoint'], properties: { endpoint: { type: 'string', minLength: 1, maxLength: 128 } } },
        querystring: { type: 'object', additionalProperties: false, properties: paging },
        response: { 200: page({ ...commandSchema, properties: { ...commandSchema.properties, device: commandDeviceSchema } }), 400: errorBodySchema },
      },
    },
    async (req) => {
      const { offset, limit: max } = req.query;
      const { items, total } = engine.ofDevice(req.params.endpoint, offset, max);
      return { items: items.map((i) => ({ ...summaryView(i.command), device: deviceView(i.device) })), total, offset, limit: max };
    },
  );

  app.post<{ Params: { id: string } }>(
    '/api/v1/fleet/commands/:id/cancel',
    {
      schema: {
        tags: ['fleet-commands'],
        summary: 'Cancel what of a fleet command is not sent yet',
        params: idParams,
        response: { 200: commandSchema, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req) => summaryView(engine.cancel(req.params.id)),
  );
}
