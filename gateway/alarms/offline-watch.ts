/**
 * Which devices are offline and since when, for the offline-longer-than rules. One map entry per
 * offline device (bounded by the registry) and one interval timer for all of them, not a timer
 * per device and rule: a sweep of ten thousand entries is microseconds.
 */
export class OfflineWatch {
  private readonly offline = new Map<string, { since: number; notBefore: number }>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    checkIntervalMs: number,
    private readonly check: (endpoint: string, since: number, notBefore: number) => void,
  ) {
    this.timer = setInterval(() => this.sweep(), checkIntervalMs);
    this.timer.unref();
  }

  /**
   * `notBefore` holds alarms back until then: after a gateway restart every device looks offline
   * (since its last-seen) until it reconnects, which takes a moment.
   */
  wentOffline(endpoint: string, since: number, notBefore = since): void {
    this.offline.set(endpoint, { since, notBefore });
  }

  cameBack(endpoint: string): void {
    this.offline.delete(endpoint);
  }

  get size(): number {
    return this.offline.size;
  }

  sweep(): void {
    for (const [endpoint, { since, notBefore }] of this.offline) this.check(endpoint, since, notBefore);
  }

  close(): void {
    clearInterval(this.timer);
    this.offline.clear();
  }
}
