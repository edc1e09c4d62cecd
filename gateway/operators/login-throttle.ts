/**
 * Slows down password guessing: after `freeAttempts` failures for one username (from anywhere),
 * or four times as many from one address (for any username: an office behind one NAT address
 * mistypes too), further attempts are refused for a delay that doubles with each failure, up
 * to `maxDelayMs`. A success clears the username's count. Kept in memory with a bound: a
 * restart forgets it, which costs an attacker a restart per few guesses.
 */
export class LoginThrottle {
  private readonly failures = new Map<string, { count: number; lastAt: number }>();

  constructor(
    private readonly freeAttempts = 5,
    private readonly baseDelayMs = 1000,
    private readonly maxDelayMs = 15 * 60_000,
    private readonly maxEntries = 10_000,
  ) {}

  /** Milliseconds until this username/address may try again; 0 when it may now. */
  retryAfterMs(username: string, address: string, now = Date.now()): number {
    return Math.max(this.wait(`u:${username.toLowerCase()}`, now), this.wait(`a:${address}`, now));
  }

  failed(username: string, address: string, now = Date.now()): void {
    for (const key of [`u:${username.toLowerCase()}`, `a:${address}`]) {
      const entry = this.failures.get(key);
      this.failures.delete(key); // re-inserted last, so the map's order is least recently failed first
      this.failures.set(key, { count: (entry?.count ?? 0) + 1, lastAt: now });
    }
    while (this.failures.size > this.maxEntries) this.failures.delete(this.failures.keys().next().value as string);
  }

  succeeded(username: string): void {
    this.failures.delete(`u:${username.toLowerCase()}`);
  }

  private wait(key: string, now: number): number {
    const entry = this.failures.get(key);
    const free = key.startsWith('a:') ? this.freeAttempts * 4 : this.freeAttempts;
    if (!entry || entry.count < free) return 0;
    const delay = Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (entry.count - free));
    if (now - entry.lastAt > this.maxDelayMs) {
      this.failures.delete(key);
      return 0;
    }
    return Math.max(0, entry.lastAt + delay - now);
  }
}
