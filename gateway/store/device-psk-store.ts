import type { Statement } from 'better-sqlite3';
import type { SealingKey } from '../security/sealing-key.js';
import type { Database } from './database.js';

/** A device's DTLS pre-shared key: identity (sent in clear in the handshake) and key. */
export interface DevicePsk {
  endpoint: string;
  identity: string;
  key: Buffer;
  createdAt: number;
}

export class PskIdentityTakenError extends Error {
  constructor(readonly identity: string) {
    super(`the PSK identity "${identity}" belongs to another device`);
    this.name = 'PskIdentityTakenError';
  }
}

interface Row {
  endpoint: string;
  identity: string;
  key_sealed: Buffer;
  created_at: number;
}

/**
 * The registry's PSKs (table device_psk), keys sealed at rest (SealingKey, the endpoint and
 * identity as associated data). Reads come from a cache of opened keys: a DTLS server looks a
 * key up synchronously inside a handshake, and that must not cost a decryption each time.
 */
export class DevicePskStore {
  private readonly byEndpoint = new Map<string, DevicePsk | null>();
  private readonly endpointOfIdentity = new Map<string, string>();
  private readonly selectByEndpoint: Statement<[string], Row>;
  private readonly selectByIdentity: Statement<[string], Row>;

  constructor(
    private readonly db: Database,
    /** Called on the first key sealed or opened (it may create the key file). */
    private readonly sealing: () => SealingKey,
  ) {
    this.selectByEndpoint = db.prepare('SELECT * FROM device_psk WHERE endpoint = ?');
    this.selectByIdentity = db.prepare('SELECT * FROM device_psk WHERE identity = ?');
  }

  get(endpoint: string): DevicePsk | undefined {
    const cached = this.byEndpoint.get(endpoint);
    if (cached !== undefined) return cached ?? undefined;
    const row = this.selectByEndpoint.get(endpoint);
    const psk = row ? this.open(row) : undefined;
    this.remember(endpoint, psk);
    return psk;
  }

  byIdentity(identity: string): DevicePsk | undefined {
    const endpoint = this.endpointOfIdentity.get(identity);
    if (endpoint !== undefined) return this.get(endpoint);
    const row = this.selectByIdentity.get(identity);
    if (!row) return undefined;
    const psk = this.open(row);
    this.remember(row.endpoint, psk);
    return psk;
  }

  /** Sets (or replaces) a device's PSK. The device must be in the registry. */
  set(endpoint: string, identity: string, key: Buffer, at: number): DevicePsk {
    const other = this.selectByIdentity.get(identity);
    if (other && other.endpoint !== endpoint) throw new PskIdentityTakenError(identity);
    this.db
      .prepare(
        `INSERT INTO device_psk (endpoint, identity, key_sealed, created_at) VALUES (?, ?, ?, ?)
         ON CONFLICT (endpoint) DO UPDATE SET identity = excluded.identity, key_sealed = excluded.key_sealed, created_at = excluded.created_at`,
      )
      .run(endpoint, identity, this.sealing().seal(key, context(endpoint, identity)), at);
    this.forget(endpoint);
    const psk = { endpoint, identity, key: Buffer.from(key), createdAt: at };
    this.remember(endpoint, psk);
    return psk;
  }

  /** Removes a device's PSK; false when it had none. */
  remove(endpoint: string): boolean {
    const removed = this.db.prepare('DELETE FROM device_psk WHERE endpoint = ?').run(endpoint).changes > 0;
    this.forget(endpoint);
    return removed;
  }

  private open(row: Row): DevicePsk {
    return { endpoint: row.endpoint, identity: row.identity, key: this.sealing().open(row.key_sealed, context(row.endpoint, row.identity)), createdAt: row.created_at };
  }

  private remember(endpoint: string, psk: DevicePsk | undefined): void {
    this.byEndpoint.set(endpoint, psk ?? null);
    if (psk) this.endpointOfIdentity.set(psk.identity, endpoint);
  }

  private forget(endpoint: string): void {
    const cached = this.byEndpoint.get(endpoint);
    if (cached) this.endpointOfIdentity.delete(cached.identity);
    this.byEndpoint.delete(endpoint);
  }
}

function context(endpoint: string, identity: string): string {
  return `edgedm device psk\0${endpoint}\0${identity}`;
}
