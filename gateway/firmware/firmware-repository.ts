import { createHash, randomBytes } from 'node:crypto';
import { createWriteStream, mkdirSync, renameSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { signManifest, type SignedManifest } from '../../protocol/firmware/index.js';
import type { Delivery } from '../rollouts/rollout-policy.js';
import type { Database } from '../store/database.js';
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

export class FirmwareError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'conflict' | 'not-found',
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

  constructor(
    private readonly db: Database,
    dataDir: string,
    private readonly key: OperatorKey,
  ) {
    this.blobs = join(dataDir, 'firmware', 'sha256');
    mkdirSync(this.blobs, { recursive: true, mode: 0o700 });
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
      if (size > maxBytes) image.destroy(new FirmwareError(`image larger than ${maxBytes} bytes`, 'invalid'));
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
    const row = this.db.prepare('SELECT * FROM firmware WHERE id = ?').get(id) as FirmwareRow | undefined;
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
    const row = this.db.prepare('SELECT * FROM transfers WHERE id = ?').get(id) as TransferRow | undefined;
    return row && toTransfer(row);
  }

  transfers(filter: { endpoint?: string; rolloutId?: string }): Transfer[] {
    const rows = this.db
      .prepare('SELECT * FROM transfers WHERE (@endpoint IS NULL OR endpoint = @endpoint) AND (@rollout IS NULL OR rollout_id = @rollout) ORDER BY created_at')
      .all({ endpoint: filter.endpoint ?? null, rollout: filter.rolloutId ?? null }) as TransferRow[];
    return rows.map(toTransfer);
  }

  /** Bytes served over all transfers of a rollout. */
  bytesServed(rolloutId: string): number {
    return (this.db.prepare('SELECT COALESCE(SUM(bytes_served), 0) AS n FROM transfers WHERE rollout_id = ?').get(rolloutId) as { n: number }).n;
  }

  /** Counts bytes actually sent, so a resumed download shows as such. */
  countServed(transferId: string, bytes: number): void {
    this.db.prepare('UPDATE transfers SET bytes_served = bytes_served + ?, requests = requests + 1, last_request_at = ? WHERE id = ?').run(bytes, Date.now(), transferId);
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
