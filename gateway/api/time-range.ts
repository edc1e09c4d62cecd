import { ApiError } from './errors.js';

const UNIT_MS = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/**
 * A point in time from a query parameter: an ISO time (`2025-01-31T12:00:00Z`), Unix milliseconds,
 * or a duration before now (`90m`, `24h`, `7d`). Throws a 400 naming the parameter otherwise.
 */
export function parseTime(value: string | undefined, name: string, fallback: number, now = Date.now()): number {
  if (value === undefined || value === '') return fallback;
  const ago = /^(\d+)([smhd])$/.exec(value.trim());
  if (ago) return now - Number(ago[1]) * UNIT_MS[ago[2] as keyof typeof UNIT_MS];
  if (/^\d{10,}$/.test(value)) return Number(value);
  const t = Date.parse(value);
  if (Number.isNaN(t)) throw new ApiError(400, 'invalid_time', `"${name}" must be an ISO time, Unix milliseconds or a duration before now such as 90m, 24h, 7d; got "${value.slice(0, 64)}"`);
  return t;
}

/** `from` and `to` of a query, `to` defaulting to now and `from` to `defaultSpanMs` before it. */
export function parseRange(q: { from?: string; to?: string }, defaultSpanMs: number, now = Date.now()): { from: number; to: number } {
  const to = parseTime(q.to, 'to', now, now);
  const from = parseTime(q.from, 'from', to - defaultSpanMs, now);
  if (from > to) throw new ApiError(400, 'invalid_time', '"from" is after "to"');
  return { from, to };
}
