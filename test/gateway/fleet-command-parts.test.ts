import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RecentRequests } from '../../agent/state/recent-requests.js';
import { aggregateResults } from '../../gateway/commands/aggregate.js';
import { buildCommandSpec, CommandSpecError, toOperation } from '../../gateway/commands/command-spec.js';
import { outcomeOf } from '../../gateway/commands/step-outcome.js';
import { TokenBucket } from '../../gateway/commands/token-bucket.js';
import { LwM2mPath, type Operation } from '../../protocol/model/index.js';
import { tempDir, testLog } from '../support/harness.js';

describe('fleet command parts', () => {
  test('token bucket: paced at 60/rate seconds, no burst after idling, never early', () => {
    const bucket = new TokenBucket(600, 0);
    assert.equal(bucket.take(0), true);
    assert.equal(bucket.take(50), false);
    assert.equal(bucket.msUntilNext(50), 50);
    assert.equal(bucket.take(99), false);
    assert.equal(bucket.take(100), true);
    // Idle for a minute: still one token, not 600.
    assert.equal(bucket.take(60_100), true);
    assert.equal(bucket.take(60_101), false);
    // Sends as fast as allowed over 10 s: exactly one per 100 ms.
    const b = new TokenBucket(600, 0);
    let sends = 0;
    for (let t = 0; t < 10_000; t++) if (b.take(t)) sends++;
    assert.equal(sends, 100);
  });

  test('aggregate: codes per step, value distributions, numeric summary', () => {
    const read = (code: string, value?: unknown) => ({ steps: [{ kind: 'read', path: '/3/0/9', code, ...(value !== undefined ? { content: [{ path: '/3/0/9', type: 'integer', value }] } : {}) }] });
    const agg = aggregateResults([read('2.05', 80), read('2.05', 80), read('2.05', 20), read('4.04')] as never);
    assert.deepEqual(agg.steps, [{ kind: 'read', path: '/3/0/9', codes: { '2.05': 3, '4.04': 1 } }]);
    assert.deepEqual(agg.values['/3/0/9'], { devices: 3, distinct: 2, top: [{ value: 80, count: 2 }, { value: 20, count: 1 }], numeric: { min: 20, max: 80, mean: 60 } });
  });

  test('command specs: jobs expand to their operations; bad commands are refused up front', () => {
    assert.deepEqual(buildCommandSpec({ action: 'diagnostics' }).steps.map((s) => `${s.kind} ${s.path}`), ['read /3/0', 'read /4/0', 'read /20']);
    assert.deepEqual(buildCommandSpec({ action: 'reboot' }).steps, [{ kind: 'execute', path: '/3/0/4' }]);
    assert.deepEqual(buildCommandSpec({ action: 'factory-reset' }).steps, [{ kind: 'execute', path: '/3/0/5' }]);
    const write = buildCommandSpec({ action: 'write', path: '/1/0/1', content: [{ path: '/1/0/1', type: 'integer', value: 60 }] });
    const op = toOperation(write.steps[0]!);
    assert.equal(op.kind, 'write');
    assert.deepEqual(op.kind === 'write' && op.content.map((r) => [r.path.toString(), r.value]), [['/1/0/1', 60]]);
    assert.throws(() => buildCommandSpec({ action: 'discover', path: '/3' }), CommandSpecError);
    assert.throws(() => buildCommandSpec({ action: 'write-attributes', path: '/3/0/9' }), /at least one attribute/);
    assert.throws(() => buildCommandSpec({ action: 'read', path: '/3/0/9', content: [] }), /takes no value/);
  });

  test('an Event Log read keeps only its most recent lines', () => {
    const lines = Array.from({ length: 30 }, (_, i) => `2026-01-01T00:00:${String(i).padStart(2, '0')}Z info 1 event ${i}`);
    const outcome = outcomeOf(
      { kind: 'read', path: '/20', recentLogLines: 5 },
      { code: '2.05', content: [
        { path: LwM2mPath.parse('/20/0/4014'), type: 'opaque', value: new Uint8Array(Buffer.from(lines.join('\n') + '\n')) },
        { path: LwM2mPath.parse('/20/0/4013'), type: 'integer', value: 0 },
      ] },
    );
    assert.deepEqual(outcome.recentEvents, lines.slice(-5));
    assert.deepEqual(outcome.content, [{ path: '/20/0/4013', type: 'integer', value: 0 }]);
  });

  test('the agent\'s request memory: a repeated id is answered without running again, changes survive a reboot, reads do not', async () => {
    const dir = tempDir();
    try {
      const write: Operation = { kind: 'execute', path: LwM2mPath.parse('/3/0/4') };
      const read: Operation = { kind: 'read', path: LwM2mPath.parse('/3/0/0') };
      let runs = 0;
      const perform = async () => {
        runs++;
        await new Promise((r) => setTimeout(r, 20));
        return { code: '2.04' as const };
      };
      const memory = new RecentRequests(dir.path, testLog);
      // A repeat that arrives while the first is still running waits for it.
      const [a, b] = await Promise.all([memory.answer('x1', write, perform), memory.answer('x1', write, perform)]);
      assert.deepEqual([a.repeated, b.repeated, runs], [false, true, 1]);
      await memory.answer('r1', read, async () => ({ code: '2.05' as const }));
      assert.equal((await memory.answer('r1', read, async () => ({ code: '5.00' as const }))).repeated, true);
      // The same id for a different operation is not a repeat.
      assert.equal((await memory.answer('x1', read, async () => ({ code: '2.05' as const }))).repeated, false);

      const rebooted = new RecentRequests(dir.path, testLog);
      const again = await rebooted.answer('x1', write, perform);
      assert.deepEqual([again.repeated, again.result.code, runs], [true, '2.04', 1]);
      assert.equal((await rebooted.answer('r1', read, async () => ({ code: '2.05' as const }))).repeated, false, 'reads are kept in memory only');
    } finally {
      dir.remove();
    }
  });
});
