import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { api, getAll, query } from '../api';
import { Badge, Empty, ErrorBox, Loading, Panel, StackedBar, TableHead } from '../components/ui';
import { events, useGatewayEvents, useLive } from '../events';
import { ago, num, time } from '../format';
import { devicePath, Link } from '../router';
import { DEVICE_STATUSES, type Alarm, type Device, type GatewayEvent, type Page } from '../types';
import { ROLLOUT_COLUMNS, RolloutCells, useRollouts } from './firmware';

/**
 * The fleet at a glance. The device counts come from one snapshot of the registry kept current
 * by the event stream (status changes, registrations, identity changes), so a fleet of thousands
 * is fetched once, not on every change.
 */
function useFleet(): { devices: Map<string, Device>; version: number; error: unknown; loading: boolean } {
  const devices = useRef(new Map<string, Device>());
  const [version, setVersion] = useState(0);
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const pendingRender = useRef<number | undefined>(undefined);
  const refetch = useRef(new Set<string>());

  const bump = () => {
    if (pendingRender.current !== undefined) return;
    pendingRender.current = window.setTimeout(() => {
      pendingRender.current = undefined;
      setVersion((v) => v + 1);
    }, 300);
  };

  const snapshot = () =>
    getAll<Device>('/api/v1/devices').then(
      (all) => {
        devices.current = new Map(all.map((d) => [d.endpoint, d]));
        setError(undefined);
        setLoading(false);
        bump();
      },
      (err: unknown) => {
        setError(err);
        setLoading(false);
      },
    );

  useEffect(() => {
    void snapshot();
    const offResync = events.onResync(() => void snapshot());
    return () => {
      offResync();
      window.clearTimeout(pendingRender.current);
    };
  }, []);

  // Identity (firmware version after an update, model) changes one device: fetch just that one, batched.
  const fetchChanged = useRef<number | undefined>(undefined);
  useGatewayEvents((e) => {
    if (e.type === 'device.status') {
      const d = devices.current.get(e.endpoint);
      if (d) devices.current.set(e.endpoint, { ...d, status: e.status });
      else refetch.current.add(e.endpoint);
      bump();
    } else if (e.type === 'device.registered') {
      const d = devices.current.get(e.endpoint);
      if (d) devices.current.set(e.endpoint, { ...d, transport: e.transport });
      refetch.current.add(e.endpoint);
      bump();
    } else if (e.type === 'device.info') {
      refetch.current.add(e.endpoint);
    } else {
      return;
    }
    if (fetchChanged.current !== undefined) return;
    fetchChanged.current = window.setTimeout(async () => {
      fetchChanged.current = undefined;
      const endpoints = [...refetch.current].slice(0, 200);
      for (const ep of endpoints) refetch.current.delete(ep);
      const page = await api.get<Page<Device>>(`/api/v1/devices${query({ target: `id:${endpoints.join(',')}`, limit: endpoints.length })}`).catch(() => undefined);
      for (const d of page?.items ?? []) devices.current.set(d.endpoint, d);
      bump();
    }, 1000);
  });

  return { devices: devices.current, version, error, loading };
}

function countBy(devices: Iterable<Device>, key: (d: Device) => string): [string, number][] {
  const counts = new Map<string, number>();
  for (const d of devices) counts.set(key(d), (counts.get(key(d)) ?? 0) + 1);
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]));
}

function CountTable({ rows, total, filter, label }: { rows: [string, number][]; total: number; filter: (v: string) => string | undefined; label: string }) {
  return (
    <table class="table compact" aria-label={label}>
      <tbody>
        {rows.map(([value, n]) => {
          const href = filter(value);
          return (
            <tr>
              <td>{href ? <Link href={href}>{value}</Link> : value}</td>
              <td class="num">{num(n)}</td>
              <td class="bar-cell">
                <span class="minibar" style={{ width: `${(n / Math.max(total, 1)) * 100}%` }} />
              </td>
            </tr>
          );
        })}
      </tbody>
    </table>
  );
}

const SEVERITY_ORDER = ['critical', 'major', 'minor', 'warning'];

function eventLine(e: GatewayEvent): { endpoint?: string; text: string } | undefined {
  switch (e.type) {
    case 'device.status':
      return { endpoint: e.endpoint, text: `${e.previous ?? 'new'} → ${e.status}` };
    case 'device.registered':
      return { endpoint: e.endpoint, text: `registered over ${e.transport}` };
    case 'alarm.raised':
      return { endpoint: e.alarm.endpoint, text: `alarm raised: ${e.alarm.ruleName} (${e.alarm.severity})` };
    case 'alarm.acknowledged':
      return { endpoint: e.alarm.endpoint, text: `alarm acknowledged by ${e.alarm.acknowledgedBy ?? '?'}: ${e.alarm.ruleName}` };
    case 'alarm.cleared':
      return { endpoint: e.alarm.endpoint, text: `alarm cleared: ${e.alarm.ruleName}` };
    case 'rollout.progress':
      return { text: `rollout ${e.rolloutId} ${e.state}` };
    case 'fleet.command.progress':
      return e.state !== 'running' ? { text: `fleet command ${e.commandId} ${e.state}` } : undefined;
    default:
      return undefined;
  }
}

function Activity() {
  const [lines, setLines] = useState<{ at: number; endpoint?: string; text: string; key: number }[]>([]);
  const seq = useRef(0);
  useGatewayEvents((e) => {
    // Progress of a running rollout is shown beside; only its changes of state are activity.
    if (e.type === 'rollout.progress' && e.state === 'running') return;
    const line = eventLine(e);
    if (!line) return;
    setLines((l) => [{ at: e.at, ...line, key: seq.current++ }, ...l].slice(0, 40));
  });
  if (lines.length === 0) return <Empty>Nothing has happened since this page opened.</Empty>;
  return (
    <ul class="feed">
      {lines.map((l) => (
        <li key={l.key}>
          <span class="muted">{time(l.at)}</span> {l.endpoint && <Link href={devicePath(l.endpoint)}>{l.endpoint}</Link>} {l.text}
        </li>
      ))}
    </ul>
  );
}

export function OverviewView() {
  const fleet = useFleet();
  const all = useMemo(() => [...fleet.devices.values()], [fleet.version, fleet.devices]);
  const total = all.length;
  const byStatus = useMemo(() => countBy(all, (d) => d.status), [all]);
  const byTransport = useMemo(() => countBy(all, (d) => d.transport ?? 'not yet'), [all]);
  const byFirmware = useMemo(() => countBy(all, (d) => d.firmwareVersion ?? 'unknown'), [all]);
  const byModel = useMemo(() => countBy(all, (d) => d.model ?? 'unknown'), [all]);

  const alarms = useLive(() => api.get<Page<Alarm>>(`/api/v1/alarms${query({ state: 'active', limit: 200 })}`), [], {
    affects: (e) => e.type.startsWith('alarm.'),
    minIntervalMs: 1500,
  });
  const acked = useLive(() => api.get<Page<Alarm>>(`/api/v1/alarms${query({ state: 'acknowledged', limit: 1 })}`), [], {
    affects: (e) => e.type.startsWith('alarm.'),
    minIntervalMs: 1500,
  });
  const rollouts = useRollouts();

  const activeAlarms = alarms.data?.items ?? [];
  const bySeverity = SEVERITY_ORDER.map((s) => [s, activeAlarms.filter((a) => a.severity === s).length] as [string, number]).filter(([, n]) => n > 0);
  const running = (rollouts.data?.items ?? []).filter((r) => r.state === 'running' || r.state === 'paused');

  return (
    <div class="grid overview" data-testid="overview">
      <Panel title={`Fleet · ${num(total)} devices`} class="span-2">
        {fleet.loading ? (
          <Loading />
        ) : (
          <>
            <ErrorBox error={fleet.error} />
            <StackedBar parts={DEVICE_STATUSES.map((s) => [s, all.filter((d) => d.status === s).length] as const)} total={total} label="devices by status" />
            <div class="stat-row" data-testid="status-counts">
              {DEVICE_STATUSES.map((s) => {
                const n = byStatus.find(([k]) => k === s)?.[1] ?? 0;
                return (
                  <Link href={`/devices?status=${s}`} class={`stat stat-${s}`}>
                    <span class="stat-value">{num(n)}</span>
                    <span class="stat-label">{s}</span>
                  </Link>
                );
              })}
            </div>
          </>
        )}
      </Panel>
      <Panel title="Alarms" actions={<Link href="/alarms">all alarms ›</Link>}>
        <div class="stat-row">
          <Link href="/alarms?state=active" class="stat stat-alarm">
            <span class="stat-value" data-testid="active-alarms">
              {num(alarms.data?.total ?? activeAlarms.length)}
            </span>
            <span class="stat-label">active</span>
          </Link>
          <Link href="/alarms?state=acknowledged" class="stat">
            <span class="stat-value">{num(acked.data?.total ?? 0)}</span>
            <span class="stat-label">acknowledged</span>
          </Link>
        </div>
        {bySeverity.length > 0 && (
          <p class="severity-line">
            {bySeverity.map(([s, n]) => (
              <span>
                <Badge value={s} /> {n}{' '}
              </span>
            ))}
          </p>
        )}
        <ul class="feed">
          {activeAlarms
            .slice()
            .sort((a, b) => SEVERITY_ORDER.indexOf(a.severity) - SEVERITY_ORDER.indexOf(b.severity) || b.raisedAt.localeCompare(a.raisedAt))
            .slice(0, 6)
            .map((a) => (
              <li>
                <Badge value={a.severity} /> <Link href={devicePath(a.endpoint)}>{a.endpoint}</Link> {a.ruleName} <span class="muted">{ago(a.raisedAt)}</span>
              </li>
            ))}
        </ul>
      </Panel>
      <Panel title="By transport">
        <CountTable rows={byTransport} total={total} label="devices by transport" filter={(v) => (v === 'not yet' ? undefined : `/devices?transport=${v}`)} />
      </Panel>
      <Panel title="By firmware version">
        <CountTable rows={byFirmware.slice(0, 12)} total={total} label="devices by firmware" filter={(v) => (v === 'unknown' ? undefined : `/devices?fw=${encodeURIComponent(v)}`)} />
      </Panel>
      <Panel title="By model">
        <CountTable rows={byModel.slice(0, 12)} total={total} label="devices by model" filter={(v) => (v === 'unknown' ? undefined : `/devices?model=${encodeURIComponent(v)}`)} />
      </Panel>
      <Panel title="Rollouts in progress" actions={<Link href="/firmware">firmware & rollouts ›</Link>} class="span-2">
        <ErrorBox error={rollouts.error} />
        {running.length === 0 ? (
          <Empty>No rollout is running.</Empty>
        ) : (
          <table class="table" aria-label="rollouts in progress">
            <TableHead columns={ROLLOUT_COLUMNS} />
            <tbody>
              {running.map((r) => (
                <tr>
                  <RolloutCells r={r} />
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Panel>
      <Panel title="Activity">
        <Activity />
      </Panel>
    </div>
  );
}
