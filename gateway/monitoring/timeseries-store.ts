import type { Database } from '../store/database.js';

export interface Sample {
  endpoint: string;
  path: string;
  at: number;
  value: number;
}

export interface TimeSeriesOptions {
  /** Samples older than this are pruned. */
  retentionMs: number;
  /** At most this many samples per device and path, the newest kept (a chatty observation cannot fill the disk). */
  maxSamplesPerSeries: number;
  /** Samples are written in batches at most this far apart. */
  flushIntervalMs?: number;
  now?: () => number;
}

export interface SeriesQuery {
  path?: string;
  from: number;
  to: number;
  /** Seconds per bucket: min/max/avg per bucket instead of every sample. */
  step?: number;
}

export type SeriesPoint = { at: number; value: number } | { at: number; min: number; max: number; avg: number; count: number };

export interface Series {
  path: string;
  points: SeriesPoint[];
}

/** Batches above this size are written at once, whatever the timer says. */
const MAX_PENDING = 5000;

/**
 * Numeric monitoring values per device and resource over a bounded window (Y.4702 8.3), for
 * charts. Samples are buffered and written in one transaction per flush, not one write each;
 * every query writes the buffer first, so readers see exact data.
 */
export class TimeSeriesStore {
  private pending: Sample[] = [];
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly insert;

  constructor(
    private readonly db: Database,
    private readonly opts: TimeSeriesOptions,
  ) {
    this.now = opts.now ?? Date.now;
    this.insert = db.prepare('INSERT INTO monitoring_samples (endpoint, path, at, value) VALUES (?, ?, ?, ?)');
  }

  record(sample: Sample): void {
    if (!Number.isFinite(sample.value)) return;
    this.pending.push(sample);
    if (this.pending.length >= MAX_PENDING) this.flush();
    else this.flushTimer ??= setTimeout(() => this.flush(), this.opts.flushIntervalMs ?? 1000).unref();
  }

  flush(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0 || !this.db.open) return;
    const batch = this.pending;
    this.pending = [];
    this.db.transaction(() => {
      for (const s of batch) this.insert.run(s.endpoint, s.path, s.at, s.value);
    })();
  }

  /** The paths a device has samples of. */
  paths(endpoint: string): string[] {
    this.flush();
    return this.db.prepare<[string], { path: string }>('SELECT DISTINCT path FROM monitoring_samples WHERE endpoint = ? ORDER BY path').all(endpoint).map((r) => r.path);
  }

  query(endpoint: string, q: SeriesQuery): Series[] {
    this.flush();
    const paths = q.path ? [q.path] : this.paths(endpoint);
    return paths.map((path) => ({ path, points: q.step ? this.buckets(endpoint, path, q, q.step * 1000) : this.samples(endpoint, path, q) }));
  }

  /**
   * Drops samples past the retention window, then trims every series over its cap to its newest
   * samples. Returns what went.
   */
  prune(): { expired: number; trimmed: number } {
    this.flush();
    const expired = this.db.prepare('DELETE FROM monitoring_samples WHERE at < ?').run(this.now() - this.opts.retentionMs).changes;
    let trimmed = 0;
    const cap = this.opts.maxSamplesPerSeries;
    const over = this.db
      .prepare<[number], { endpoint: string; path: string }>('SELECT endpoint, path FROM monitoring_samples GROUP BY endpoint, path HAVING COUNT(*) > ?')
      .all(cap);
    const trim = this.db.prepare(
      `DELETE FROM monitoring_samples WHERE endpoint = @endpoint AND path = @path AND rowid NOT IN (
         SELECT rowid FROM monitoring_samples WHERE endpoint = @endpoint AND path = @path ORDER BY at DESC, rowid DESC LIMIT @cap)`,
    );
    this.db.transaction(() => {
      for (const s of over) trimmed += trim.run({ ...s, cap }).changes;
    })();
    return { expired, trimmed };
  }

  /** Writes what is buffered; the database stays open (its owner closes it). */
  close(): void {
    this.flush();
  }

  private samples(endpoint: string, path: string, q: SeriesQuery): SeriesPoint[] {
    return this.db
      .prepare<[string, string, number, number], { at: number; value: number }>(
        'SELECT at, value FROM monitoring_samples WHERE endpoint = ? AND path = ? AND at >= ? AND at <= ? ORDER BY at, rowid',
      )
      .all(endpoint, path, q.from, q.to);
  }

  private buckets(endpoint: string, path: string, q: SeriesQuery, stepMs: number): SeriesPoint[] {
    return this.db
      .prepare<[number, number, string, string, number, number], { at: number; min: number; max: number; avg: number; count: number }>(
        `SELECT (at / CAST(? AS INTEGER)) * CAST(? AS INTEGER) AS at, MIN(value) AS min, MAX(value) AS max, AVG(value) AS avg, COUNT(*) AS count
         FROM monitoring_samples WHERE endpoint = ? AND path = ? AND at >= ? AND at <= ? GROUP BY 1 ORDER BY 1`,
      )
      .all(stepMs, stepMs, endpoint, path, q.from, q.to);
  }
}
