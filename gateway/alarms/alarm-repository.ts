import type { Statement } from 'better-sqlite3';
import type { Database } from '../store/database.js';
import { statementCache } from '../store/statement-cache.js';
import type { AlarmSeverity } from './alarm-rules.js';
import type { Alarm, AlarmState } from './alarm-view.js';

interface AlarmRow {
  id: number;
  rule_id: string;
  rule_name: string;
  endpoint: string;
  severity: string;
  message: string;
  value: string | null;
  raised_at: number;
  acknowledged_at: number | null;
  acknowledged_by: string | null;
  cleared_at: number | null;
  clear_reason: string | null;
}

export interface NewAlarm {
  ruleId: string;
  ruleName: string;
  endpoint: string;
  severity: AlarmSeverity;
  message: string;
  value: unknown;
  at: number;
}

export interface AlarmFilter {
  state?: AlarmState;
  severity?: AlarmSeverity;
  endpoint?: string;
  offset: number;
  limit: number;
}

const STATE_SQL: Record<AlarmState, string> = {
  active: 'cleared_at IS NULL AND acknowledged_at IS NULL',
  acknowledged: 'cleared_at IS NULL AND acknowledged_at IS NOT NULL',
  cleared: 'cleared_at IS NOT NULL',
};

/** Alarms, open and cleared (the history), in SQL. At most one open alarm per rule and device (a unique index). */
export class AlarmRepository {
  /** Raise, clear and get run once per alarm change, and a fleet-wide outage raises thousands: each statement is prepared once. */
  private readonly sql: (sql: string) => Statement;

  constructor(db: Database) {
    this.sql = statementCache(db);
  }

  open(): Alarm[] {
    return (this.sql('SELECT * FROM alarms WHERE cleared_at IS NULL').all() as AlarmRow[]).map(toAlarm);
  }

  get(id: number): Alarm | undefined {
    const row = this.sql('SELECT * FROM alarms WHERE id = ?').get(id) as AlarmRow | undefined;
    return row && toAlarm(row);
  }

  raise(a: NewAlarm): Alarm {
    const { lastInsertRowid } = this
      .sql('INSERT INTO alarms (rule_id, rule_name, endpoint, severity, message, value, raised_at) VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run(a.ruleId, a.ruleName, a.endpoint, a.severity, a.message, a.value === undefined ? null : JSON.stringify(a.value), a.at);
    return this.get(Number(lastInsertRowid))!;
  }

  clear(id: number, reason: string, at: number): Alarm | undefined {
    const changed = this.sql('UPDATE alarms SET cleared_at = ?, clear_reason = ? WHERE id = ? AND cleared_at IS NULL').run(at, reason, id).changes;
    return changed > 0 ? this.get(id) : undefined;
  }

  /** Acknowledges an open, unacknowledged alarm; undefined when it is not one (any more). */
  acknowledge(id: number, by: string, at: number): Alarm | undefined {
    const changed = this
      .sql('UPDATE alarms SET acknowledged_at = ?, acknowledged_by = ? WHERE id = ? AND cleared_at IS NULL AND acknowledged_at IS NULL')
      .run(at, by, id).changes;
    return changed > 0 ? this.get(id) : undefined;
  }

  list(filter: AlarmFilter): { items: Alarm[]; total: number } {
    const where: string[] = [];
    const params: Record<string, unknown> = { limit: filter.limit, offset: filter.offset };
    if (filter.state) where.push(STATE_SQL[filter.state]);
    if (filter.severity) {
      where.push('severity = @severity');
      params.severity = filter.severity;
    }
    if (filter.endpoint) {
      where.push('endpoint = @endpoint');
      params.endpoint = filter.endpoint;
    }
    const clause = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const total = (this.sql(`SELECT COUNT(*) AS n FROM alarms ${clause}`).get(params) as { n: number }).n;
    const rows = this.sql(`SELECT * FROM alarms ${clause} ORDER BY raised_at DESC, id DESC LIMIT @limit OFFSET @offset`).all(params) as AlarmRow[];
    return { items: rows.map(toAlarm), total };
  }

  /** Deletes cleared alarms older than `before`; returns how many. */
  pruneHistory(before: number): number {
    return this.sql('DELETE FROM alarms WHERE cleared_at IS NOT NULL AND cleared_at < ?').run(before).changes;
  }
}

function toAlarm(r: AlarmRow): Alarm {
  return {
    id: r.id,
    ruleId: r.rule_id,
    ruleName: r.rule_name,
    endpoint: r.endpoint,
    severity: r.severity as AlarmSeverity,
    message: r.message,
    value: r.value === null ? null : (JSON.parse(r.value) as unknown),
    raisedAt: r.raised_at,
    acknowledgedAt: r.acknowledged_at,
    acknowledgedBy: r.acknowledged_by,
    clearedAt: r.cleared_at,
    clearReason: r.clear_reason,
  };
}
