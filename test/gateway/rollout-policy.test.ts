import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseDeadline } from '../../gateway/api/routes/rollouts.js';
import {
  abortReason,
  batchGateFailure,
  DEFAULT_ROLLOUT_POLICY,
  parseCanary,
  planBatches,
  RolloutPolicyError,
  tally,
  validatePolicy,
  type DeviceUpdateState,
  type RolloutPolicy,
} from '../../gateway/rollouts/rollout-policy.js';

const policy = (p: Partial<RolloutPolicy>): RolloutPolicy => ({ ...DEFAULT_ROLLOUT_POLICY, ...p });
const states = (spec: Partial<Record<DeviceUpdateState, number>>): DeviceUpdateState[] =>
  Object.entries(spec).flatMap(([s, n]) => Array<DeviceUpdateState>(n).fill(s as DeviceUpdateState));

describe('rollout policy', () => {
  test('batches: the canary first (a count or a share of the target, rounded up), then batches of the given size', () => {
    assert.deepEqual(planBatches(7, policy({ canary: { count: 2 }, batchSize: 2 })), [0, 0, 1, 1, 2, 2, 3]);
    assert.deepEqual(planBatches(10, policy({ canary: { percent: 15 }, batchSize: null })), [0, 0, 1, 1, 1, 1, 1, 1, 1, 1]);
    assert.deepEqual(planBatches(3, policy({ canary: { count: 0 }, batchSize: 2 })), [0, 0, 1]);
    assert.deepEqual(planBatches(2, policy({ canary: { count: 5 } })), [0, 0], 'a canary larger than the target is the whole target');
  });

  test('abort criteria (AWS IoT Jobs semantics): the failure share over finished devices, once enough have finished', () => {
    const p = policy({ abortFailurePct: 20, abortMinDevices: 10 });
    assert.equal(abortReason(tally(states({ failed: 5, succeeded: 4, downloading: 20 })), p), undefined, '9 finished: below the minimum');
    assert.match(abortReason(tally(states({ failed: 2, succeeded: 8 })), p) ?? '', /2 of 10 finished devices failed \(20\.0 % ≥ 20 %\)/);
    assert.equal(abortReason(tally(states({ failed: 1, succeeded: 9, queued: 50 })), p), undefined, '10 % < 20 %');
    assert.match(abortReason(tally(states({ 'timed-out': 3, succeeded: 7 })), p) ?? '', /3 of 10/, 'timed-out counts as failed');
    assert.equal(abortReason(tally(states({ cancelled: 10, 'skipped-offline': 10, succeeded: 9, failed: 1 })), p), undefined, 'cancelled and skipped devices did not run');
    assert.equal(abortReason(tally(states({ failed: 50 })), policy({ abortFailurePct: null })), undefined, 'no criterion, no abort');
  });

  test('batch gate: the next batch starts only when the success share of the previous one is met', () => {
    const p = policy({ successPct: 80 });
    assert.equal(batchGateFailure(1, tally(states({ succeeded: 8, failed: 2 })), p), undefined);
    assert.match(batchGateFailure(0, tally(states({ succeeded: 7, failed: 3 })), p) ?? '', /batch 0 \(canary\): 7 of 10 succeeded \(70\.0 % < 80 %\)/);
    assert.equal(batchGateFailure(2, tally([]), p), undefined);
  });

  test('input: canary as count or percentage, deadlines as ISO times or durations, and invalid policies named', () => {
    assert.deepEqual(parseCanary('10'), { count: 10 });
    assert.deepEqual(parseCanary('5%'), { percent: 5 });
    assert.deepEqual(parseCanary(3), { count: 3 });
    assert.throws(() => parseCanary('ten'), RolloutPolicyError);
    assert.equal(parseDeadline('90m', 1000), 1000 + 90 * 60_000);
    assert.equal(parseDeadline('2d', 0), 2 * 86_400_000);
    assert.equal(parseDeadline('2026-12-24T18:00:00Z'), Date.parse('2026-12-24T18:00:00Z'));
    assert.throws(() => parseDeadline('soon'), /neither an ISO time nor a duration/);
    for (const [bad, message] of [
      [{ canary: { percent: 120 } }, /canary/],
      [{ batchSize: 0 }, /batch/],
      [{ successPct: -1 }, /success-pct/],
      [{ maxConcurrent: 0 }, /max-concurrent/],
      [{ ratePerMin: 1.5 }, /rate-per-min/],
      [{ abortFailurePct: 101 }, /abort-failure-pct/],
      [{ timeoutSeconds: 0 }, /timeout/],
      [{ delivery: 'ftp' as never }, /delivery must be one of http, coap, push/],
    ] as const) {
      assert.throws(() => validatePolicy(policy(bad as Partial<RolloutPolicy>)), message, JSON.stringify(bad));
    }
    assert.doesNotThrow(() => validatePolicy(policy({})));
  });
});
