import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { backoffDelay, sleep } from '../../common/backoff.js';

describe('backoff', () => {
  test('full jitter stays between the minimum and a doubling ceiling capped at the maximum', () => {
    assert.equal(backoffDelay(0, 500, 30_000, () => 0), 500);
    assert.equal(backoffDelay(0, 500, 30_000, () => 1), 500);
    assert.equal(backoffDelay(3, 500, 30_000, () => 1), 4000);
    assert.equal(backoffDelay(20, 500, 30_000, () => 1), 30_000);
    assert.equal(backoffDelay(1000, 500, 30_000, () => 0.5), 15_250);
  });

  test('sleep ends early when aborted', async () => {
    const controller = new AbortController();
    const started = Date.now();
    const slept = sleep(10_000, controller.signal);
    controller.abort();
    await slept;
    assert.ok(Date.now() - started < 1000);
  });
});
