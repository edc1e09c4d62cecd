import { randomBytes } from 'node:crypto';
import type { JsonRecord, ResultCode } from '../../protocol/model/index.js';
import { COMMAND_STATES, type CommandState, type TerminalCommandState } from '../../protocol/states.js';
import type { Database } from '../store/database.js';
import type { CommandSpec } from './command-spec.js';

/** A fleet command as a whole: running until every device has an outcome, or cancelled. */
export const FLEET_COMMAND_STATES = ['running', 'completed', 'cancelled'] as const;
export type FleetCommandState = (typeof FLEET_COMMAND_STATES)[number];

export interface CommandPolicy {
  /** How long after creation a device may still get the command; then it ends `expired`. */
  ttlSeconds: number;
  /** Devices with a request in flight at once. */
  maxConcurrent: number;
  /** Sends per minute at most (re-deliveries included); null for no limit. */
  ratePerMin: number | null;
  /** How long one device request may take. */
  timeoutMs: number;
  /** Sends to a device that stays connected but does not answer, before it fails. */
  maxAttempts: number;
}

export interface FleetCommand {
  id: string;
  seq: number;
  target: string;
  spec: CommandSpec;
  policy: CommandPolicy;
  state: FleetCommandState;
  reason: string | null;
  createdAt: number;
  updatedAt: number;
  expiresAt: number;
  finishedAt: number | null;
}

/** What one step of a command gave on one device. */
export interface StepOutcome {
  kind: string;
  path: string;
  code: ResultCode;
  message?: string;
  content?: JsonRecord[];
  /** Event Log reads: the most recent lines of LogData, oldest first. */
  recentEvents?: string[];
}

export interface DeviceResult {
  steps: StepOutcome[];
}

export interface CommandDevice {
  commandId: string;
  endpoint: string;
  position: number;
  state: CommandState;
  attempts: number;
  reason: string | null;
  result: DeviceResult | null;
  queuedAt: number;
  sentAt: number | null;
  finishedAt: number | null;
  expiresAt: number;
  updatedAt: number;
}

interface CommandRow {
  id: string;
  seq: number;
  target: string;
  spec: string;
  policy: string;
  state: string;
  reason: string | null;
  created_at: number;
  updated_at: number;
  expires_at: number;
  finished_at: number | null;
}

interface DeviceRow {
  command_id: string;
  endpoint: string;
  position: number;
  state: string;
  attempts: number;
  reason: string | null;
  result: string | null;
  queued_at: number;
  sent_at: number | null;
  finished_at: number | null;
  expires_at: number;
  updated_at: number;
}

const OPEN_STATES = "('queued', 'sent')";

/**
 * Fleet commands and their per-device rows in the gateway's SQL store. Every state change is
 * written before the engine acts on it, so a gateway killed at any moment restarts with each
 * device's command exactly where it was (a row `sent` is sent again with the same id).
 */
export class CommandRepository {
  private readonly stmt;

  constructor(private readonly db: Database) {
    this.stmt = {
      nextSeq: db.prepare<[], { seq: number | null }>('SELECT MAX(seq) AS seq FROM fleet_commands'),
      insertCommand: db.prepare(
        `INSERT INTO fleet_commands (id, seq, target, spec, policy, state, created_at, updated_at, expires_at)
         VALUES (@id, @seq, @target, @spec, @policy, 'running', @now, @now, @expiresAt)`,
      ),
      insertDevice: db.prepare(
        `INSERT INTO fleet_command_devices (command_id, endpoint, position, state, queued_at, expires_at, updated_at)
         VALUES (?, ?, ?, 'queued', ?, ?, ?)`,
      ),
      get: db.prepare<[string], CommandRow>('SELECT * FROM fleet_commands WHERE id = ?'),
      page: db.prepare<[number, number], CommandRow>('SELECT * FROM fleet_commands ORDER BY seq DESC LIMIT ? OFFSET ?'),
      count: db.prepare<[], { n: number }>('SELECT COUNT(*) AS n FROM fleet_commands'),
      open: db.prepare<[], CommandRow>('SELECT * FROM fleet_commands WHERE finished_at IS NULL ORDER BY seq'),
      openDevices: db.prepare<[string], DeviceRow>(`SELECT * FROM fleet_command_devices WHERE command_id = ? AND state IN ${OPEN_STATES} ORDER BY position`),
      device: db.prepare<[string, string], DeviceRow>('SELECT * FROM fleet_command_devices WHERE command_id = ? AND endpoint = ?'),
      devicesPage: db.prepare<[string, number, number], DeviceRow>('SELECT * FROM fleet_command_devices WHERE command_id = ? ORDER BY position LIMIT ? OFFSET ?'),
      devicesInStatePage: db.prepare<[string, string, number, number], DeviceRow>(
        'SELECT * FROM fleet_command_devices WHERE command_id = ? AND state = ? ORDER BY position LIMIT ? OFFSET ?',
      ),
      ofDevice: db.prepare<[string, number, number], DeviceRow>(
        `SELECT d.* FROM fleet_command_devices d JOIN fleet_commands c ON c.id = d.command_id
         WHERE d.endpoint = ? ORDER BY c.seq DESC LIMIT ? OFFSET ?`,
      ),
      countOfDevice: db.prepare<[string], { n: number }>('SELECT COUNT(*) AS n FROM fleet_command_devices WHERE endpoint = ?'),
      counts: db.prepare<[string], { state: string; n: number }>('SELECT state, COUNT(*) AS n FROM fleet_command_devices WHERE command_id = ? GROUP BY state'),
      results: db.prepare<[string], { result: string }>('SELECT result FROM fleet_command_devices WHERE command_id = ? AND result IS NOT NULL'),
      markSent: db.prepare(
        `UPDATE fleet_command_devices SET state = 'sent', sent_at = @now, attempts = attempts + 1, updated_at = @now
         WHERE command_id = @commandId AND endpoint = @endpoint AND state IN ${OPEN_STATES}`,
      ),
      saveResult: db.prepare('UPDATE fleet_command_devices SET result = @result, updated_at = @now WHERE command_id = @commandId AND endpoint = @endpoint'),
      finishDevice: db.prepare(
        `UPDATE fleet_command_devices SET state = @state, reason = @reason, result = COALESCE(@result, result), finished_at = @now, updated_at = @now
         WHERE command_id = @commandId AND endpoint = @endpoint AND state IN ${OPEN_STATES}`,
      ),
      setState: db.prepare('UPDATE fleet_commands SET state = ?, reason = COALESCE(?, reason), updated_at = ? WHERE id = ?'),
      finish: db.prepare('UPDATE fleet_commands SET finished_at = ?, updated_at = ? WHERE id = ?'),
    };
  }

  /** The command and one `queued` row per device, in one transaction. */
  create(input: { target: string; spec: CommandSpec; policy: CommandPolicy; endpoints: readonly string[] }, now: number): FleetCommand {
    const id = `fc-${randomBytes(6).toString('hex')}`;
    const expiresAt = now + input.policy.ttlSeconds * 1000;
    this.db.transaction(() => {
      const seq = (this.stmt.nextSeq.get()?.seq ?? 0) + 1;
      this.stmt.insertCommand.run({ id, seq, target: input.target, spec: JSON.stringify(input.spec), policy: JSON.stringify(input.policy), now, expiresAt });
      input.endpoints.forEach((endpoint, i) => this.stmt.insertDevice.run(id, endpoint, i, now, expiresAt, now));
    })();
    return this.get(id)!;
  }

  get(id: string): FleetCommand | undefined {
    const row = this.stmt.get.get(id);
    return row && toCommand(row);
  }

  /** Newest first. */
  list(offset: number, limit: number): { items: FleetCommand[]; total: number } {
    return { items: this.stmt.page.all(limit, offset).map(toCommand), total: this.stmt.count.get()!.n };
  }

  /** Commands some device still needs, oldest first: the order every device receives them in. */
  open(): FleetCommand[] {
    return this.stmt.open.all().map(toCommand);
  }

  openDevices(commandId: string): CommandDevice[] {
    return this.stmt.openDevices.all(commandId).map(toDevice);
  }

  device(commandId: string, endpoint: string): CommandDevice | undefined {
    const row = this.stmt.device.get(commandId, endpoint);
    return row && toDevice(row);
  }

  devices(commandId: string, opts: { state?: CommandState; offset: number; limit: number }): { items: CommandDevice[]; total: number } {
    const counts = this.counts(commandId);
    const total = opts.state ? counts[opts.state] : Object.values(counts).reduce((a, b) => a + b, 0);
    const rows = opts.state
      ? this.stmt.devicesInStatePage.all(commandId, opts.state, opts.limit, opts.offset)
      : this.stmt.devicesPage.all(commandId, opts.limit, opts.offset);
    return { items: rows.map(toDevice), total };
  }

  /** One device's rows over every command that included it, newest command first. */
  ofDevice(endpoint: string, offset: number, limit: number): { items: CommandDevice[]; total: number } {
    return { items: this.stmt.ofDevice.all(endpoint, limit, offset).map(toDevice), total: this.stmt.countOfDevice.get(endpoint)!.n };
  }

  counts(commandId: string): Record<CommandState, number> {
    const counts = Object.fromEntries(COMMAND_STATES.map((s) => [s, 0])) as Record<CommandState, number>;
    for (const r of this.stmt.counts.all(commandId)) counts[r.state as CommandState] = r.n;
    return counts;
  }

  results(commandId: string): DeviceResult[] {
    return this.stmt.results.all(commandId).map((r) => JSON.parse(r.result) as DeviceResult);
  }

  /** Written before the request leaves: a restart after this sends it again, with the same id. */
  markSent(commandId: string, endpoint: string, now: number): void {
    this.stmt.markSent.run({ commandId, endpoint, now });
  }

  /** The steps of a job done so far, so a job resumes after its last finished step. */
  saveResult(commandId: string, endpoint: string, result: DeviceResult, now: number): void {
    this.stmt.saveResult.run({ commandId, endpoint, result: JSON.stringify(result), now });
  }

  /** Ends an open row; false when it had already ended (a terminal state is never overwritten). */
  finishDevice(commandId: string, endpoint: string, state: TerminalCommandState, reason: string | null, result: DeviceResult | null, now: number): boolean {
    return this.stmt.finishDevice.run({ commandId, endpoint, state, reason, result: result && JSON.stringify(result), now }).changes > 0;
  }

  /** Ends many rows in one transaction (cancel, expiry): one fsync, not one per device. */
  finishDevices(commandId: string, endpoints: readonly string[], state: TerminalCommandState, reason: string, now: number): string[] {
    const ended: string[] = [];
    this.db.transaction(() => {
      for (const endpoint of endpoints) {
        if (this.stmt.finishDevice.run({ commandId, endpoint, state, reason, result: null, now }).changes > 0) ended.push(endpoint);
      }
    })();
    return ended;
  }

  setState(id: string, state: FleetCommandState, reason: string | null, now: number): void {
    this.stmt.setState.run(state, reason, now, id);
  }

  /** No device of the command needs the engine any more. */
  finish(id: string, now: number): void {
    this.stmt.finish.run(now, now, id);
  }
}

function toCommand(row: CommandRow): FleetCommand {
  return {
    id: row.id,
    seq: row.seq,
    target: row.target,
    spec: JSON.parse(row.spec) as CommandSpec,
    policy: JSON.parse(row.policy) as CommandPolicy,
    state: row.state as FleetCommandState,
    reason: row.reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
    expiresAt: row.expires_at,
    finishedAt: row.finished_at,
  };
}

function toDevice(row: DeviceRow): CommandDevice {
  return {
    commandId: row.command_id,
    endpoint: row.endpoint,
    position: row.position,
    state: row.state as CommandState,
    attempts: row.attempts,
    reason: row.reason,
    result: row.result === null ? null : (JSON.parse(row.result) as DeviceResult),
    queuedAt: row.queued_at,
    sentAt: row.sent_at,
    finishedAt: row.finished_at,
    expiresAt: row.expires_at,
    updatedAt: row.updated_at,
  };
}
