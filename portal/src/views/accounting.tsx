import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { Empty, ErrorBox, Loading, Panel, TableHead } from '../components/ui';
import { useLive } from '../events';
import { bytes, num } from '../format';
import { devicePath, Link, setQuery, useLocation } from '../router';
import type { AccountingRow } from '../types';

const PERIODS = [
  ['24h', 'last 24 h'],
  ['7d', 'last 7 days'],
  ['30d', 'last 30 days'],
] as const;

function period(iso: string, group: 'hour' | 'day'): string {
  const d = new Date(iso);
  const date = `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, '0')}-${String(d.getDate()).padStart(2, '0')}`;
  return group === 'day' ? date : `${date} ${String(d.getHours()).padStart(2, '0')}:00`;
}

/** The accounting ledger (Y.4702 8.7): traffic and operations per device, period and transport. */
export function AccountingView() {
  const { query: q } = useLocation();
  const endpoint = q.get('endpoint') ?? '';
  const from = q.get('from') ?? '24h';
  const group = (q.get('group') ?? 'hour') as 'hour' | 'day';
  const [endpointInput, setEndpoint] = useState(endpoint);
  const params = { endpoint, from, group };
  const ledger = useLive(() => api.get<{ from: string; to: string; items: AccountingRow[] }>(`/api/v1/accounting${query(params)}`), [endpoint, from, group]);
  const rows = ledger.data?.items ?? [];
  const totals = rows.reduce(
    (t, r) => ({
      messagesIn: t.messagesIn + r.messagesIn,
      messagesOut: t.messagesOut + r.messagesOut,
      bytesIn: t.bytesIn + r.bytesIn,
      bytesOut: t.bytesOut + r.bytesOut,
      firmwareBytes: t.firmwareBytes + r.firmwareBytes,
    }),
    { messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, firmwareBytes: 0 },
  );
  const csv = `/api/v1/accounting${query({ ...params, format: 'csv' })}`;
  return (
    <Panel
      title="Accounting"
      actions={
        <a class="btn" href={csv} download="edgedm-accounting.csv" data-testid="accounting-csv">
          Download CSV
        </a>
      }
    >
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ endpoint: endpointInput.trim() });
        }}
      >
        <label class="field">
          Device
          <input placeholder="all devices" value={endpointInput} onInput={(e) => setEndpoint(e.currentTarget.value)} />
        </label>
        <label class="field">
          Period
          <select value={from} onChange={(e) => setQuery({ from: e.currentTarget.value === '24h' ? undefined : e.currentTarget.value })}>
            {PERIODS.map(([v, t]) => (
              <option value={v}>{t}</option>
            ))}
          </select>
        </label>
        <label class="field">
          Per
          <select value={group} onChange={(e) => setQuery({ group: e.currentTarget.value === 'hour' ? undefined : e.currentTarget.value })}>
            <option value="hour">hour</option>
            <option value="day">day</option>
          </select>
        </label>
        <button type="submit" class="btn btn-primary">
          Show
        </button>
        <button type="button" class="btn" onClick={() => ledger.reload()}>
          Refresh
        </button>
      </form>
      <ErrorBox error={ledger.error} />
      {!ledger.data ? (
        ledger.error ? null : <Loading />
      ) : rows.length === 0 ? (
        <Empty>No traffic in this period.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table compact" aria-label="accounting">
            <TableHead
              columns={['Device', group === 'hour' ? 'Hour' : 'Day', 'Transport', ['Msgs in', 'num'], ['Msgs out', 'num'], ['Bytes in', 'num'], ['Bytes out', 'num'], ['Firmware', 'num'], 'Operations']}
            />
            <tbody>
              <tr class="totals">
                <td colSpan={3}>
                  <strong>Total</strong> · {rows.length} rows
                </td>
                <td class="num">{num(totals.messagesIn)}</td>
                <td class="num">{num(totals.messagesOut)}</td>
                <td class="num">{bytes(totals.bytesIn)}</td>
                <td class="num">{bytes(totals.bytesOut)}</td>
                <td class="num">{bytes(totals.firmwareBytes)}</td>
                <td />
              </tr>
              {rows.slice(0, 1000).map((r) => (
                <tr>
                  <td>
                    <Link href={devicePath(r.endpoint)}>{r.endpoint}</Link>
                  </td>
                  <td>{period(r.period, group)}</td>
                  <td>{r.transport}</td>
                  <td class="num">{num(r.messagesIn)}</td>
                  <td class="num">{num(r.messagesOut)}</td>
                  <td class="num">{bytes(r.bytesIn)}</td>
                  <td class="num">{bytes(r.bytesOut)}</td>
                  <td class="num">{r.firmwareBytes ? bytes(r.firmwareBytes) : '—'}</td>
                  <td class="small mono">
                    {Object.entries(r.operations)
                      .map(([k, n]) => `${k} ${n}`)
                      .join(', ')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {rows.length > 1000 && <p class="muted small">The first 1,000 of {num(rows.length)} rows; the CSV has them all.</p>}
        </div>
      )}
    </Panel>
  );
}
