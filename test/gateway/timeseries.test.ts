import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { TimeSeriesStore } from '../../gateway/monitoring/timeseries-store.js';
import { openDatabase, type Database } from '../../gateway/store/database.js';
import { tempDir, testLog } from '../support/harness.js';

const HOUR = 3_600_000;

describe('monitoring time series', () => {
  const dir = tempDir();
  let db: Database;
  let clock = Date.UTC(2025, 0, 1, 12);

  before(() => {
    db = openDatabase(dir.path, testLog);
  });
  after(() => {
    db.close();
    dir.remove();
  });

  test('samples are kept per device and path, queried by period, downsampled by step', () => {
    const store = new TimeSeriesStore(db, { retentionMs: 24 * HOUR, maxSamplesPerSeries: 1000, now: () => clock });
    const t0 = clock - 10 * 60_000;
    for (let i = 0; i < 10; i++) store.record({ endpoint: 'd1', path: '/3/0/9', at: t0 + i * 30_000, value: 90 - i });
    store.record({ endpoint: 'd1', path: '/4/0/2', at: t0, value: -80 });
    store.record({ endpoint: 'd2', path: '/3/0/9', at: t0, value: 50 });
    store.record({ endpoint: 'd1', path: '/3/0/9', at: t0, value: Number.NaN }); // not a number: dropped

    const all = store.query('d1', { from: t0, to: clock });
    assert.deepEqual(all.map((s) => [s.path, s.points.length]), [['/3/0/9', 10], ['/4/0/2', 1]]);
    const window = store.query('d1', { path: '/3/0/9', from: t0 + 60_000, to: t0 + 120_000 });
    assert.deepEqual(window[0]!.points, [{ at: t0 + 60_000, value: 88 }, { at: t0 + 90_000, value: 87 }, { at: t0 + 120_000, value: 86 }]);

    const buckets = store.query('d1', { path: '/3/0/9', from: t0, to: clock, step: 60 })[0]!.points;
    assert.equal(buckets.length, 5);
    for (const b of buckets) {
      assert.ok('count' in b);
      assert.equal(b.count, 2);
      assert.equal(b.avg, (b.min + b.max) / 2);
      assert.equal(b.at % 60_000, 0);
    }
    store.close();
  });

  test('retention: older samples are pruned, and a series is trimmed to its newest samples', () => {
    const store = new TimeSeriesStore(db, { retentionMs: 2 * HOUR, maxSamplesPerSeries: 10, now: () => clock });
    for (let i = 0; i < 30; i++) store.record({ endpoint: 'd3', path: '/3/0/10', at: clock - 3 * HOUR + i * 6 * 60_000, value: i });
    const pruned = store.prune();
    assert.ok(pruned.expired > 0);
    const points = store.query('d3', { path: '/3/0/10', from: 0, to: clock })[0]!.points as { at: number; value: number }[];
    assert.equal(points.length, 10);
    assert.deepEqual(points.map((p) => p.value), [20, 21, 22, 23, 24, 25, 26, 27, 28, 29], 'the newest are kept');
    assert.ok(points.every((p) => p.at >= clock - 2 * HOUR));
    clock += 24 * HOUR;
    store.prune();
    assert.deepEqual(store.paths('d3'), []);
    store.close();
  });
});
