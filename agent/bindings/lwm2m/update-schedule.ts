/**
 * When a registration is refreshed (LwM2M 1.1 Core §6.2.2, RFC 9176 §5.3.1): at 90 % of the
 * lifetime or 10 s before it ends, whichever is earlier, never before half of it, and at once
 * when something asks for it (a lifetime write, a changed object list).
 */
export class UpdateSchedule {
  private requested = false;
  private wake: (() => void) | undefined;

  /** Asks for an update now; the waiting `due()` resolves. */
  request(): void {
    this.requested = true;
    this.wake?.();
  }

  /** Forgets a request (a new registration or an update just went out). */
  clear(): void {
    this.requested = false;
  }

  /** Resolves when an update is due, asked for, or the signal aborts. */
  due(lifetimeSeconds: number, signal: AbortSignal, maxIntervalMs?: number): Promise<void> {
    const lifetimeMs = lifetimeSeconds * 1000;
    let delay = Math.max(lifetimeMs / 2, Math.min(lifetimeMs * 0.9, lifetimeMs - 10_000));
    if (maxIntervalMs !== undefined) delay = Math.min(delay, maxIntervalMs);
    return new Promise<void>((resolve) => {
      if (this.requested || signal.aborted) return resolve();
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener('abort', done);
        if (this.wake === done) this.wake = undefined;
        resolve();
      };
      const timer = setTimeout(done, Math.min(delay, 2 ** 31 - 1));
      this.wake = done;
      signal.addEventListener('abort', done, { once: true });
    });
  }

  /** No registration to update any more: a request now has nothing to wake. */
  detach(): void {
    this.wake = undefined;
  }
}
