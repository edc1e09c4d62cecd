/**
 * Anti-replay sliding window of RFC 6347 §4.1.2.6 (64 records wide), per epoch. `check` before
 * the record is authenticated, `accept` only after: a forged record must not move the window.
 */
export class ReplayWindow {
  static readonly SIZE = 64;
  /** Highest sequence number accepted so far (-1: none). */
  private top = -1;
  /** Bit i set: record top - i was received. */
  private bits = 0n;

  /** True when the record is new and not too old. */
  check(seq: number): boolean {
    if (seq > this.top) return true;
    const offset = this.top - seq;
    if (offset >= ReplayWindow.SIZE) return false;
    return ((this.bits >> BigInt(offset)) & 1n) === 0n;
  }

  accept(seq: number): void {
    if (seq > this.top) {
      const shift = seq - this.top;
      this.bits = shift >= ReplayWindow.SIZE ? 1n : ((this.bits << BigInt(shift)) | 1n) & 0xffff_ffff_ffff_ffffn;
      this.top = seq;
    } else {
      this.bits |= 1n << BigInt(this.top - seq);
    }
  }
}
