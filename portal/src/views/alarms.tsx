import { api, query } from '../api';
import { AlarmTable } from '../components/alarm-table';
import { ActionButton, Badge, ErrorBox, Loading, Pager, Panel, Tabs } from '../components/ui';
import { useLive } from '../events';
import { setQuery, useLocation } from '../router';
import { Allowed } from '../session';
import type { Alarm, AlarmRule, Page } from '../types';

const PAGE = 100;
const STATES = [
  ['active', 'Active'],
  ['acknowledged', 'Acknowledged'],
  ['cleared', 'Cleared'],
  ['all', 'All'],
] as const;
const SEVERITIES = ['critical', 'major', 'minor', 'warning'];

function condition(r: AlarmRule): string {
  if (r.kind === 'value') return `${r.path} ${r.op} ${r.threshold}${r.hysteresis ? ` (clears past ±${r.hysteresis})` : ''}`;
  if (r.kind === 'offline') return `offline longer than ${r.afterSeconds} s`;
  return 'a firmware update failed in a rollout';
}

function Rules() {
  const rules = useLive(() => api.get<Page<AlarmRule>>('/api/v1/alarm-rules'), []);
  const toggle = async (r: AlarmRule) => {
    // PUT takes the rule's own fields, not its id and times.
    const body = Object.fromEntries(Object.entries({ ...r, enabled: !r.enabled }).filter(([k]) => !['id', 'createdAt', 'updatedAt'].includes(k)));
    const updated = await api.put<AlarmRule>(`/api/v1/alarm-rules/${encodeURIComponent(r.id)}`, body);
    rules.mutate((d) => ({ ...d, items: d.items.map((x) => (x.id === r.id ? updated : x)) }));
  };
  return (
    <Panel title="Rules" class="span-2">
      <ErrorBox error={rules.error} />
      {!rules.data ? (
        <Loading />
      ) : (
        <div class="table-wrap">
          <table class="table compact" aria-label="alarm rules">
            <thead>
              <tr>
                <th>Rule</th>
                <th>Severity</th>
                <th>Kind</th>
                <th>Condition</th>
                <th>Enabled</th>
                <Allowed role="admin">
                  <th />
                </Allowed>
              </tr>
            </thead>
            <tbody>
              {rules.data.items.map((r) => (
                <tr class={r.enabled ? '' : 'disabled'}>
                  <td>
                    {r.name} <span class="muted mono small">{r.id}</span>
                  </td>
                  <td>
                    <Badge value={r.severity} />
                  </td>
                  <td>{r.kind}</td>
                  <td class="mono">{condition(r)}</td>
                  <td>{r.enabled ? 'yes' : 'no'}</td>
                  <Allowed role="admin">
                    <td class="actions">
                      <ActionButton onClick={() => toggle(r)}>{r.enabled ? 'Disable' : 'Enable'}</ActionButton>
                    </td>
                  </Allowed>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

export function AlarmsView() {
  const { query: q } = useLocation();
  const state = (q.get('state') ?? 'active') as (typeof STATES)[number][0];
  const severity = q.get('severity') ?? '';
  const endpoint = q.get('endpoint') ?? '';
  const offset = Number(q.get('offset') ?? 0) || 0;
  const alarms = useLive(
    () => api.get<Page<Alarm>>(`/api/v1/alarms${query({ state: state === 'all' ? undefined : state, severity, endpoint, offset, limit: PAGE })}`),
    [state, severity, endpoint, offset],
    { affects: (e) => e.type.startsWith('alarm.'), minIntervalMs: 1000 },
  );
  return (
    <div class="grid">
      <Panel title="Alarms" class="span-2" actions={<Tabs label="alarm state" value={state} options={STATES} onChange={(v) => setQuery({ state: v === 'active' ? undefined : v, offset: undefined })} />}>
        <div class="filters">
          <label class="field">
            Severity
            <select value={severity} onChange={(e) => setQuery({ severity: e.currentTarget.value, offset: undefined })}>
              <option value="">any</option>
              {SEVERITIES.map((s) => (
                <option value={s}>{s}</option>
              ))}
            </select>
          </label>
          <label class="field">
            Device
            <input placeholder="endpoint" value={endpoint} onChange={(e) => setQuery({ endpoint: e.currentTarget.value.trim(), offset: undefined })} />
          </label>
        </div>
        <ErrorBox error={alarms.error} />
        {!alarms.data ? (
          <Loading />
        ) : (
          <>
            <AlarmTable alarms={alarms.data.items} onChange={() => alarms.reload()} />
            <Pager offset={offset} limit={PAGE} total={alarms.data.total} onChange={(o) => setQuery({ offset: o ? String(o) : undefined })} />
          </>
        )}
      </Panel>
      <Rules />
    </div>
  );
}
