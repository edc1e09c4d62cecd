/**
 * The handshake retransmission timer (RFC 6347 §4.2.4): a flight not answered in time is sent
 * again, the timeout doubling each time up to a ceiling; after too many tries the handshake fails.
 */
export interface RetransmitOptions {
  /** First timeout (RFC 6347: 1 s). */
  initialMs: number;
  /** Ceiling of the doubling (RFC 6347: at least 60 s). */
  maxMs: number;
  /** Retransmissions of one flight before the handshake is given up. */
  maxRetransmissions: number;
}

export const DEFAULT_RETRANSMIT: RetransmitOptions = { initialMs: 1000, maxMs: 60_000, maxRetransmissions: 7 };

export class RetransmitTimer {
  private timer: NodeJS.Timeout | undefined;
  private timeoutMs: number;
  private sent = 0;

  constructor(
    private readonly opts: RetransmitOptions,
    private readonly onRetransmit: () => void,
    private readonly onGiveUp: () => void,
  ) {
    this.timeoutMs = opts.initialMs;
  }

  /** A new flight went out: wait the initial timeout for its answer. */
  start(): void {
    this.stop();
    this.timeoutMs = this.opts.initialMs;
    this.sent = 0;
    this.arm();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  get running(): boolean {
    return this.timer !== undefined;
  }

  private arm(): void {
    this.timer = setTimeout(() => this.fire(), this.timeoutMs);
    this.timer.unref();
  }

  private fire(): void {
    this.timer = undefined;
    if (this.sent >= this.opts.maxRetransmissions) {
      this.onGiveUp();
      return;
    }
    this.sent++;
    this.timeoutMs = Math.min(this.timeoutMs * 2, this.opts.maxMs);
    this.onRetransmit();
    this.arm();
  }
}
