import type { FastifyInstance } from 'fastify';
import { DEFAULT_ROLLOUT_POLICY, DELIVERIES, parseCanary, type Delivery, RolloutPolicyError, type RolloutPolicy } from '../../rollouts/rollout-policy.js';
import type { RolloutEngine, RolloutSummary } from '../../rollouts/rollout-engine.js';
import type { RolloutDevice } from '../../rollouts/rollout-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageQuerySchema, pageSchema, type PageQuery } from '../pagination.js';

interface CreateBody {
  firmware: string;
  target: string;
  canary?: number | string;
  batch?: number;
  successPct?: number;
  maxConcurrent?: number;
  ratePerMin?: number;
  abortFailurePct?: number;
  abortMinDevices?: number;
  timeoutSeconds?: number;
  deadline?: string;
  allowDowngrade?: boolean;
  maxAttempts?: number;
  delivery?: Delivery;
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

const rolloutView = (s: RolloutSummary) => ({
  id: s.id,
  firmwareId: s.firmwareId,
  target: s.target,
  state: s.state,
  reason: s.reason,
  policy: { ...s.policy, deadline: iso(s.policy.deadline) },
  total: s.total,
  counts: s.counts,
  currentBatch: s.currentBatch,
  bytesServed: s.bytesServed,
  createdAt: iso(s.createdAt),
  updatedAt: iso(s.updatedAt),
  finishedAt: iso(s.finishedAt),
});

const deviceView = (d: RolloutDevice) => ({
  endpoint: d.endpoint,
  batch: d.batch,
  state: d.state,
  updateResult: d.updateResult,
  reason: d.reason,
  attempts: d.attempts,
  fromVersion: d.fromVersion,
  startedAt: iso(d.startedAt),
  finishedAt: iso(d.finishedAt),
});

const rolloutSchema = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    firmwareId: { type: 'string' },
    target: { type: 'string' },
    state: { type: 'string' },
    reason: { type: ['string', 'null'] },
    policy: { type: 'object', additionalProperties: true },
    total: { type: 'integer' },
    counts: { type: 'object', additionalProperties: { type: 'integer' } },
    currentBatch: { type: ['integer', 'null'] },
    bytesServed: { type: 'integer' },
    createdAt: { type: 'string' },
    updatedAt: { type: 'string' },
    finishedAt: { type: ['string', 'null'] },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', minLength: 1, maxLength: 64 } } } as const;

const rolloutDeviceSchema = {
  type: 'object',
  properties: {
    endpoint: { type: 'string' },
    batch: { type: 'integer' },
    state: { type: 'string' },
    updateResult: { type: ['integer', 'null'] },
    reason: { type: ['string', 'null'] },
    attempts: { type: 'integer' },
    fromVersion: { type: ['string', 'null'] },
    startedAt: { type: ['string', 'null'] },
    finishedAt: { type: ['string', 'null'] },
  },
} as const;

/** Parses a deadline: an ISO time, or a duration from now such as 90m, 2h, 1d. */
export function parseDeadline(value: string, now = Date.now()): number {
  const d = /^(\d+)([smhd])$/.exec(value.trim());
  if (d) return now + Number(d[1]) * { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 }[d[2] as 's' | 'm' | 'h' | 'd'];
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new RolloutPolicyError(`deadline "${value}" is neither an ISO time nor a duration like 90m, 2h, 1d`);
  return t;
}

function policyFrom(body: CreateBody): RolloutPolicy {
  const d = DEFAULT_ROLLOUT_POLICY;
  return {
    canary: body.canary !== undefined ? parseCanary(body.canary) : d.canary,
    batchSize: body.batch ?? d.batchSize,
    successPct: body.successPct ?? d.successPct,
    maxConcurrent: body.maxConcurrent ?? d.maxConcurrent,
    ratePerMin: body.ratePerMin ?? d.ratePerMin,
    abortFailurePct: body.abortFailurePct ?? d.abortFailurePct,
    abortMinDevices: body.abortMinDevices ?? d.abortMinDevices,
    timeoutSeconds: body.timeoutSeconds ?? d.timeoutSeconds,
    deadline: body.deadline !== undefined ? parseDeadline(body.deadline) : d.deadline,
    allowDowngrade: body.allowDowngrade ?? d.allowDowngrade,
    maxAttempts: body.maxAttempts ?? d.maxAttempts,
    delivery: body.delivery ?? d.delivery,
  };
}

/** Staged firmware rollouts: create, follow, pause, resume, cancel. Progress also streams on /api/v1/events. */
export function rolloutRoutes(app: FastifyInstance, engine: RolloutEngine): void {
  app.post<{ Body: CreateBody }>(
    '/api/v1/rollouts',
    {
      schema: {
        tags: ['rollouts'],
        summary: 'Start a staged rollout of a firmware image to the devices a target selects',
        body: {
          type: 'object',
          required: ['firmware', 'target'],
          additionalProperties: false,
          properties: {
            firmware: { type: 'string', minLength: 1, description: 'the image id, `name@version`' },
            target: { type: 'string', minLength: 1, maxLength: 2048, description: 'a target expression (docs/targets.md)' },
            canary: { anyOf: [{ type: 'integer', minimum: 0 }, { type: 'string', maxLength: 16 }], description: 'devices in the canary batch: a count or a share such as `5%`' },
            batch: { type: 'integer', minimum: 1 },
            successPct: { type: 'number', minimum: 0, maximum: 100 },
            maxConcurrent: { type: 'integer', minimum: 1 },
            ratePerMin: { type: 'integer', minimum: 1 },
            abortFailurePct: { type: 'number', minimum: 0, maximum: 100 },
            abortMinDevices: { type: 'integer', minimum: 1 },
            timeoutSeconds: { type: 'integer', minimum: 1 },
            deadline: { type: 'string', description: 'an ISO time or a duration from now (90m, 2h, 1d)' },
            allowDowngrade: { type: 'boolean' },
            maxAttempts: { type: 'integer', minimum: 1, maximum: 20 },
            delivery: { type: 'string', enum: [...DELIVERIES] },
          },
        },
        response: { 201: rolloutSchema, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req, reply) => {
      const created = engine.create({ firmwareId: req.body.firmware, target: req.body.target, policy: policyFrom(req.body) });
      return reply.status(201).send(rolloutView(created));
    },
  );

  app.get<{ Querystring: PageQuery }>(
    '/api/v1/rollouts',
    {
      schema: {
        tags: ['rollouts'],
        summary: 'List rollouts with their progress, newest first',
        querystring: pageQuerySchema,
        response: { 200: pageSchema(rolloutSchema), 400: errorBodySchema },
      },
    },
    async (req) => {
      const { offset, limit } = req.query;
      const page = engine.listPage(offset, limit);
      return { items: page.items.map(rolloutView), total: page.total, offset, limit };
    },
  );

  app.get<{ Params: { id: string } }>(
    '/api/v1/rollouts/:id',
    { schema: { tags: ['rollouts'], summary: 'One rollout: state, policy, device counts by state', params: idParams, response: { 200: rolloutSchema, 404: errorBodySchema } } },
    async (req) => {
      const s = engine.summary(req.params.id);
      if (!s) throw new ApiError(404, 'not_found', `no rollout ${req.params.id}`);
      return rolloutView(s);
    },
  );

  app.get<{ Params: { id: string }; Querystring: PageQuery }>(
    '/api/v1/rollouts/:id/devices',
    {
      schema: {
        tags: ['rollouts'],
        summary: "A rollout's devices in target order: batch, state, Update Result, attempts",
        params: idParams,
        querystring: pageQuerySchema,
        response: { 200: pageSchema(rolloutDeviceSchema), 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const { offset, limit } = req.query;
      const page = engine.devicesPage(req.params.id, offset, limit);
      return { items: page.items.map(deviceView), total: page.total, offset, limit };
    },
  );

  const actionSummaries = {
    pause: 'Pause a rollout: no device starts until it resumes',
    resume: 'Resume a paused rollout',
    cancel: 'Cancel a rollout: devices not started yet end cancelled',
  } as const;
  for (const action of ['pause', 'resume', 'cancel'] as const) {
    app.post<{ Params: { id: string } }>(
      `/api/v1/rollouts/:id/${action}`,
      { schema: { tags: ['rollouts'], summary: actionSummaries[action], params: idParams, response: { 200: rolloutSchema, 404: errorBodySchema, 409: errorBodySchema } } },
      async (req) => rolloutView(engine[action](req.params.id)),
    );
  }
}
