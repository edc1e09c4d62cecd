import type { Statement } from 'better-sqlite3';
import type { Database } from '../store/database.js';
import { statementCache } from '../store/statement-cache.js';

export type AuditOutcome = 'success' | 'failure' | 'denied';

export interface AuditEntry {
  id: number;
  at: string;
  /** The operator's username; null when nobody could be identified (no or a bad token). */
  actor: string | null;
  role: string | null;
  /** What was done, e.g. `devices.write`, `rollouts.create`, `auth.login`. */
  action: string;
  method: string;
  path: string;
  /** The device, rollout, rule… acted on, or the target expression of a fleet operation. */
  target: string | null;
  status: number;
  outcome: AuditOutcome;
  source: string | null;
  /** Non-secret particulars (a resource path, an error code); never a written value or a password. */
  details: Record<string, unknown> | null;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at?: number };

export interface AuditFilter {
  actor?: string;
  action?: string;
  target?: string;
  outcome?: AuditOutcome;
  from?: number;
  to?: number;
  offset: number;
  limit: number;
}

interface AuditRow {
  id: number;
  at: number;
  actor: string | null;
  role: string | null;
  action: string;
  method: string;
  path: string;
  target: string | null;
  status: number;
  outcome: AuditOutcome;
  source: string | null;
  details: string | null;
}

const WHERE = `WHERE (@actor IS NULL OR actor = @actor) AND (@action IS NULL OR action = @action OR action LIKE @action || '.%')
  AND (@target IS NULL OR target = @target) AND (@outcome IS NULL OR outcome = @outcome) AND (@from IS NULL OR at >= @from) AND (@to IS NULL OR at < @to)`;

function params(filter: Omit<AuditFilter, 'offset' | 'limit'>): Record<string, string | number | null> {
  return {
    actor: filter.actor ?? null,
    action: filter.action ?? null,
    target: filter.target ?? null,
    outcome: filter.outcome ?? null,
    from: filter.from ?? null,
    to: filter.to ?? null,
  };
}

/**
 * The audit trail of state-changing actions. Append-only in the database itself: triggers refuse
 * UPDATE and DELETE on the table (migration 8), so not even a bug in this process can rewrite it.
 */
export class AuditLog {
  private readonly sql: (sql: string) => Statement;

  constructor(db: Database) {
    this.sql = statementCache(db);
  }

  append(entry: NewAuditEntry): void {
    this.sql(
      'INSERT INTO audit_log (at, actor, role, action, method, path, target, status, outcome, source, details) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      entry.at ?? Date.now(),
      entry.actor,
      entry.role,
      entry.action,
      entry.method,
      entry.path,
      entry.target,
      entry.status,
      entry.outcome,
      entry.source,
      entry.details ? JSON.stringify(entry.details) : null,
    );
  }

  /** Newest first. */
  query(filter: AuditFilter): { items: AuditEntry[]; total: number } {
    const where = params(filter);
    const rows = this.sql(`SELECT * FROM audit_log ${WHERE} ORDER BY id DESC LIMIT @limit OFFSET @offset`).all({ ...where, limit: filter.limit, offset: filter.offset }) as AuditRow[];
    const total = (this.sql(`SELECT COUNT(*) AS n FROM audit_log ${WHERE}`).get(where) as { n: number }).n;
    return { items: rows.map(toEntry), total };
  }

  /** Every matching entry, oldest first, for export; iterated so a long history is not held in memory. */
  *export(filter: Omit<AuditFilter, 'offset' | 'limit'>): Generator<AuditEntry> {
    for (const row of this.sql(`SELECT * FROM audit_log ${WHERE} ORDER BY id`).iterate(params(filter)) as IterableIterator<AuditRow>) yield toEntry(row);
  }
}

function toEntry(row: AuditRow): AuditEntry {
  return {
    id: row.id,
    at: new Date(row.at).toISOString(),
    actor: row.actor,
    role: row.role,
    action: row.action,
    method: row.method,
    path: row.path,
    target: row.target,
    status: row.status,
    outcome: row.outcome,
    source: row.source,
    details: row.details ? (JSON.parse(row.details) as Record<string, unknown>) : null,
  };
}
