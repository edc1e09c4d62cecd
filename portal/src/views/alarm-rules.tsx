import { useState } from 'preact/hooks';
import { api } from '../api';
import { ActionButton, Badge, ErrorBox, ErrorText, Loading, Panel, TableHead, useAction } from '../components/ui';
import { useLive } from '../events';
import { resourceName } from '../objects';
import { Allowed, useCan } from '../session';
import type { AlarmRule, Page } from '../types';

/** Alarm rules: everyone reads them; an admin creates, edits, enables, disables and deletes them. */

export const SEVERITIES = ['critical', 'major', 'minor', 'warning'] as const;
const KINDS = [
  ['value', 'value of a resource'],
  ['offline', 'device offline'],
  ['update-failed', 'firmware update failed'],
] as const;
const OPS = ['<', '<=', '>', '>=', '==', '!='] as const;

function condition(r: AlarmRule): string {
  if (r.kind === 'value') return `${r.path} ${r.op} ${r.threshold}${r.hysteresis ? ` (clears past ±${r.hysteresis})` : ''}`;
  if (r.kind === 'offline') return `offline longer than ${r.afterSeconds} s`;
  return 'a firmware update failed in a rollout';
}

/** What PUT and POST take: the common fields and the kind's own, nothing else. */
function ruleBody(f: RuleFormState): Record<string, unknown> {
  const common = { name: f.name.trim(), kind: f.kind, severity: f.severity, enabled: f.enabled };
  if (f.kind === 'value') {
    return { ...common, path: f.path.trim(), op: f.op, threshold: Number(f.threshold), ...(f.hysteresis.trim() ? { hysteresis: Number(f.hysteresis) } : {}) };
  }
  if (f.kind === 'offline') return { ...common, afterSeconds: Number(f.afterSeconds) };
  return common;
}

interface RuleFormState {
  name: string;
  kind: AlarmRule['kind'];
  severity: string;
  enabled: boolean;
  path: string;
  op: string;
  threshold: string;
  hysteresis: string;
  afterSeconds: string;
}

function formOf(r: AlarmRule | undefined): RuleFormState {
  return {
    name: r?.name ?? '',
    kind: r?.kind ?? 'value',
    severity: r?.severity ?? 'warning',
    enabled: r?.enabled ?? true,
    path: r?.path ?? '',
    op: r?.op ?? '<',
    threshold: r?.threshold !== undefined ? String(r.threshold) : '',
    hysteresis: r?.hysteresis ? String(r.hysteresis) : '',
    afterSeconds: r?.afterSeconds !== undefined ? String(r.afterSeconds) : '600',
  };
}

function RuleForm({ rule, onSaved, onCancel }: { rule?: AlarmRule; onSaved: (r: AlarmRule) => void; onCancel: () => void }) {
  const [form, setForm] = useState(() => formOf(rule));
  const { busy, error, run } = useAction();
  const set = (k: keyof RuleFormState) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setForm((f) => ({ ...f, [k]: el.type === 'checkbox' ? el.checked : el.value }));
  };
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const body = ruleBody(form);
      onSaved(rule ? await api.put<AlarmRule>(`/api/v1/alarm-rules/${encodeURIComponent(rule.id)}`, body) : await api.post<AlarmRule>('/api/v1/alarm-rules', body));
    });
  };
  return (
    <form class="form-grid rule-form" onSubmit={submit} aria-label={rule ? `edit rule ${rule.id}` : 'new alarm rule'}>
      <label class="field span-2">
        Name
        <input name="name" required maxLength={200} placeholder="battery very low" value={form.name} onInput={set('name')} />
      </label>
      <label class="field">
        Kind
        <select name="kind" value={form.kind} onChange={set('kind')}>
          {KINDS.map(([k, text]) => (
            <option value={k}>{text}</option>
          ))}
        </select>
      </label>
      <label class="field">
        Severity
        <select name="severity" value={form.severity} onChange={set('severity')}>
          {SEVERITIES.map((s) => (
            <option value={s}>{s}</option>
          ))}
        </select>
      </label>
      {form.kind === 'value' && (
        <>
          <label class="field">
            Resource
            <input name="path" required placeholder="/3/0/9" value={form.path} onInput={set('path')} />
            <span class="muted small">{form.path.trim() && resourceName(form.path.trim()) !== form.path.trim() ? resourceName(form.path.trim()) : ' '}</span>
          </label>
          <label class="field">
            Condition
            <select name="op" value={form.op} onChange={set('op')}>
              {OPS.map((o) => (
                <option value={o}>{o}</option>
              ))}
            </select>
          </label>
          <label class="field">
            Threshold
            <input name="threshold" type="number" step="any" required value={form.threshold} onInput={set('threshold')} />
          </label>
          <label class="field">
            Hysteresis
            <input name="hysteresis" type="number" step="any" min="0" placeholder="0" value={form.hysteresis} onInput={set('hysteresis')} />
          </label>
        </>
      )}
      {form.kind === 'offline' && (
        <label class="field">
          Offline longer than (s)
          <input name="afterSeconds" type="number" min="1" required value={form.afterSeconds} onInput={set('afterSeconds')} />
        </label>
      )}
      {form.kind === 'update-failed' && <p class="muted small span-2">Raised when a rollout ends a device failed (Update Result); no parameter.</p>}
      <label class="check">
        <input type="checkbox" name="enabled" checked={form.enabled} onChange={set('enabled')} /> enabled
      </label>
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {rule ? 'Save rule' : 'Create rule'}
        </button>
        <button type="button" class="btn" onClick={onCancel}>
          Cancel
        </button>
        <ErrorText error={error} />
      </div>
    </form>
  );
}

export function AlarmRules() {
  const isAdmin = useCan('admin');
  const rules = useLive(() => api.get<Page<AlarmRule>>('/api/v1/alarm-rules?limit=1000'), []);
  // 'new', a rule's id, or nothing.
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const replace = (r: AlarmRule) => rules.mutate((d) => ({ ...d, items: d.items.some((x) => x.id === r.id) ? d.items.map((x) => (x.id === r.id ? r : x)) : [...d.items, r] }));
  const toggle = async (r: AlarmRule) => {
    // PUT takes the rule's own fields, not its id and times.
    const body = Object.fromEntries(Object.entries({ ...r, enabled: !r.enabled }).filter(([k]) => !['id', 'createdAt', 'updatedAt'].includes(k)));
    replace(await api.put<AlarmRule>(`/api/v1/alarm-rules/${encodeURIComponent(r.id)}`, body));
  };
  const remove = async (r: AlarmRule) => {
    await api.del(`/api/v1/alarm-rules/${encodeURIComponent(r.id)}`);
    rules.mutate((d) => ({ ...d, items: d.items.filter((x) => x.id !== r.id) }));
  };
  const saved = (r: AlarmRule) => {
    replace(r);
    setEditing(undefined);
  };
  const columns = isAdmin ? 6 : 5;
  return (
    <Panel
      title="Rules"
      class="span-2"
      id="rules"
      actions={
        <Allowed role="admin">
          <button type="button" class="btn" disabled={editing === 'new'} onClick={() => setEditing('new')}>
            New rule
          </button>
        </Allowed>
      }
    >
      <ErrorBox error={rules.error} />
      {isAdmin && editing === 'new' && (
        <div class="editor">
          <h3>New rule</h3>
          <RuleForm onSaved={saved} onCancel={() => setEditing(undefined)} />
        </div>
      )}
      {!rules.data ? (
        !rules.error && <Loading />
      ) : (
        <div class="table-wrap">
          <table class="table compact middle" aria-label="alarm rules">
            <TableHead columns={['Rule', 'Severity', 'Kind', 'Condition', 'Enabled', isAdmin && '']} />
            <tbody>
              {rules.data.items.map((r) =>
                isAdmin && editing === r.id ? (
                  <tr data-rule={r.id} class="editing">
                    <td colSpan={columns}>
                      <div class="editor">
                        <h3>
                          Edit {r.name} <span class="muted mono small">{r.id}</span>
                        </h3>
                        <RuleForm rule={r} onSaved={saved} onCancel={() => setEditing(undefined)} />
                      </div>
                    </td>
                  </tr>
                ) : (
                  <tr data-rule={r.id} class={r.enabled ? '' : 'disabled'}>
                    <td>
                      {r.name} <span class="muted mono small">{r.id}</span>
                    </td>
                    <td>
                      <Badge value={r.severity} />
                    </td>
                    <td>{r.kind}</td>
                    <td class="mono" title={r.path ? resourceName(r.path) : undefined}>
                      {condition(r)}
                    </td>
                    <td>{r.enabled ? 'yes' : 'no'}</td>
                    <Allowed role="admin">
                      <td class="actions">
                        <button type="button" class="btn" onClick={() => setEditing(r.id)}>
                          Edit
                        </button>
                        <ActionButton onClick={() => toggle(r)}>{r.enabled ? 'Disable' : 'Enable'}</ActionButton>
                        <ActionButton kind="danger" aria-label={`delete rule ${r.id}`} confirm={`Delete the rule "${r.name}"? Its open alarms are cleared (reason: rule deleted).`} onClick={() => remove(r)}>
                          Delete
                        </ActionButton>
                      </td>
                    </Allowed>
                  </tr>
                ),
              )}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}
