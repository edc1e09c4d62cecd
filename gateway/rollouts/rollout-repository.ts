import { randomBytes } from 'node:crypto';
import type { Database } from '../store/database.js';
import { DEFAULT_ROLLOUT_POLICY, TERMINAL_DEVICE_STATES, type DeviceUpdateState, type RolloutPolicy, type RolloutState } from './rollout-policy.js';
import type { Statement } from 'better-sqlite3';
import { statementCache } from '../store/statement-cache.js';

const TERMINAL_LIST = [...TERMINAL_DEVICE_STATES].map((s) => `'${s}'`).join(', ');

export interface Rollout {
  id: string;
  firmwareId: string;
  target: string;
  policy: RolloutPolicy;
  state: RolloutState;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  finishedAt: number | null;
}

export interface RolloutDevice {
  rolloutId: string;
  endpoint: string;
  batch: number;
  position: number;
  state: DeviceUpdateState;
  updateResult: number | null;
  reason: string | null;
  attempts: number;
  fromVersion: string | null;
  transferId: string | null;
  startedAt: number | null;
  finishedAt: number | null;
  nextCheckAt: number | null;
  updatedAt: number;
}

interface RolloutRow {
  id: string;
  firmware_id: string;
  target: string;
  policy: string;
  state: string;
  reason: string | null;
  created_at: number;
  updated_at: number;
  finished_at: number | null;
}

interface DeviceRow {
  rollout_id: string;
  endpoint: string;
  batch: number;
  position: number;
  state: string;
  update_result: number | null;
  reason: string | null;
  attempts: number;
  from_version: string | null;
  transfer_id: string | null;
  started_at: number | null;
  finished_at: number | null;
  next_check_at: number | null;
  updated_at: number;
}

export type DeviceChange = Partial<Omit<RolloutDevice, 'rolloutId' | 'endpoint' | 'batch' | 'position'>>;

const COLUMN: Record<keyof DeviceChange, string> = {
  state: 'state',
  updateResult: 'update_result',
  reason: 'reason',
  attempts: 'attempts',
  fromVersion: 'from_version',
  transferId: 'transfer_id',
  startedAt: 'started_at',
  finishedAt: 'finished_at',
  nextCheckAt: 'next_check_at',
  updatedAt: 'updated_at',
};

/** Rollouts and their per-device progress, in the gateway's SQL store: they survive a kill -9. */
export class RolloutRepository {
  private readonly sql: (sql: string) => Statement;

  constructor(private readonly db: Database) {
    this.sql = statementCache(db);
  }

  create(r: { firmwareId: string; target: string; policy: RolloutPolicy; endpoints: string[]; batches: number[] }, now = Date.now()): Rollout {
    const id = `ro-${randomBytes(6).toString('hex')}`;
    const insertDevice = this.sql(
      'INSERT INTO rollout_devices (rollout_id, endpoint, batch, position, state, updated_at) VALUES (?, ?, ?, ?, ?, ?)',
    );
    this.db.transaction(() => {
      this.db
        .prepare('INSERT INTO rollouts (id, firmware_id, target, policy, state, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
        .run(id, r.firmwareId, r.target, JSON.stringify(r.policy), 'running', now, now);
      r.endpoints.forEach((endpoint, i) => insertDevice.run(id, endpoint, r.batches[i] ?? 0, i, 'queued', now));
    })();
    return this.get(id)!;
  }

  get(id: string): Rollout | undefined {
    const row = this.sql('SELECT * FROM rollouts WHERE id = ?').get(id) as RolloutRow | undefined;
    return row && toRollout(row);
  }

  list(): Rollout[] {
    return (this.sql('SELECT * FROM rollouts ORDER BY created_at DESC').all() as RolloutRow[]).map(toRollout);
  }

  /** A page of rollouts, newest first, and how many there are. */
  page(offset: number, limit: number): { items: Rollout[]; total: number } {
    const rows = this.sql('SELECT * FROM rollouts ORDER BY created_at DESC, id LIMIT ? OFFSET ?').all(limit, offset) as RolloutRow[];
    return { items: rows.map(toRollout), total: (this.sql('SELECT COUNT(*) AS n FROM rollouts').get() as { n: number }).n };
  }

  active(): Rollout[] {
    return (this.sql("SELECT * FROM rollouts WHERE state IN ('running', 'paused', 'aborted', 'cancelled') AND finished_at IS NULL ORDER BY created_at").all() as RolloutRow[]).map(
      toRollout,
    );
  }

  setState(id: string, state: RolloutState, reason: string | null, now = Date.now()): void {
    this.sql('UPDATE rollouts SET state = ?, reason = COALESCE(?, reason), updated_at = ? WHERE id = ?').run(state, reason, now, id);
  }

  /** No device of the rollout needs the engine any more. */
  finish(id: string, now = Date.now()): void {
    this.sql('UPDATE rollouts SET finished_at = ?, updated_at = ? WHERE id = ?').run(now, now, id);
  }

  devices(rolloutId: string): RolloutDevice[] {
    return (this.sql('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position').all(rolloutId) as DeviceRow[]).map(toDevice);
  }

  /** A page of a rollout's devices in target order, and how many it has. */
  devicesPage(rolloutId: string, offset: number, limit: number): { items: RolloutDevice[]; total: number } {
    const rows = this.sql('SELECT * FROM rollout_devices WHERE rollout_id = ? ORDER BY position LIMIT ? OFFSET ?').all(rolloutId, limit, offset) as DeviceRow[];
    const total = (this.sql('SELECT COUNT(*) AS n FROM rollout_devices WHERE rollout_id = ?').get(rolloutId) as { n: number }).n;
    return { items: rows.map(toDevice), total };
  }

  device(rolloutId: string, endpoint: string): RolloutDevice | undefined {
    const row = this.sql('SELECT * FROM rollout_devices WHERE rollout_id = ? AND endpoint = ?').get(rolloutId, endpoint) as DeviceRow | undefined;
    return row && toDevice(row);
  }

  updateDevice(rolloutId: string, endpoint: string, change: DeviceChange, now = Date.now()): void {
    const full: DeviceChange = { ...change, updatedAt: now };
    const keys = Object.keys(full) as (keyof DeviceChange)[];
    const sql = `UPDATE rollout_devices SET ${keys.map((k) => `${COLUMN[k]} = @${k}`).join(', ')} WHERE rollout_id = @rolloutId AND endpoint = @endpoint`;
    this.sql(sql).run({ ...full, rolloutId, endpoint });
  }

  /** The device came back: look at its open updates at the next tick. */
  checkNow(endpoint: string): void {
    this.sql(`UPDATE rollout_devices SET next_check_at = NULL WHERE endpoint = ? AND state NOT IN (${TERMINAL_LIST})`).run(endpoint);
  }

  /** Rollouts (other than `except`) in which the device has an update under way. */
  busyElsewhere(endpoint: string, except: string): string[] {
    return (
      this.db
        .prepare(
          `SELECT d.rollout_id AS id FROM rollout_devices d JOIN rollouts r ON r.id = d.rollout_id
           WHERE d.endpoint = ? AND d.rollout_id != ? AND d.state IN ('downloading', 'downloaded', 'updating') AND r.finished_at IS NULL`,
        )
        .all(endpoint, except) as { id: string }[]
    ).map((r) => r.id);
  }
}

function toRollout(row: RolloutRow): Rollout {
  return {
    id: row.id,
    firmwareId: row.firmware_id,
    target: row.target,
    // Rollouts stored before a policy field existed take its default.
    policy: { ...DEFAULT_ROLLOUT_POLICY, ...(JSON.parse(row.policy) as Partial<RolloutPolicy>) },
    state: row.state as RolloutState,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

function toDevice(row: DeviceRow): RolloutDevice {
  return {
    rolloutId: row.rollout_id,
    endpoint: row.endpoint,
    batch: row.batch,
    position: row.position,
    state: row.state as DeviceUpdateState,
    updateResult: row.update_result,
    reason: row.reason,
    attempts: row.attempts,
    fromVersion: row.from_version,
    transferId: row.transfer_id,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    nextCheckAt: row.next_check_at,
    updatedAt: row.updated_at,
  };
}
