/**
 * How the image reaches a device: pulled over HTTP or CoAP from the gateway (Package URI),
 * or pushed in blocks over the device's own DM link (Package).
 */
export const DELIVERIES = ['http', 'coap', 'push'] as const;
export type Delivery = (typeof DELIVERIES)[number];

/**
 * How a rollout proceeds: canary, batches, pacing and abort criteria. Pure functions only, so
 * the rules are tested without devices.
 */
export interface RolloutPolicy {
  /** Devices in the canary phase: a count, or a percentage of the target. 0 means none. */
  canary: { count: number } | { percent: number };
  /** Devices per batch after the canary; null puts the rest in one batch. */
  batchSize: number | null;
  /** The next batch starts only when at least this share of the previous one succeeded. */
  successPct: number;
  maxConcurrent: number;
  /** Device updates started per minute at most; null for no limit. */
  ratePerMin: number | null;
  /** Abort once this share of the finished devices failed… */
  abortFailurePct: number | null;
  /** …and at least this many have finished (AWS IoT Jobs abort-criteria semantics). */
  abortMinDevices: number;
  /** A device that has not finished this long after its start times out. */
  timeoutSeconds: number;
  /** Devices not done by then: timed out, or skipped if they never came online. Epoch ms. */
  deadline: number | null;
  allowDowngrade: boolean;
  /** Attempts per device for transient failures (connection lost). */
  maxAttempts: number;
  delivery: Delivery;
}

export const DEFAULT_ROLLOUT_POLICY: RolloutPolicy = {
  canary: { count: 0 },
  batchSize: null,
  successPct: 80,
  maxConcurrent: 50,
  ratePerMin: null,
  abortFailurePct: null,
  abortMinDevices: 10,
  timeoutSeconds: 3600,
  deadline: null,
  allowDowngrade: false,
  maxAttempts: 3,
  delivery: 'http',
};

export const DEVICE_UPDATE_STATES = [
  'queued',
  'waiting-offline',
  'downloading',
  'downloaded',
  'updating',
  'succeeded',
  'failed',
  'timed-out',
  'cancelled',
  'skipped-offline',
] as const;
export type DeviceUpdateState = (typeof DEVICE_UPDATE_STATES)[number];

export const TERMINAL_DEVICE_STATES: ReadonlySet<DeviceUpdateState> = new Set(['succeeded', 'failed', 'timed-out', 'cancelled', 'skipped-offline']);
/** Devices whose update ran to an outcome: what abort criteria and batch gates count. */
export const FINISHED_DEVICE_STATES: ReadonlySet<DeviceUpdateState> = new Set(['succeeded', 'failed', 'timed-out']);
export const NOT_STARTED_STATES: ReadonlySet<DeviceUpdateState> = new Set(['queued', 'waiting-offline']);

export const ROLLOUT_STATES = ['running', 'paused', 'completed', 'aborted', 'cancelled'] as const;
export type RolloutState = (typeof ROLLOUT_STATES)[number];

export class RolloutPolicyError extends Error {}

/** Batch number per device, in target order: batch 0 is the canary when there is one. */
export function planBatches(count: number, policy: RolloutPolicy): number[] {
  const canary = 'count' in policy.canary ? policy.canary.count : Math.ceil((count * policy.canary.percent) / 100);
  const canarySize = Math.min(count, Math.max(0, canary));
  const batches: number[] = [];
  for (let i = 0; i < count; i++) {
    if (i < canarySize) batches.push(0);
    else {
      const rest = i - canarySize;
      const offset = canarySize > 0 ? 1 : 0;
      batches.push(offset + (policy.batchSize ? Math.floor(rest / policy.batchSize) : 0));
    }
  }
  return batches;
}

export interface Tally {
  total: number;
  succeeded: number;
  failed: number;
  timedOut: number;
  finished: number;
  terminal: number;
}

export function tally(states: Iterable<DeviceUpdateState>): Tally {
  const t: Tally = { total: 0, succeeded: 0, failed: 0, timedOut: 0, finished: 0, terminal: 0 };
  for (const s of states) {
    t.total++;
    if (s === 'succeeded') t.succeeded++;
    if (s === 'failed') t.failed++;
    if (s === 'timed-out') t.timedOut++;
    if (FINISHED_DEVICE_STATES.has(s)) t.finished++;
    if (TERMINAL_DEVICE_STATES.has(s)) t.terminal++;
  }
  return t;
}

/** The abort criterion: a reason when it is met, undefined otherwise. */
export function abortReason(overall: Tally, policy: RolloutPolicy): string | undefined {
  if (policy.abortFailurePct === null || overall.finished < policy.abortMinDevices || overall.finished === 0) return undefined;
  const failedPct = ((overall.failed + overall.timedOut) / overall.finished) * 100;
  if (failedPct >= policy.abortFailurePct) {
    return `${overall.failed + overall.timedOut} of ${overall.finished} finished devices failed (${failedPct.toFixed(1)} % ≥ ${policy.abortFailurePct} %)`;
  }
  return undefined;
}

/** The batch gate: a reason to stop when a finished batch fell short of the success share. */
export function batchGateFailure(batch: number, batchTally: Tally, policy: RolloutPolicy): string | undefined {
  if (batchTally.total === 0) return undefined;
  const pct = (batchTally.succeeded / batchTally.total) * 100;
  if (pct + 1e-9 < policy.successPct) {
    return `batch ${batch}${batch === 0 ? ' (canary)' : ''}: ${batchTally.succeeded} of ${batchTally.total} succeeded (${pct.toFixed(1)} % < ${policy.successPct} %)`;
  }
  return undefined;
}

/** Validates a policy assembled from user input; throws RolloutPolicyError with the first problem. */
export function validatePolicy(p: RolloutPolicy): RolloutPolicy {
  const int = (name: string, v: number, min: number) => {
    if (!Number.isSafeInteger(v) || v < min) throw new RolloutPolicyError(`${name} must be an integer ≥ ${min}`);
  };
  const pct = (name: string, v: number) => {
    if (!(v >= 0 && v <= 100)) throw new RolloutPolicyError(`${name} must be a percentage between 0 and 100`);
  };
  if ('count' in p.canary) int('canary', p.canary.count, 0);
  else pct('canary', p.canary.percent);
  if (p.batchSize !== null) int('batch', p.batchSize, 1);
  pct('success-pct', p.successPct);
  int('max-concurrent', p.maxConcurrent, 1);
  if (p.ratePerMin !== null) int('rate-per-min', p.ratePerMin, 1);
  if (p.abortFailurePct !== null) pct('abort-failure-pct', p.abortFailurePct);
  int('abort-min-devices', p.abortMinDevices, 1);
  int('timeout', p.timeoutSeconds, 1);
  int('max-attempts', p.maxAttempts, 1);
  if (!DELIVERIES.includes(p.delivery)) throw new RolloutPolicyError(`delivery must be one of ${DELIVERIES.join(', ')}`);
  return p;
}

/** `10` or `10%`, as the CLI and API take --canary. */
export function parseCanary(value: string | number): RolloutPolicy['canary'] {
  if (typeof value === 'number') return { count: value };
  const m = /^(\d+(?:\.\d+)?)(%?)$/.exec(value.trim());
  if (!m) throw new RolloutPolicyError(`canary "${value}" must be a device count (10) or a percentage (5%)`);
  return m[2] ? { percent: Number(m[1]) } : { count: Number(m[1]) };
}
