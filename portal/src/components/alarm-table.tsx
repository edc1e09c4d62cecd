import { api } from '../api';
import { ago, time } from '../format';
import { devicePath, Link } from '../router';
import { useCan } from '../session';
import type { Alarm } from '../types';
import { ActionButton, Badge, Empty, TableHead } from './ui';

const acknowledged = (a: Alarm) => (a.acknowledgedAt ? `${a.acknowledgedBy ?? '?'}, ${ago(a.acknowledgedAt)}` : '—');
const cleared = (a: Alarm) => (a.clearedAt ? `${ago(a.clearedAt)}${a.clearReason ? ` (${a.clearReason})` : ''}` : '—');
const history = (a: Alarm) => `raised ${time(a.raisedAt)}; acknowledged: ${acknowledged(a)}; cleared: ${cleared(a)}`;

/** Alarms with their actions (acknowledge, clear) for an operator; the alarms view and a device's page share it. */
export function AlarmTable({ alarms, compact = false, onChange }: { alarms: Alarm[]; compact?: boolean; onChange: (a: Alarm) => void }) {
  const canOperate = useCan('operator');
  if (alarms.length === 0) return <Empty>No alarm.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table" aria-label="alarms">
        <TableHead
          columns={['Severity', 'State', !compact && 'Device', 'Rule', !compact && 'Message', 'Raised', !compact && 'Acknowledged', !compact && 'Cleared', canOperate && '']}
        />
        <tbody>
          {alarms.map((a) => (
            <tr data-alarm={a.id} class={`alarm-${a.state}`}>
              <td>
                <Badge value={a.severity} />
              </td>
              <td>
                <Badge value={a.state} />
              </td>
              {!compact && (
                <td>
                  <Link href={devicePath(a.endpoint)}>{a.endpoint}</Link>
                </td>
              )}
              {compact ? (
                <td class="wrap" title={history(a)}>
                  {a.ruleName}
                  <div class="muted small">{a.message}</div>
                </td>
              ) : (
                <>
                  <td>{a.ruleName}</td>
                  <td class="wrap">{a.message}</td>
                </>
              )}
              <td title={time(a.raisedAt)}>{ago(a.raisedAt)}</td>
              {!compact && <td>{acknowledged(a)}</td>}
              {!compact && <td class="wrap">{cleared(a)}</td>}
              {canOperate && (
                <td class="actions">
                  {a.state === 'active' && (
                    <ActionButton kind="primary" onClick={async () => onChange(await api.post<Alarm>(`/api/v1/alarms/${a.id}/acknowledge`))}>
                      Acknowledge
                    </ActionButton>
                  )}
                  {a.state !== 'cleared' && (
                    <ActionButton onClick={async () => onChange(await api.post<Alarm>(`/api/v1/alarms/${a.id}/clear`))}>Clear</ActionButton>
                  )}
                </td>
              )}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
