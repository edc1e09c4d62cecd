import type { Logger } from '../../../common/logger.js';

/**
 * A token bucket on new MQTT connections: `perSecond` CONNECTs a second, bursts of up to one
 * second's worth. Over the limit the broker answers CONNACK 3 (Server unavailable) at once,
 * before any credential is checked, and the device retries after its backoff with jitter: after
 * a power cut or a gateway restart the herd is spread out instead of queueing in the broker.
 * Counted; logged at debug once a second while refusing, at info when a burst starts and ends.
 */
export class ConnectRateLimit {
  /** CONNECTs let through so far. */
  admitted = 0;
  /** CONNECTs refused with CONNACK 3 so far. */
  refused = 0;
  private tokens: number;
  private last: number;
  private readonly capacity: number;
  private refusing = false;
  private refusedThisSecond = 0;
  private reportTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly perSecond: number,
    private readonly log: Logger,
    private readonly now: () => number = Date.now,
  ) {
    this.capacity = Math.max(1, perSecond);
    this.tokens = this.capacity;
    this.last = now();
  }

  /** Whether a new connection may go on now; 0 per second means no limit. */
  admit(): boolean {
    if (this.perSecond <= 0) {
      this.admitted++;
      return true;
    }
    const now = this.now();
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.perSecond) / 1000);
    this.last = now;
    if (this.tokens >= 1) {
      this.tokens -= 1;
      this.admitted++;
      return true;
    }
    this.refused++;
    this.refusedThisSecond++;
    if (!this.refusing) {
      this.refusing = true;
      this.log.info({ maxConnectsPerSecond: this.perSecond }, 'mqtt connection rate limit reached: refusing new connections with CONNACK 3 until the rate drops');
      this.reportTimer = setInterval(() => this.report(), 1000);
      this.reportTimer.unref();
    }
    return false;
  }

  close(): void {
    if (this.reportTimer) clearInterval(this.reportTimer);
    this.reportTimer = undefined;
  }

  private report(): void {
    if (this.refusedThisSecond > 0) {
      this.log.debug({ refused: this.refusedThisSecond, refusedTotal: this.refused }, 'mqtt connections refused by the rate limit in the last second');
      this.refusedThisSecond = 0;
      return;
    }
    this.close();
    this.refusing = false;
    this.log.info({ refusedTotal: this.refused }, 'mqtt connection rate back under the limit');
  }
}
