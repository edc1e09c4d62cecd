import { randomBytes } from 'node:crypto';
import type { Database } from '../store/database.js';
import { AlarmRuleError, ruleParams, type AlarmRule, type AlarmRuleInput, type AlarmSeverity } from './alarm-rules.js';

interface RuleRow {
  id: string;
  name: string;
  kind: string;
  severity: string;
  enabled: number;
  params: string;
  created_at: number;
  updated_at: number;
}

/** Alarm rules in SQL. The defaults are seeded by the migration that made the table, once. */
export class AlarmRuleRepository {
  constructor(
    private readonly db: Database,
    private readonly now: () => number = Date.now,
  ) {}

  list(): AlarmRule[] {
    return this.db.prepare<[], RuleRow>('SELECT * FROM alarm_rules ORDER BY created_at, id').all().map(toRule);
  }

  get(id: string): AlarmRule | undefined {
    const row = this.db.prepare<[string], RuleRow>('SELECT * FROM alarm_rules WHERE id = ?').get(id);
    return row && toRule(row);
  }

  create(input: AlarmRuleInput): AlarmRule {
    const params = ruleParams(input);
    const id = `rule-${randomBytes(4).toString('hex')}`;
    const at = this.now();
    this.db
      .prepare('INSERT INTO alarm_rules (id, name, kind, severity, enabled, params, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)')
      .run(id, input.name, input.kind, input.severity, input.enabled === false ? 0 : 1, JSON.stringify(params), at, at);
    return this.get(id)!;
  }

  /** Replaces a rule's definition (its id and creation time stay). */
  replace(id: string, input: AlarmRuleInput): AlarmRule {
    const params = ruleParams(input);
    const changed = this.db
      .prepare('UPDATE alarm_rules SET name = ?, kind = ?, severity = ?, enabled = ?, params = ?, updated_at = ? WHERE id = ?')
      .run(input.name, input.kind, input.severity, input.enabled === false ? 0 : 1, JSON.stringify(params), this.now(), id).changes;
    if (changed === 0) throw new AlarmRuleError(`no alarm rule ${id}`, 'not-found');
    return this.get(id)!;
  }

  delete(id: string): void {
    if (this.db.prepare('DELETE FROM alarm_rules WHERE id = ?').run(id).changes === 0) throw new AlarmRuleError(`no alarm rule ${id}`, 'not-found');
  }
}

function toRule(row: RuleRow): AlarmRule {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    severity: row.severity as AlarmSeverity,
    enabled: row.enabled === 1,
    params: JSON.parse(row.params) as unknown,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  } as AlarmRule;
}
