import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { signManifest, type SignedManifest } from '../../protocol/firmware/index.js';
import type { Delivery } from '../rollouts/rollout-policy.js';
import type { Database } from '../store/database.js';
import { ImageFiles, type ImageFilesOptions } from './image-files.js';
import type { OperatorKey } from './operator-key.js';

export interface Firmware {
  /** `name@version`, what operators type. */
  id: string;
  name: string;
  version: string;
  vendor: string;
  models: string[];
  size: number;
  sha256: string;
  createdAt: number;
}

export interface Transfer {
  /** Random, unguessable: it is the capability in the download URL. */
  id: string;
  firmwareId: string;
  endpoint: string;
  rolloutId: string | null;
  /** How the image travels: pulled over HTTP or CoAP, or pushed over the device's DM link. */
  transport: Delivery;
  allowDowngrade: boolean;
  bytesServed: number;
  requests: number;
  createdAt: number;
  lastRequestAt: number | null;
}

/** What serving a transfer needs of it; cached, so no byte counters (they move with every block). */
export interface ServableTransfer {
  id: string;
  allowDowngrade: boolean;
  firmware: Firmware;
}

export interface FirmwareRepositoryOptions {
  /** How long a transfer looked up for serving is trusted before it is read from SQL again. */
  transferRecheckMs?: number;
  /** How long counts from `countServedSoon` may stay in memory before they are written. */
  servedFlushMs?: number;
  images?: ImageFilesOptions;
}

export class FirmwareError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'conflict' | 'not-found' | 'too-large',
  ) {
    super(message);
    this.name = 'FirmwareError';
  }
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$/;

interface FirmwareRow {
  id: string;
  sha256: string;
  size: number;
  name: string;
  version: string;
  vendor: string;
  models: string;
  created_at: number;
}

interface TransferRow {
  id: string;
  firmware_id: string;
  endpoint: string;
  rollout_id: string | null;
  transport: string;
  allow_downgrade: number;
  bytes_served: number;
  requests: number;
  created_at: number;
  last_request_at: number | null;
}

/**
 * Firmware images, stored once by content (`firmware/sha256/<hex>`), described in SQL, and
 * served per transfer: every device fetch goes through a transfer that counts its bytes and
 * carries a manifest signed by the operator key at serve time.
 */
export class FirmwareRepository {
  private readonly blobs: string;
  /** Open image files, shared by whoever serves them block by block. */
  readonly images: ImageFiles;
  private readonly statements;
  private readonly servable = new Map<string, { transfer: ServableTransfer; checkedAt: number }>();
  private readonly servedListeners: ((transferId: string, bytes: number) => void)[] = [];
  private readonly pendingServed = new Map<string, { bytes: number; requests: number; lastRequestAt: number }>();
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly transferRecheckMs: number;
  private readonly servedFlushMs: number;

  constructor(
    private readonly db: Database,
    dataDir: string,
    private readonly key: OperatorKey,
    opts: FirmwareRepositoryOptions = {},
  ) {
    this.blobs = join(dataDir, 'firmware', 'sha256');
    mkdirSync(this.blobs, { recursive: true, mode: 0o700 });
    this.images = new ImageFiles(opts.images);
    this.transferRecheckMs = opts.transferRecheckMs ?? 1000;
    this.servedFlushMs = opts.servedFlushMs ?? 1000;
    // Prepared once: preparing a statement costs more than running it, and blocks are served by the thousand.
    this.statements = {
      firmware: db.prepare('SELECT * FROM firmware WHERE id = ?'),
      transfer: db.prepare('SELECT * FROM transfers WHERE id = ?'),
      countServed: db.prepare(
        'UPDATE transfers SET bytes_served = bytes_served + ?, requests = requests + ?, last_request_at = MAX(COALESCE(last_request_at, 0), ?) WHERE id = ?',
      ),
      deleteTransfer: db.prepare('DELETE FROM transfers WHERE id = ?'),
    };
  }

  /** Stores an image from a stream; the same bytes are kept once however often they are added. */
  async add(image: Readable, meta: { name: string; version: string; models: string[]; vendor: string }, maxBytes: number): Promise<Firmware> {
    if (!NAME.test(meta.name)) throw new FirmwareError(`firmware name "${meta.name}" must be 1-64 characters of A-Z a-z 0-9 . _ -`, 'invalid');
    if (!VERSION.test(meta.version)) throw new FirmwareError(`firmware version "${meta.version}" must be 1-64 characters of A-Z a-z 0-9 . + _ -`, 'invalid');
    const models = [...new Set(meta.models.map((m) => m.trim()).filter(Boolean))];
    if (models.length === 0) throw new FirmwareError('at least one device model is required (--model)', 'invalid');
    const id = `${meta.name}@${meta.version}`;
    if (this.get(id)) throw new FirmwareError(`firmware ${id} already exists`, 'conflict');

    const tmp = join(this.blobs, `.upload-${randomBytes(8).toString('hex')}`);
    const hash = createHash('sha256');
    let size = 0;
    image.on('data', (chunk: Buffer) => {
      size += chunk.length;
      hash.update(chunk);
      if (size > maxBytes) image.destroy(new FirmwareError(`image larger than ${maxBytes} bytes`, 'too-large'));
    });
    try {
      await pipeline(image, createWriteStream(tmp, { mode: 0o600 }));
    } catch (err) {
      rmSync(tmp, { force: true });
      throw err;
    }
    if (size === 0) {
      rmSync(tmp, { force: true });
      throw new FirmwareError('the image is empty', 'invalid');
    }
    const sha256 = hash.digest('hex');
    const blob = join(this.blobs, sha256);
    // Same bytes, same name: replacing the blob also heals one damaged on disk since it was stored.
    renameSync(tmp, blob);
    const firmware: Firmware = { id, name: meta.name, version: meta.version, vendor: meta.vendor, models, size, sha256, createdAt: Date.now() };
    this.db
      .prepare('INSERT INTO firmware (id, sha256, size, name, version, vendor, models, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, sha256, size, firmware.name, firmware.version, firmware.vendor, JSON.stringify(models), firmware.createdAt);
    return firmware;
  }

  get(id: string): Firmware | undefined {
    const row = this.statements.firmware.get(id) as FirmwareRow | undefined;
    return row && toFirmware(row);
  }

  list(): Firmware[] {
    return (this.db.prepare('SELECT * FROM firmware ORDER BY name, created_at').all() as FirmwareRow[]).map(toFirmware);
  }

  imagePath(firmware: Firmware): string {
    return join(this.blobs, firmware.sha256);
  }

  /** The manifest a transfer serves, signed now with the operator key. */
  manifest(firmware: Firmware, opts: { allowDowngrade: boolean }): SignedManifest {
    return signManifest(
      {
        formatVersion: 1,
        vendor: firmware.vendor,
        models: firmware.models,
        name: firmware.name,
        version: firmware.version,
        size: firmware.size,
        sha256: firmware.sha256,
        ...(opts.allowDowngrade ? { allowDowngrade: true } : {}),
        issuedAt: new Date().toISOString(),
      },
      this.key.privateKey,
    );
  }

  createTransfer(t: { firmwareId: string; endpoint: string; rolloutId: string | null; transport: Transfer['transport']; allowDowngrade: boolean }): Transfer {
    const transfer: Transfer = { id: randomBytes(16).toString('base64url'), ...t, bytesServed: 0, requests: 0, createdAt: Date.now(), lastRequestAt: null };
    this.db
      .prepare('INSERT INTO transfers (id, firmware_id, endpoint, rollout_id, transport, allow_downgrade, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(transfer.id, t.firmwareId, t.endpoint, t.rolloutId, t.transport, t.allowDowngrade ? 1 : 0, transfer.createdAt);
    return transfer;
  }

  transfer(id: string): Transfer | undefined {
    this.flushServed();
    const row = this.statements.transfer.get(id) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  /**
   * A transfer and its image as a download needs them, for a block-wise download that asks once
   * per block: kept in memory and read from SQL again after `transferRecheckMs`, so a transfer
   * whose row went away (revoked, or removed behind this repository's back) stops being served
   * within that time; `revokeTransfer` stops it at once. Valid as long as the row exists, as
   * for the HTTP route.
   */
  servableTransfer(id: string): ServableTransfer | undefined {
    const now = Date.now();
    const cached = this.servable.get(id);
    if (cached && now - cached.checkedAt <= this.transferRecheckMs) return cached.transfer;
    this.servable.delete(id);
    const row = this.statements.transfer.get(id) as TransferRow | undefined;
    const firmware = row && this.get(row.firmware_id);
    if (!row || !firmware) return undefined;
    const transfer: ServableTransfer = { id: row.id, allowDowngrade: row.allow_downgrade === 1, firmware };
    // Entries go in in the order they were checked: the stale ones are at the front. Unknown ids
    // are never cached, so guessing cannot grow this beyond the transfers being served.
    for (const [staleId, entry] of this.servable) {
      if (now - entry.checkedAt <= this.transferRecheckMs) break;
      this.servable.delete(staleId);
    }
    this.servable.set(id, { transfer, checkedAt: now });
    return transfer;
  }

  /** Ends a transfer: its URI stops working at once (its row, and so its counters, are deleted). */
  revokeTransfer(id: string): boolean {
    this.servable.delete(id);
    this.pendingServed.delete(id);
    return this.statements.deleteTransfer.run(id).changes > 0;
  }

  /** Transfers oldest first, all of them or (with `offset`/`limit`) a page. */
  transfers(filter: { endpoint?: string; rolloutId?: string; offset?: number; limit?: number }): Transfer[] {
    this.flushServed();
    const rows = this.db
      .prepare(
        'SELECT * FROM transfers WHERE (@endpoint IS NULL OR endpoint = @endpoint) AND (@rollout IS NULL OR rollout_id = @rollout) ORDER BY created_at, id LIMIT @limit OFFSET @offset',
      )
      .all({ endpoint: filter.endpoint ?? null, rollout: filter.rolloutId ?? null, limit: filter.limit ?? -1, offset: filter.offset ?? 0 }) as TransferRow[];
    return rows.map(toTransfer);
  }

  countTransfers(filter: { endpoint?: string; rolloutId?: string }): number {
    return (
      this.db
        .prepare('SELECT COUNT(*) AS n FROM transfers WHERE (@endpoint IS NULL OR endpoint = @endpoint) AND (@rollout IS NULL OR rollout_id = @rollout)')
        .get({ endpoint: filter.endpoint ?? null, rollout: filter.rolloutId ?? null }) as { n: number }
    ).n;
  }

  /** Bytes served over all transfers of a rollout. */
  bytesServed(rolloutId: string): number {
    this.flushServed();
    return (this.db.prepare('SELECT COALESCE(SUM(bytes_served), 0) AS n FROM transfers WHERE rollout_id = ?').get(rolloutId) as { n: number }).n;
  }

  /** Counts bytes actually sent, so a resumed download shows as such. */
  countServed(transferId: string, bytes: number): void {
    this.statements.countServed.run(bytes, 1, Date.now(), transferId);
    for (const listener of this.servedListeners) listener(transferId, bytes);
  }

  /** Told of every count of bytes served (accounting). */
  onServed(listener: (transferId: string, bytes: number) => void): void {
    this.servedListeners.push(listener);
  }

  /**
   * `countServed` for a block-wise download (a request per 1 KiB block): counted in memory and
   * written within `servedFlushMs`, all pending transfers in one SQL transaction. Every read of
   * the counters here writes them first, so readers see exact figures; a gateway killed outright
   * loses at most the last `servedFlushMs` of counts.
   */
  countServedSoon(transferId: string, bytes: number): void {
    for (const listener of this.servedListeners) listener(transferId, bytes);
    const now = Date.now();
    const pending = this.pendingServed.get(transferId);
    if (pending) {
      pending.bytes += bytes;
      pending.requests++;
      pending.lastRequestAt = now;
    } else {
      this.pendingServed.set(transferId, { bytes, requests: 1, lastRequestAt: now });
    }
    this.flushTimer ??= setTimeout(() => this.flushServed(), this.servedFlushMs).unref();
  }

  /** Writes the counts `countServedSoon` holds. */
  flushServed(): void {
    clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pendingServed.size === 0 || !this.db.open) return;
    const pending = [...this.pendingServed];
    this.pendingServed.clear();
    this.db.transaction(() => {
      for (const [id, p] of pending) this.statements.countServed.run(p.bytes, p.requests, p.lastRequestAt, id);
    })();
  }

  /** Writes pending counts and closes the image files; the database stays open (its owner closes it). */
  async close(): Promise<void> {
    this.flushServed();
    this.servable.clear();
    await this.images.close();
  }
}

function toFirmware(row: FirmwareRow): Firmware {
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    vendor: row.vendor,
    models: JSON.parse(row.models) as string[],
    size: row.size,
    sha256: row.sha256,
    createdAt: row.created_at,
  };
}

function toTransfer(row: TransferRow): Transfer {
  return {
    id: row.id,
    firmwareId: row.firmware_id,
    endpoint: row.endpoint,
    rolloutId: row.rollout_id,
    transport: row.transport as Transfer['transport'],
    allowDowngrade: row.allow_downgrade === 1,
    bytesServed: row.bytes_served,
    requests: row.requests,
    createdAt: row.created_at,
    lastRequestAt: row.last_request_at,
  };
}
