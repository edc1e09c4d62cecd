import { api, query } from '../api';
import { AlarmTable } from '../components/alarm-table';
import { ErrorBox, Loading, Pager, Panel, Tabs } from '../components/ui';
import { useLive } from '../events';
import { setQueryOffset, setQuery, useLocation } from '../router';
import type { Alarm, Page } from '../types';
import { AlarmRules, SEVERITIES } from './alarm-rules';

const PAGE = 100;
const STATES = [
  ['active', 'Active'],
  ['acknowledged', 'Acknowledged'],
  ['cleared', 'Cleared'],
  ['all', 'All'],
] as const;

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
            <Pager offset={offset} limit={PAGE} total={alarms.data.total} onChange={setQueryOffset} />
          </>
        )}
      </Panel>
      <AlarmRules />
    </div>
  );
}
