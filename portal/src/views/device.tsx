import { useRef, useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import { AlarmTable } from '../components/alarm-table';
import { LineChart } from '../components/chart';
import { ActionButton, Badge, Empty, ErrorBox, KeyValues, Labels, Loading, Panel, TableHead, Tabs } from '../components/ui';
import { useGatewayEvents, useLive, useNow } from '../events';
import { ago, base64Text, time } from '../format';
import { resourceName, resourceUnit } from '../objects';
import { commandPath, Link, rolloutPath } from '../router';
import type { Alarm, Device, DeviceFleetCommand, GatewayEvent, OperationResult, Page, Series } from '../types';
import { ObjectTree } from './object-tree';

const enc = encodeURIComponent;

/** Device (Object 3) resources shown as its identity, read live when the page opens. */
const IDENTITY: readonly (readonly [number, string])[] = [
  [0, 'Manufacturer'],
  [1, 'Model'],
  [2, 'Serial number'],
  [3, 'Firmware version'],
  [19, 'Software version'],
  [18, 'Hardware version'],
  [16, 'Binding modes'],
  [13, 'Device time'],
];

function Identity({ device }: { device: Device }) {
  const online = device.status === 'online';
  const live = useLive<OperationResult | undefined>(
    () => (online ? api.post<OperationResult>(`/api/v1/devices/${enc(device.endpoint)}/read`, { path: '/3/0' }) : Promise.resolve(undefined)),
    [device.endpoint, online],
  );
  const records = new Map((live.data?.content ?? []).map((r) => [r.path, r]));
  const val = (id: number) => records.get(`/3/0/${id}`)?.value;
  const now = useNow(10_000);
  return (
    <Panel title="Identity" actions={live.loading ? <span class="muted small">reading /3/0…</span> : undefined}>
      <KeyValues
        columns={2}
        rows={[
          ['Endpoint', <span class="mono">{device.endpoint}</span>],
          ['Status', <Badge value={device.status} />],
          ['Transport', device.transport && `${device.transport}${device.lwm2mVersion ? ` · LwM2M ${device.lwm2mVersion}` : ''}${device.queueMode ? ' · queue mode' : ''}`],
          ...IDENTITY.map(([id, label]) => {
            const fromRecord = { 0: device.manufacturer, 1: device.model, 2: device.serialNumber, 3: device.firmwareVersion }[id as 0 | 1 | 2 | 3];
            const v = val(id) ?? fromRecord;
            return [label, v === undefined || v === null ? null : <span data-testid={`identity-${id}`}>{String(v)}</span>] as const;
          }),
          ['Address', device.address],
          ['Lifetime', device.lifetime ? `${device.lifetime} s` : null],
          ['Registered', device.registeredAt && `${time(device.registeredAt)} (${ago(device.registeredAt, now)})`],
          ['Last seen', device.lastSeen && `${time(device.lastSeen)} (${ago(device.lastSeen, now)})`],
          ['Tags', <Labels values={device.tags} kind="tag" />],
          ['Groups', <Labels values={device.groups} kind="group" />],
        ]}
      />
      {live.data && !live.data.success && <div class="error-text small">{live.data.codeText}</div>}
      {live.error !== undefined && <div class="muted small">identity from the registry ({errorText(live.error)})</div>}
    </Panel>
  );
}

/** Period, label, bucket seconds: about 240 points a chart. */
const RANGES = [
  ['1h', '1 h', 15],
  ['6h', '6 h', 90],
  ['24h', '24 h', 360],
] as const;

function Monitoring({ endpoint }: { endpoint: string }) {
  const [range, setRange] = useState<'1h' | '6h' | '24h'>('1h');
  const step = RANGES.find((r) => r[0] === range)![2];
  const series = useLive(
    async () => {
      const to = Date.now();
      const answer = await api.get<{ from: string; to: string; series: Series[] }>(`/api/v1/devices/${enc(endpoint)}/timeseries${query({ from: range, step })}`);
      return { ...answer, fromMs: Date.parse(answer.from), toMs: Date.parse(answer.to) || to };
    },
    [endpoint, range],
    // New samples arrive as notifications; the charts follow at most every 5 s.
    { affects: (e) => e.type === 'device.notification' && e.endpoint === endpoint, minIntervalMs: 5000 },
  );
  const list = (series.data?.series ?? []).filter((s) => s.points.length > 0);
  return (
    <Panel title="Monitoring" actions={<Tabs label="period" value={range} onChange={setRange} options={RANGES.map(([v, t]) => [v, t] as const)} />} class="span-2">
      <ErrorBox error={series.error} />
      {series.loading && !series.data ? (
        <Loading />
      ) : list.length === 0 ? (
        <Empty>No monitoring samples in this period (the device notifies its observed values every pmin–pmax seconds).</Empty>
      ) : (
        <div class="charts">
          {list.map((s) => {
            const last = s.points[s.points.length - 1]!;
            const latest = last.value ?? last.avg;
            const unit = resourceUnit(s.path);
            return (
              <figure class="chart-box" data-series={s.path}>
                <figcaption>
                  <strong>{resourceName(s.path)}</strong> <span class="muted mono">{s.path}</span>
                  <span class="latest">
                    {latest !== undefined ? `${Math.round(latest * 10) / 10}${unit ? ` ${unit}` : ''}` : ''}
                  </span>
                </figcaption>
                <LineChart points={s.points} from={series.data!.fromMs} to={series.data!.toMs} title={resourceName(s.path)} {...(unit ? { unit } : {})} />
              </figure>
            );
          })}
        </div>
      )}
    </Panel>
  );
}

function DeviceAlarms({ endpoint }: { endpoint: string }) {
  const alarms = useLive(() => api.get<Page<Alarm>>(`/api/v1/alarms${query({ endpoint, limit: 50 })}`), [endpoint], {
    affects: (e) => e.type.startsWith('alarm.') && 'alarm' in e && e.alarm.endpoint === endpoint,
    minIntervalMs: 500,
  });
  const items = alarms.data?.items ?? [];
  const open = items.filter((a) => a.state !== 'cleared');
  return (
    <Panel title={`Alarms${open.length ? ` · ${open.length} open` : ''}`} actions={<Link href={`/alarms?endpoint=${enc(endpoint)}&state=all`}>history ›</Link>}>
      <ErrorBox error={alarms.error} />
      {alarms.data && (
        <AlarmTable
          alarms={items.slice().sort((a, b) => Number(a.state === 'cleared') - Number(b.state === 'cleared') || b.id - a.id).slice(0, 10)}
          compact
          onChange={(a) => alarms.mutate((d) => ({ ...d, items: d.items.map((x) => (x.id === a.id ? a : x)) }))}
        />
      )}
    </Panel>
  );
}

function describe(e: GatewayEvent): string {
  switch (e.type) {
    case 'device.status':
      return `status ${e.previous ?? 'new'} → ${e.status}`;
    case 'device.registered':
      return `registered over ${e.transport}`;
    case 'device.info':
      return 'identity (Object 3) updated';
    case 'device.notification':
      return `notification ${e.path}: ${e.content.map((r) => `${r.path}=${r.type === 'opaque' ? '…' : String(r.value)}`).join(', ')}`;
    case 'rollout.device':
      return `rollout ${e.rolloutId}: ${e.state}${e.updateResult !== null ? ` (Update Result ${e.updateResult})` : ''}${e.reason ? ` — ${e.reason}` : ''}`;
    case 'fleet.command.device':
      return `fleet command ${e.commandId}: ${e.state}${e.code ? ` ${e.code}` : ''}${e.reason ? ` — ${e.reason}` : ''}`;
    case 'alarm.raised':
    case 'alarm.acknowledged':
    case 'alarm.cleared':
      return `${e.type.slice(6)}: ${e.alarm.ruleName} (${e.alarm.severity})`;
    default:
      return e.type;
  }
}

function ofDevice(e: GatewayEvent, endpoint: string): boolean {
  if ('endpoint' in e) return e.endpoint === endpoint;
  if ('alarm' in e) return e.alarm.endpoint === endpoint;
  return false;
}

/** What the gateway saw of this device since the page opened, and the device's own Event Log (Object 20). */
function EventLog({ endpoint, hasEventLog }: { endpoint: string; hasEventLog: boolean }) {
  const [tab, setTab] = useState<'gateway' | 'device'>('gateway');
  const [notifications, setNotifications] = useState(true);
  const [lines, setLines] = useState<{ at: number; type: string; text: string; key: number }[]>([]);
  const [log, setLog] = useState<{ text: string; at: number } | undefined>(undefined);
  const [logError, setLogError] = useState<string | undefined>(undefined);
  const seq = useRef(0);
  useGatewayEvents((e) => {
    if (!ofDevice(e, endpoint)) return;
    setLines((l) => [{ at: e.at, type: e.type, text: describe(e), key: seq.current++ }, ...l].slice(0, 200));
    if (e.type === 'device.notification') {
      const data = e.content.find((r) => r.path === '/20/0/4014');
      if (data && typeof data.value === 'string') setLog({ text: base64Text(data.value) ?? '', at: e.at });
    }
  });
  const shown = notifications ? lines : lines.filter((l) => l.type !== 'device.notification');
  const readLog = async () => {
    setLogError(undefined);
    const r = await api.post<OperationResult>(`/api/v1/devices/${enc(endpoint)}/read`, { path: '/20/0/4014' });
    if (!r.success) {
      setLogError(`${r.codeText}${r.message ? `: ${r.message}` : ''}`);
      return;
    }
    const v = r.content?.[0]?.value;
    setLog({ text: typeof v === 'string' ? (base64Text(v) ?? '<binary>') : String(v ?? ''), at: Date.now() });
  };
  return (
    <Panel
      title="Event log"
      actions={
        <Tabs
          label="event log"
          value={tab}
          onChange={setTab}
          options={[
            ['gateway', 'Gateway events'],
            ['device', 'Device log (/20)'],
          ]}
        />
      }
    >
      {tab === 'gateway' && (
        <label class="check small">
          <input type="checkbox" checked={notifications} onChange={(e) => setNotifications(e.currentTarget.checked)} /> notifications
        </label>
      )}
      {tab === 'gateway' ? (
        shown.length === 0 ? (
          <Empty>No event for this device since the page opened; they appear here live.</Empty>
        ) : (
          <ul class="feed log" data-testid="device-events">
            {shown.map((l) => (
              <li key={l.key}>
                <span class="muted">{time(l.at)}</span> {l.text}
              </li>
            ))}
          </ul>
        )
      ) : !hasEventLog ? (
        <Empty>This device has no Event Log object (20).</Empty>
      ) : (
        <>
          <div class="btn-row">
            <ActionButton onClick={readLog}>Read /20/0/4014</ActionButton>
            {log && <span class="muted small">read {time(log.at)}; notified changes appear by themselves</span>}
          </div>
          {logError && <div class="error-text">{logError}</div>}
          {log && <pre class="device-log">{log.text.trim().split('\n').reverse().join('\n') || '(empty)'}</pre>}
        </>
      )}
    </Panel>
  );
}

function DeviceCommands({ endpoint }: { endpoint: string }) {
  const list = useLive(() => api.get<Page<DeviceFleetCommand>>(`/api/v1/devices/${enc(endpoint)}/fleet-commands${query({ limit: 20 })}`), [endpoint], {
    affects: (e) => e.type === 'fleet.command.device' && e.endpoint === endpoint,
    minIntervalMs: 1000,
  });
  const items = list.data?.items ?? [];
  return (
    <Panel title={`Fleet commands${list.data?.total ? ` · ${list.data.total}` : ''}`}>
      <ErrorBox error={list.error} />
      {list.data && items.length === 0 ? (
        <Empty>No fleet command has included this device.</Empty>
      ) : (
        <div class="table-wrap">
          <table class="table compact" aria-label="fleet commands of the device">
            <TableHead columns={['Command', 'Operation', 'State here', 'Tries', 'Result', 'Queued', 'Finished']} />
            <tbody>
              {items.map((c) => (
                <tr>
                  <td class="mono" title={`target ${c.target}`}>
                    <Link href={commandPath(c.id)}>{c.id}</Link>
                  </td>
                  <td>
                    {c.operation} {c.path && <span class="mono">{c.path}</span>}
                  </td>
                  <td>
                    <Badge value={c.device.state} />
                  </td>
                  <td class="num">{c.device.attempts}</td>
                  <td class="wrap small">
                    {c.device.reason ??
                      c.device.result?.steps.map((s) => `${s.kind} ${s.path}: ${s.code}${s.content?.length === 1 ? ` = ${String(s.content[0]!.value)}` : ''}`).join('; ') ??
                      '—'}
                  </td>
                  <td>{time(c.device.queuedAt)}</td>
                  <td>{time(c.device.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </Panel>
  );
}

function Rollouts({ endpoint }: { endpoint: string }) {
  const [states, setStates] = useState<{ rolloutId: string; state: string; updateResult: number | null; at: number }[]>([]);
  useGatewayEvents((e) => {
    if (e.type !== 'rollout.device' || e.endpoint !== endpoint) return;
    setStates((s) => [{ rolloutId: e.rolloutId, state: e.state, updateResult: e.updateResult, at: e.at }, ...s.filter((x) => x.rolloutId !== e.rolloutId)]);
  });
  if (states.length === 0) return null;
  return (
    <p class="rollout-line">
      {states.map((s) => (
        <span>
          Firmware update in <Link href={rolloutPath(s.rolloutId)}>{s.rolloutId}</Link>: <Badge value={s.state} />{' '}
        </span>
      ))}
    </p>
  );
}

export function DeviceView({ endpoint }: { endpoint: string }) {
  const device = useLive(() => api.get<Device>(`/api/v1/devices/${enc(endpoint)}`), [endpoint], {
    patch: (d, e) => (e.type === 'device.status' && e.endpoint === endpoint ? { ...d, status: e.status } : undefined),
    affects: (e) => (e.type === 'device.registered' || e.type === 'device.info' || e.type === 'device.status') && e.endpoint === endpoint,
    minIntervalMs: 1000,
  });
  const d = device.data;
  if (!d) {
    return device.error ? (
      <Panel title={endpoint}>
        <ErrorBox error={device.error} />
        <Link href="/devices">‹ devices</Link>
      </Panel>
    ) : (
      <Loading />
    );
  }
  return (
    <div class="device-page" data-testid="device-page">
      <div class="page-head">
        <Link href="/devices" class="muted">
          ‹ Devices
        </Link>
        <h1>
          {d.endpoint} <Badge value={d.status} />
        </h1>
        <span class="muted">
          {[d.model, d.firmwareVersion && `fw ${d.firmwareVersion}`, d.transport, d.serialNumber].filter(Boolean).join(' · ')}
        </span>
        <Rollouts endpoint={endpoint} />
      </div>
      <div class="grid device-grid">
        <Identity device={d} />
        <DeviceAlarms endpoint={endpoint} />
        <Panel title="Objects" class="span-2" id="objects">
          <ObjectTree endpoint={endpoint} objects={d.objects} online={d.status === 'online'} />
        </Panel>
        <Monitoring endpoint={endpoint} />
        <EventLog endpoint={endpoint} hasEventLog={d.objects.some((o) => o === '/20' || o.startsWith('/20/'))} />
        <DeviceCommands endpoint={endpoint} />
      </div>
    </div>
  );
}
