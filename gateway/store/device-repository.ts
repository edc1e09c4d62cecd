import type { Link } from '../../protocol/model/index.js';
import type { RegistrationEvent } from '../device-link.js';
import { isValidLabel, LABEL_RULE } from '../../protocol/labels.js';
import type { DeviceStatus, TransportKind } from '../../protocol/states.js';
import type { Database } from './database.js';
import { statementCache } from './statement-cache.js';
import type { Statement } from 'better-sqlite3';

/** One device as the registry knows it. Times are Unix milliseconds. */
export interface DeviceRecord {
  endpoint: string;
  status: DeviceStatus;
  transport: TransportKind | null;
  factorySecretHash: string | null;
  /** Whether the factory secret is kept (sealed), so the device has an LwM2M bootstrap PSK; false for devices imported before. */
  hasBootstrapPsk: boolean;
  credentialHash: string | null;
  credentialIssuedAt: number | null;
  lwm2mVersion: string | null;
  binding: string | null;
  lifetime: number | null;
  queueMode: boolean;
  address: string | null;
  objectLinks: Link[];
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  /** The boot id the device reported when its Device object was last read into the columns above (DM over MQTT). */
  infoBootId: string | null;
  tags: string[];
  groups: string[];
  lastSeen: number | null;
  registeredAt: number | null;
  createdAt: number;
  updatedAt: number;
  decommissionedAt: number | null;
}

/** Identity columns learned from the device's Object 3. */
export interface DeviceInfo {
  manufacturer?: string;
  model?: string;
  serialNumber?: string;
  firmwareVersion?: string;
}

export interface FactoryIdentityRow {
  endpoint: string;
  factorySecretHash: string;
  /** The factory secret sealed (SealingKey); absent: not kept (the device has no bootstrap PSK). */
  factorySecretSealed?: Buffer;
  model?: string;
  tags: string[];
  groups: string[];
}

/** A registration as stored: what the device announced, and when. */
export interface RegistrationRow extends RegistrationEvent {
  at: number;
}

export interface GroupSummary {
  name: string;
  description: string | null;
  members: number;
}

export class DeviceNotFoundError extends Error {
  constructor(readonly endpoint: string) {
    super(`no device "${endpoint}" in the registry`);
    this.name = 'DeviceNotFoundError';
  }
}

export class InvalidLabelError extends Error {
  constructor(readonly label: string) {
    super(`invalid tag or group "${label}": use ${LABEL_RULE}`);
    this.name = 'InvalidLabelError';
  }
}

interface DeviceRow {
  endpoint: string;
  status: string;
  transport: string | null;
  factory_secret_hash: string | null;
  factory_secret_sealed: Buffer | null;
  credential_hash: string | null;
  credential_issued_at: number | null;
  lwm2m_version: string | null;
  binding: string | null;
  lifetime: number | null;
  queue_mode: number;
  address: string | null;
  object_links: string;
  manufacturer: string | null;
  model: string | null;
  serial_number: string | null;
  firmware_version: string | null;
  info_boot_id: string | null;
  last_seen: number | null;
  registered_at: number | null;
  created_at: number;
  updated_at: number;
  decommissioned_at: number | null;
}

function assertLabels(labels: readonly string[]): string[] {
  for (const l of labels) if (!isValidLabel(l)) throw new InvalidLabelError(l);
  return [...new Set(labels)];
}

/**
 * The persistent device registry. Synchronous on purpose: better-sqlite3 answers in
 * microseconds, and a synchronous store cannot interleave two updates of one device.
 */
export class DeviceRepository {
  private readonly stmt;

  private readonly sql: (sql: string) => Statement;

  constructor(private readonly db: Database) {
    this.sql = statementCache(db);
    this.stmt = {
      get: db.prepare<[string], DeviceRow>('SELECT * FROM devices WHERE endpoint = ?'),
      all: db.prepare<[], DeviceRow>('SELECT * FROM devices ORDER BY endpoint'),
      tagsOf: db.prepare<[string], { tag: string }>('SELECT tag FROM device_tags WHERE endpoint = ? ORDER BY tag'),
      groupsOf: db.prepare<[string], { group_name: string }>('SELECT group_name FROM device_groups WHERE endpoint = ? ORDER BY group_name'),
      allTags: db.prepare<[], { endpoint: string; tag: string }>('SELECT endpoint, tag FROM device_tags ORDER BY endpoint, tag'),
      allGroups: db.prepare<[], { endpoint: string; group_name: string }>('SELECT endpoint, group_name FROM device_groups ORDER BY endpoint, group_name'),
      insert: db.prepare(
        `INSERT INTO devices (endpoint, status, factory_secret_hash, factory_secret_sealed, model, created_at, updated_at)
         VALUES (@endpoint, 'offline', @factorySecretHash, @factorySecretSealed, @model, @at, @at)`,
      ),
      reimport: db.prepare(
        `UPDATE devices SET factory_secret_hash = @factorySecretHash, factory_secret_sealed = @factorySecretSealed, model = COALESCE(@model, model), updated_at = @at,
           status = CASE WHEN status = 'decommissioned' THEN 'offline' ELSE status END, decommissioned_at = NULL
         WHERE endpoint = @endpoint`,
      ),
      addTag: db.prepare('INSERT OR IGNORE INTO device_tags (endpoint, tag) VALUES (?, ?)'),
      removeTag: db.prepare('DELETE FROM device_tags WHERE endpoint = ? AND tag = ?'),
      clearTags: db.prepare('DELETE FROM device_tags WHERE endpoint = ?'),
      ensureGroup: db.prepare('INSERT OR IGNORE INTO groups (name, created_at) VALUES (?, ?)'),
      addGroup: db.prepare('INSERT OR IGNORE INTO device_groups (endpoint, group_name) VALUES (?, ?)'),
      removeGroup: db.prepare('DELETE FROM device_groups WHERE endpoint = ? AND group_name = ?'),
      clearGroups: db.prepare('DELETE FROM device_groups WHERE endpoint = ?'),
      touchUpdated: db.prepare('UPDATE devices SET updated_at = ? WHERE endpoint = ?'),
      sealedSecret: db.prepare<[string], { factory_secret_sealed: Buffer | null }>('SELECT factory_secret_sealed FROM devices WHERE endpoint = ?'),
    };
  }

  get(endpoint: string): DeviceRecord | undefined {
    const row = this.stmt.get.get(endpoint);
    if (!row) return undefined;
    return toRecord(
      row,
      this.stmt.tagsOf.all(endpoint).map((r) => r.tag),
      this.stmt.groupsOf.all(endpoint).map((r) => r.group_name),
    );
  }

  /** Every device, in endpoint order; labels fetched in two queries, not two per device. */
  list(): DeviceRecord[] {
    const tags = groupBy(this.stmt.allTags.all(), (r) => r.endpoint, (r) => r.tag);
    const groups = groupBy(this.stmt.allGroups.all(), (r) => r.endpoint, (r) => r.group_name);
    return this.stmt.all.all().map((row) => toRecord(row, tags.get(row.endpoint) ?? [], groups.get(row.endpoint) ?? []));
  }

  /**
   * Adds devices or replaces their factory secret; all or nothing. Re-importing a
   * decommissioned device re-admits it (to bootstrap again). Labels from the import are added.
   */
  importFactoryIdentities(rows: readonly FactoryIdentityRow[], at: number): { created: number; updated: number } {
    for (const r of rows) {
      assertLabels(r.tags);
      assertLabels(r.groups);
    }
    let created = 0;
    let updated = 0;
    this.db.transaction(() => {
      for (const r of rows) {
        const params = { endpoint: r.endpoint, factorySecretHash: r.factorySecretHash, factorySecretSealed: r.factorySecretSealed ?? null, model: r.model ?? null, at };
        if (this.stmt.get.get(r.endpoint)) {
          this.stmt.reimport.run(params);
          updated++;
        } else {
          this.stmt.insert.run(params);
          created++;
        }
        for (const t of r.tags) this.stmt.addTag.run(r.endpoint, t);
        for (const g of r.groups) this.linkGroup(r.endpoint, g, at);
      }
    })();
    return { created, updated };
  }

  /** The device's factory secret as sealed at import; undefined when it was not kept (or the device is decommissioned). */
  sealedFactorySecret(endpoint: string): Buffer | undefined {
    return this.stmt.sealedSecret.get(endpoint)?.factory_secret_sealed ?? undefined;
  }

  /** Devices in service whose factory secret was not kept (imported before it was): no bootstrap PSK. */
  countWithoutSealedFactorySecret(): number {
    return this.db
      .prepare<[], { n: number }>(`SELECT COUNT(*) AS n FROM devices WHERE status != 'decommissioned' AND factory_secret_hash IS NOT NULL AND factory_secret_sealed IS NULL`)
      .get()!.n;
  }

  setOperationalCredential(endpoint: string, credentialHash: string, at: number): void {
    this.update(endpoint, 'credential_hash = ?, credential_issued_at = ?, updated_at = ?', [credentialHash, at, at]);
  }

  clearOperationalCredential(endpoint: string, at: number): void {
    this.update(endpoint, 'credential_hash = NULL, credential_issued_at = NULL, updated_at = ?', [at]);
  }

  setStatus(endpoint: string, status: DeviceStatus, at: number): void {
    this.update(endpoint, 'status = ?, last_seen = ?, updated_at = ?', [status, at, at]);
  }

  touch(endpoint: string, at: number): void {
    this.update(endpoint, 'last_seen = ?', [at]);
  }

  recordRegistration(endpoint: string, r: RegistrationRow): void {
    this.update(
      endpoint,
      `status = 'online', transport = ?, lwm2m_version = ?, lifetime = ?, binding = ?, queue_mode = ?, object_links = ?,
       address = ?, last_seen = ?, registered_at = ?, updated_at = ?`,
      [r.transport, r.lwm2mVersion, r.lifetime, r.binding, r.queueMode ? 1 : 0, JSON.stringify(r.objectLinks), r.address, r.at, r.at, r.at],
    );
  }

  updateInfo(endpoint: string, info: DeviceInfo, at: number): void {
    this.update(
      endpoint,
      `manufacturer = COALESCE(?, manufacturer), model = COALESCE(?, model), serial_number = COALESCE(?, serial_number),
       firmware_version = COALESCE(?, firmware_version), updated_at = ?`,
      [info.manufacturer ?? null, info.model ?? null, info.serialNumber ?? null, info.firmwareVersion ?? null, at],
    );
  }

  /** The Device object was read during the device's boot `bootId`: the identity columns hold for that boot. */
  markInfoRead(endpoint: string, bootId: string): void {
    this.update(endpoint, 'info_boot_id = ?', [bootId]);
  }

  setTags(endpoint: string, tags: readonly string[], at: number): void {
    const valid = assertLabels(tags);
    this.inTransaction(endpoint, at, () => {
      this.stmt.clearTags.run(endpoint);
      for (const t of valid) this.stmt.addTag.run(endpoint, t);
    });
  }

  addTags(endpoint: string, tags: readonly string[], at: number): void {
    const valid = assertLabels(tags);
    this.inTransaction(endpoint, at, () => valid.forEach((t) => this.stmt.addTag.run(endpoint, t)));
  }

  removeTags(endpoint: string, tags: readonly string[], at: number): void {
    this.inTransaction(endpoint, at, () => tags.forEach((t) => this.stmt.removeTag.run(endpoint, t)));
  }

  setGroups(endpoint: string, groups: readonly string[], at: number): void {
    const valid = assertLabels(groups);
    this.inTransaction(endpoint, at, () => {
      this.stmt.clearGroups.run(endpoint);
      for (const g of valid) this.linkGroup(endpoint, g, at);
    });
  }

  addGroups(endpoint: string, groups: readonly string[], at: number): void {
    const valid = assertLabels(groups);
    this.inTransaction(endpoint, at, () => valid.forEach((g) => this.linkGroup(endpoint, g, at)));
  }

  removeGroups(endpoint: string, groups: readonly string[], at: number): void {
    this.inTransaction(endpoint, at, () => groups.forEach((g) => this.stmt.removeGroup.run(endpoint, g)));
  }

  listGroups(): GroupSummary[] {
    return this.db
      .prepare<[], GroupSummary>(
        `SELECT g.name AS name, g.description AS description, COUNT(dg.endpoint) AS members
         FROM groups g LEFT JOIN device_groups dg ON dg.group_name = g.name
         GROUP BY g.name ORDER BY g.name`,
      )
      .all();
  }

  /** Creates an empty group; false when it exists already. */
  createGroup(name: string, description: string | null, at: number): boolean {
    assertLabels([name]);
    return this.db.prepare('INSERT OR IGNORE INTO groups (name, description, created_at) VALUES (?, ?, ?)').run(name, description, at).changes > 0;
  }

  /** Deletes a group and its memberships (the devices stay); the member count it had, or undefined when there was no such group. */
  deleteGroup(name: string): number | undefined {
    return this.db.transaction(() => {
      const members = this.db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM device_groups WHERE group_name = ?').get(name)!.n;
      return this.db.prepare('DELETE FROM groups WHERE name = ?').run(name).changes > 0 ? members : undefined;
    })();
  }

  /** Every tag in use, with how many devices carry it. */
  listTags(): { name: string; devices: number }[] {
    return this.db.prepare<[], { name: string; devices: number }>('SELECT tag AS name, COUNT(*) AS devices FROM device_tags GROUP BY tag ORDER BY tag').all();
  }

  /** Adds or removes one tag or group on many devices in one transaction; returns how many changed. */
  relabel(kind: 'tags' | 'groups', label: string, endpoints: readonly string[], action: 'add' | 'remove', at: number): number {
    if (action === 'add') assertLabels([label]);
    let changed = 0;
    this.db.transaction(() => {
      if (kind === 'groups' && action === 'add') this.stmt.ensureGroup.run(label, at);
      const stmt = kind === 'tags' ? (action === 'add' ? this.stmt.addTag : this.stmt.removeTag) : action === 'add' ? this.stmt.addGroup : this.stmt.removeGroup;
      for (const endpoint of endpoints) {
        if (stmt.run(endpoint, label).changes > 0) {
          changed++;
          this.stmt.touchUpdated.run(at, endpoint);
        }
      }
    })();
    return changed;
  }

  /** Revokes the operational credential and the factory one: the device cannot come back unless re-imported. */
  decommission(endpoint: string, at: number): void {
    this.update(
      endpoint,
      `status = 'decommissioned', credential_hash = NULL, credential_issued_at = NULL, factory_secret_hash = NULL, factory_secret_sealed = NULL,
       decommissioned_at = ?, updated_at = ?`,
      [at, at],
    );
  }

  /** At start-up no session exists yet, so nobody is online; returns how many changed. */
  markAllOffline(at: number): number {
    return this.db
      .prepare(`UPDATE devices SET status = 'offline', updated_at = ? WHERE status IN ('online', 'bootstrapping', 'sleeping')`)
      .run(at).changes;
  }

  countByStatus(): Record<string, number> {
    const counts: Record<string, number> = {};
    for (const r of this.db.prepare<[], { status: string; n: number }>('SELECT status, COUNT(*) AS n FROM devices GROUP BY status').all()) {
      counts[r.status] = r.n;
    }
    return counts;
  }

  private linkGroup(endpoint: string, group: string, at: number): void {
    this.stmt.ensureGroup.run(group, at);
    this.stmt.addGroup.run(endpoint, group);
  }

  private inTransaction(endpoint: string, at: number, fn: () => void): void {
    this.db.transaction(() => {
      if (this.stmt.touchUpdated.run(at, endpoint).changes === 0) throw new DeviceNotFoundError(endpoint);
      fn();
    })();
  }

  private update(endpoint: string, assignments: string, params: unknown[]): void {
    // `assignments` is one of a few fixed strings: each is prepared once.
    const result = this.sql(`UPDATE devices SET ${assignments} WHERE endpoint = ?`).run(...params, endpoint);
    if (result.changes === 0) throw new DeviceNotFoundError(endpoint);
  }
}

function toRecord(row: DeviceRow, tags: string[], groups: string[]): DeviceRecord {
  return {
    endpoint: row.endpoint,
    status: row.status as DeviceStatus,
    transport: row.transport as TransportKind | null,
    factorySecretHash: row.factory_secret_hash,
    hasBootstrapPsk: row.factory_secret_sealed !== null,
    credentialHash: row.credential_hash,
    credentialIssuedAt: row.credential_issued_at,
    lwm2mVersion: row.lwm2m_version,
    binding: row.binding,
    lifetime: row.lifetime,
    queueMode: row.queue_mode === 1,
    address: row.address,
    objectLinks: JSON.parse(row.object_links) as Link[],
    manufacturer: row.manufacturer,
    model: row.model,
    serialNumber: row.serial_number,
    firmwareVersion: row.firmware_version,
    infoBootId: row.info_boot_id,
    tags,
    groups,
    lastSeen: row.last_seen,
    registeredAt: row.registered_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    decommissionedAt: row.decommissioned_at,
  };
}

function groupBy<T>(rows: T[], key: (r: T) => string, value: (r: T) => string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const r of rows) {
    const k = key(r);
    let list = out.get(k);
    if (!list) out.set(k, (list = []));
    list.push(value(r));
  }
  return out;
}
