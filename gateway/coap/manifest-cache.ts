import { createHash } from 'node:crypto';

interface Entry {
  bytes: Buffer;
  etag: Buffer;
  expiresAt: number;
}

/**
 * Signed manifests per transfer, kept for a few minutes. A manifest is signed when served
 * (its issuedAt changes each time), and a block-wise client fetches it in several requests:
 * they must all see the same bytes.
 */
export class ManifestCache {
  private readonly entries = new Map<string, Entry>();

  constructor(
    private readonly ttlMs = 5 * 60_000,
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  get(transferId: string, render: () => string): { bytes: Buffer; etag: Buffer } {
    const now = this.now();
    const cached = this.entries.get(transferId);
    if (cached && cached.expiresAt > now) return cached;
    this.evict(now);
    const bytes = Buffer.from(render(), 'utf8');
    const entry = { bytes, etag: etagOf(bytes), expiresAt: now + this.ttlMs };
    this.entries.delete(transferId);
    this.entries.set(transferId, entry);
    return entry;
  }

  /** Entries are kept in insertion order with one TTL, so the expired ones are at the front. */
  private evict(now: number): void {
    for (const [id, entry] of this.entries) {
      if (entry.expiresAt > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(id);
    }
  }
}

/** An ETag option value: the first 8 bytes (the option's maximum) of the content's SHA-256. */
export function etagOf(bytes: Buffer): Buffer {
  return createHash('sha256').update(bytes).digest().subarray(0, 8);
}
