/**
 * What became of a Block1 request message, so a retransmission of it (same peer, same message
 * ID, RFC 7252 §4.5) gets the same answer instead of being taken as the next block:
 * - `answered`: we answered it ourselves (2.31 or an error); the datagram is sent again;
 * - `delegated`: the final block, handed to the server as the whole request; `reply` is filled
 *   once the handler's piggybacked response is known, `separate` once it went out on its own.
 */
export type RecentMessage =
  | { kind: 'answered'; reply: Buffer }
  | { kind: 'delegated'; since: number; reply?: Buffer; separate?: boolean };

interface Entry {
  message: RecentMessage;
  expiresAt: number;
}

/**
 * Message IDs seen lately, per peer, for `lifetimeMs` (EXCHANGE_LIFETIME, RFC 7252 §4.8.2) and at
 * most `capacity` of them (the oldest go first) so a flood of new IDs cannot grow it unbounded.
 */
export class RecentMessages {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly lifetimeMs: number,
    private readonly capacity: number,
  ) {}

  get(key: string, now = Date.now()): RecentMessage | undefined {
    const entry = this.entries.get(key);
    if (!entry) return undefined;
    if (entry.expiresAt > now) return entry.message;
    this.entries.delete(key);
    return undefined;
  }

  set(key: string, message: RecentMessage, now = Date.now()): void {
    this.entries.delete(key);
    this.entries.set(key, { message, expiresAt: now + this.lifetimeMs });
    // Insertion order is expiry order (one lifetime for all): drop from the front.
    for (const [k, e] of this.entries) {
      if (this.entries.size <= this.capacity && e.expiresAt > now) break;
      this.entries.delete(k);
    }
  }

  get size(): number {
    return this.entries.size;
  }

  clear(): void {
    this.entries.clear();
  }
}
