import { useState } from 'preact/hooks';
import { describeResultCode, type ResultCode } from '../../../protocol/model/result-code.js';
import { api, query } from '../api';
import { ActionButton, Badge, Empty, ErrorBox, KeyValues, Loading, Pager, Panel, StackedBar, TableHead, Tabs } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago, num, time, value as showValue } from '../format';
import { resourceName, resourceUnit } from '../objects';
import { devicePath, Link } from '../router';
import { Allowed } from '../session';
import type { CommandDeviceRow, FleetCommand, FleetCommandDetail, FleetCommandPolicy, Page, StepOutcome, ValueDistribution } from '../types';
import { COMMAND_DEVICE_STATES, finishedCount, operationText } from './fleet-commands';

/** One fleet command: progress, the results summed over the fleet, its devices one by one; cancel. */

const PAGE = 100;
const enc = encodeURIComponent;

const codeText = (code: string) => describeResultCode(code as ResultCode);

function policyText(p: FleetCommandPolicy | undefined): string {
  if (!p) return '—';
  return [
    `TTL ${p.ttlSeconds >= 3600 && p.ttlSeconds % 3600 === 0 ? `${p.ttlSeconds / 3600} h` : `${p.ttlSeconds} s`}`,
    `≤ ${p.maxConcurrent} at once`,
    p.ratePerMin ? `${p.ratePerMin}/min` : 'no rate limit',
    `timeout ${p.timeoutMs} ms`,
    `${p.maxAttempts} attempts`,
  ].join(' · ');
}

/** One device's outcome in a line: per step its code, and the value when it read a single one. */
function resultText(steps: StepOutcome[]): string {
  return steps
    .map((s) => {
      const single = s.content?.length === 1 ? s.content[0]! : undefined;
      const values = single ? ` = ${showValue(single.value, single.type)}` : s.content?.length ? ` (${s.content.length} values)` : '';
      return `${s.kind} ${s.path}: ${codeText(s.code)}${values}${s.message ? ` — ${s.message}` : ''}`;
    })
    .join('; ');
}

function Distribution({ path, d }: { path: string; d: ValueDistribution }) {
  const unit = resourceUnit(path);
  const u = unit ? ` ${unit}` : '';
  const max = Math.max(1, ...d.top.map((t) => t.count));
  const round = (n: number) => String(Math.round(n * 100) / 100);
  return (
    <figure class="distribution" data-path={path}>
      <figcaption>
        <strong>{resourceName(path)}</strong> <span class="muted mono">{path}</span>
        <span class="muted small">
          {' '}
          · {num(d.devices)} devices · {num(d.distinct)} distinct
        </span>
      </figcaption>
      {d.numeric && (
        <div class="numeric" data-testid="numeric">
          min <strong>{round(d.numeric.min)}</strong>
          {u} · mean <strong>{round(d.numeric.mean)}</strong>
          {u} · max <strong>{round(d.numeric.max)}</strong>
          {u}
        </div>
      )}
      <table class="table compact" aria-label={`values of ${path}`}>
        <tbody>
          {d.top.map((t) => (
            <tr>
              <td class="mono value-col" title={String(t.value)}>
                {String(t.value)}
                {typeof t.value === 'number' ? u : ''}
              </td>
              <td class="num">{num(t.count)}</td>
              <td class="bar-cell">
                <span class="minibar" style={{ width: `${(t.count / max) * 100}%` }} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {d.distinct > d.top.length && <p class="muted small">the {d.top.length} most common of {num(d.distinct)} values</p>}
    </figure>
  );
}

function Aggregate({ c }: { c: FleetCommandDetail }) {
  const values = Object.entries(c.aggregate.values);
  return (
    <Panel title="Results over the fleet" class="span-2" id="aggregate">
      <div data-testid="aggregate">
        {c.aggregate.steps.length === 0 ? (
          <Empty>No device has answered yet.</Empty>
        ) : (
          <ul class="step-codes">
            {c.aggregate.steps.map((s) => (
              <li data-step={`${s.kind} ${s.path}`}>
                <span class="mono">
                  {s.kind} {s.path}
                </span>
                {Object.entries(s.codes)
                  .sort((a, b) => b[1] - a[1])
                  .map(([code, n]) => (
                    <span class={`code-count ${code.startsWith('2.') ? 'ok' : 'bad'}`}>
                      {codeText(code)} <strong>×{num(n)}</strong>
                    </span>
                  ))}
              </li>
            ))}
          </ul>
        )}
        {values.length > 0 && (
          <div class="distributions">
            {values.slice(0, 24).map(([path, d]) => (
              <Distribution path={path} d={d} />
            ))}
          </div>
        )}
        {values.length > 24 && <p class="muted small">The first 24 of {values.length} resources.</p>}
      </div>
    </Panel>
  );
}

export function FleetCommandView({ id }: { id: string }) {
  const now = useNow(5000);
  const [filter, setFilter] = useState<string>('all');
  const [offset, setOffset] = useState(0);
  const command = useLive(() => api.get<FleetCommandDetail>(`/api/v1/fleet/commands/${enc(id)}`), [id], {
    patch: (c, e) => (e.type === 'fleet.command.progress' && e.commandId === id ? { ...c, state: e.state, counts: e.counts, total: e.total, reason: e.reason } : undefined),
    // The aggregate and the finish time come with a reload, at most every 1.5 s.
    affects: (e) => (e.type === 'fleet.command.progress' || e.type === 'fleet.command.device') && e.commandId === id,
    minIntervalMs: 1500,
  });
  const devices = useLive(
    () => api.get<Page<CommandDeviceRow>>(`/api/v1/fleet/commands/${enc(id)}/devices${query({ state: filter === 'all' ? undefined : filter, offset, limit: PAGE })}`),
    [id, filter, offset],
    {
      patch: (d, e) => {
        if (e.type !== 'fleet.command.device' || e.commandId !== id || !d.items.some((x) => x.endpoint === e.endpoint)) return undefined;
        const at = new Date(e.at).toISOString();
        const terminal = e.state !== 'queued' && e.state !== 'sent';
        return {
          ...d,
          items: d.items.map((x) =>
            x.endpoint === e.endpoint ? { ...x, state: e.state, reason: e.reason, ...(e.state === 'sent' ? { sentAt: at } : {}), ...(terminal ? { finishedAt: at } : {}) } : x,
          ),
        };
      },
      // Results and attempts are not in the event: reload (one page) at most every second.
      affects: (e) => e.type === 'fleet.command.device' && e.commandId === id,
      minIntervalMs: 1000,
    },
  );

  const c = command.data;
  if (!c) {
    return command.error ? (
      <Panel title={`Fleet command ${id}`}>
        <ErrorBox error={command.error} />
        <Link href="/fleet">‹ fleet commands</Link>
      </Panel>
    ) : (
      <Loading />
    );
  }
  const pick = (s: string) => {
    setFilter(s);
    setOffset(0);
  };
  const cancel = async () => {
    const updated = await api.post<FleetCommand>(`/api/v1/fleet/commands/${enc(id)}/cancel`);
    command.mutate((d) => ({ ...d, ...updated }));
    devices.reload();
  };
  const present = COMMAND_DEVICE_STATES.filter((s) => (c.counts[s] ?? 0) > 0);
  const rows = devices.data?.items ?? [];

  return (
    <div class="grid" data-testid="command-page">
      <Panel
        title={
          <>
            <Link href="/fleet" class="muted">
              Fleet commands
            </Link>{' '}
            › <span class="mono">{c.id}</span> <Badge value={c.state} />
          </>
        }
        actions={
          <Allowed role="operator">
            {c.state === 'running' && (
              <ActionButton kind="danger" confirm={`Cancel fleet command ${c.id}? Devices it was not sent to yet will not get it; requests in flight finish.`} onClick={cancel}>
                Cancel
              </ActionButton>
            )}
          </Allowed>
        }
        class="span-2"
      >
        <div class="progress-big">
          <StackedBar parts={COMMAND_DEVICE_STATES.map((s) => [s, c.counts[s] ?? 0] as const)} total={c.total} label="command progress" />
          <span data-testid="command-progress">
            {num(c.counts.succeeded ?? 0)} of {num(c.total)} succeeded · {num(finishedCount(c))} done
          </span>
        </div>
        <div class="legend">
          {present.map((s) => (
            <button type="button" class={filter === s ? 'legend-item active' : 'legend-item'} onClick={() => pick(filter === s ? 'all' : s)}>
              <span class={`swatch seg-${s}`} /> {s} <strong>{num(c.counts[s] ?? 0)}</strong>
            </button>
          ))}
        </div>
        {c.reason && <p class="notice">{c.reason}</p>}
        <KeyValues
          columns={2}
          rows={[
            ['Operation', <span class="mono">{operationText(c)}</span>],
            ['Steps', <span class="mono">{c.steps.join(' · ')}</span>],
            ['Target', <code>{c.target}</code>],
            ['Policy', policyText(c.policy)],
            ['Created', `${time(c.createdAt)} (${ago(c.createdAt, now)})`],
            ['Expires', time(c.expiresAt)],
            ['Finished', c.finishedAt ? time(c.finishedAt) : '—'],
          ]}
        />
      </Panel>
      <Aggregate c={c} />
      <Panel
        title={`Devices · ${num(devices.data?.total ?? c.total)}`}
        class="span-2"
        actions={<Tabs label="device filter" value={filter} onChange={pick} options={[['all', 'All'] as const, ...present.map((s) => [s, s] as const)]} />}
      >
        <ErrorBox error={devices.error} />
        {!devices.data ? (
          !devices.error && <Loading />
        ) : rows.length === 0 ? (
          <Empty>No device in this state.</Empty>
        ) : (
          <>
            <div class="table-wrap">
              <table class="table compact" aria-label="command devices">
                <TableHead columns={['Device', 'State', ['Tries', 'num'], 'Result', 'Queued', 'Sent', 'Finished']} />
                <tbody>
                  {rows.map((d) => (
                    <tr data-endpoint={d.endpoint} data-state={d.state}>
                      <td>
                        <Link href={devicePath(d.endpoint)}>{d.endpoint}</Link>
                      </td>
                      <td>
                        <Badge value={d.state} />
                      </td>
                      <td class="num">{d.attempts}</td>
                      <td class="wrap small">{[d.result ? resultText(d.result.steps) : '', d.reason ?? ''].filter(Boolean).join(' — ') || '—'}</td>
                      <td>{time(d.queuedAt)}</td>
                      <td>{time(d.sentAt)}</td>
                      <td>{time(d.finishedAt)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            {(devices.data.total ?? 0) > PAGE && <Pager offset={offset} limit={PAGE} total={devices.data.total} onChange={setOffset} />}
          </>
        )}
      </Panel>
    </div>
  );
}
