/**
 * A token bucket: `perMinute` tokens a minute, at most `capacity` saved up. With capacity 1 (the
 * default) sends are paced evenly, 60/perMinute seconds apart, so no 60 s window ever holds more
 * than `perMinute` of them. The clock is the caller's, so tests and the send timestamps agree.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;
  private readonly perMs: number;

  constructor(
    perMinute: number,
    now: number,
    private readonly capacity = 1,
  ) {
    if (!(perMinute > 0)) throw new RangeError('a rate must be positive');
    this.perMs = perMinute / 60_000;
    this.tokens = capacity;
    this.last = now;
  }

  /** Takes a token if one is there. */
  take(now: number): boolean {
    this.refill(now);
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  /** Milliseconds until a token is there (0 when one is). */
  msUntilNext(now: number): number {
    this.refill(now);
    return this.tokens >= 1 ? 0 : Math.ceil((1 - this.tokens) / this.perMs);
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + (now - this.last) * this.perMs);
      this.last = now;
    }
  }
}
