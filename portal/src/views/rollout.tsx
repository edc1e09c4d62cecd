import { useState } from 'preact/hooks';
import { api } from '../api';
import { ActionButton, Badge, ErrorBox, KeyValues, Loading, Panel, StackedBar, TableHead, Tabs } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago, bytes, num, time } from '../format';
import { devicePath, Link } from '../router';
import { Allowed } from '../session';
import type { Page, Rollout, RolloutDevice } from '../types';

/** Per-device states of a rollout, in the order a device goes through them. */
const DEVICE_STATES = ['queued', 'waiting-offline', 'downloading', 'downloaded', 'updating', 'succeeded', 'failed', 'timed-out', 'cancelled', 'skipped-offline'] as const;

/** Rows drawn at once: a rollout to a whole fleet has thousands. */
const MAX_ROWS = 500;

/** Update Result (Object 5, resource 5) as 5.xml words it. */
const UPDATE_RESULT: Record<number, string> = {
  0: 'initial',
  1: 'updated successfully',
  2: 'not enough flash',
  3: 'out of RAM',
  4: 'connection lost',
  5: 'integrity check failed',
  6: 'unsupported package type',
  7: 'invalid URI',
  8: 'update failed',
  9: 'unsupported protocol',
  10: 'cancelled',
  11: 'deferred',
};

function policyText(p: Record<string, unknown>): string {
  const canary = p.canary as { count?: number; percent?: number } | undefined;
  const parts = [
    canary && (canary.percent !== undefined ? `canary ${canary.percent} %` : canary.count ? `canary ${canary.count}` : 'no canary'),
    p.batchSize ? `batches of ${p.batchSize}` : 'one batch after the canary',
    `next batch at ≥ ${p.successPct} % success`,
    p.abortFailurePct !== null && p.abortFailurePct !== undefined ? `abort at ≥ ${p.abortFailurePct} % failed of ≥ ${p.abortMinDevices} finished` : 'no abort threshold',
    `≤ ${p.maxConcurrent} at once`,
    p.ratePerMin ? `${p.ratePerMin}/min` : null,
    `timeout ${p.timeoutSeconds} s`,
    p.deadline ? `deadline ${time(p.deadline as string)}` : null,
    `delivery ${p.delivery}`,
    p.allowDowngrade ? 'downgrade allowed' : null,
  ];
  return parts.filter(Boolean).join(' · ');
}

export function RolloutView({ id }: { id: string }) {
  const now = useNow(5000);
  const [filter, setFilter] = useState<string>('all');
  const rollout = useLive(() => api.get<Rollout>(`/api/v1/rollouts/${encodeURIComponent(id)}`), [id], {
    patch: (r, e) => (e.type === 'rollout.progress' && e.rolloutId === id ? { ...r, state: e.state, counts: e.counts, total: e.total, reason: e.reason } : undefined),
    // bytesServed, batch and finish time come with a reload now and then.
    affects: (e) => e.type === 'rollout.progress' && e.rolloutId === id,
    minIntervalMs: 2000,
  });
  // The first 1,000 devices (a page at most): the table draws at most 500 anyway; counts come from the rollout.
  const devices = useLive(() => api.get<Page<RolloutDevice>>(`/api/v1/rollouts/${encodeURIComponent(id)}/devices?limit=1000`), [id], {
    patch: (d, e) => {
      if (e.type !== 'rollout.device' || e.rolloutId !== id) return undefined;
      if (!d.items.some((x) => x.endpoint === e.endpoint)) return undefined;
      return { ...d, items: d.items.map((x) => (x.endpoint === e.endpoint ? { ...x, state: e.state, updateResult: e.updateResult, reason: e.reason } : x)) };
    },
    // Attempts and times are not in the event: reload now and then (the list is every device of the rollout).
    affects: (e) => e.type === 'rollout.device' && e.rolloutId === id,
    minIntervalMs: 5000,
  });

  const r = rollout.data;
  if (!r) return rollout.error ? <ErrorBox error={rollout.error} /> : <Loading />;
  const items = devices.data?.items ?? [];
  const shown = filter === 'all' ? items : items.filter((d) => d.state === filter);
  const done = (r.counts.succeeded ?? 0) + (r.counts.failed ?? 0) + (r.counts['timed-out'] ?? 0) + (r.counts.cancelled ?? 0) + (r.counts['skipped-offline'] ?? 0);
  const open = r.state === 'running' || r.state === 'paused';
  const steer = async (action: 'pause' | 'resume' | 'cancel') => {
    const updated = await api.post<Rollout>(`/api/v1/rollouts/${encodeURIComponent(id)}/${action}`);
    rollout.mutate(() => updated);
  };

  return (
    <div class="grid" data-testid="rollout-page">
      <Panel
        title={
          <>
            Rollout {r.id} <Badge value={r.state} />
          </>
        }
        actions={
          <Allowed role="operator">
            {r.state === 'running' && <ActionButton onClick={() => steer('pause')}>Pause</ActionButton>}
            {r.state === 'paused' && (
              <ActionButton kind="primary" onClick={() => steer('resume')}>
                Resume
              </ActionButton>
            )}
            {open && (
              <ActionButton kind="danger" confirm={`Cancel rollout ${r.id}? Devices not yet updating stay on their firmware.`} onClick={() => steer('cancel')}>
                Cancel
              </ActionButton>
            )}
          </Allowed>
        }
        class="span-2"
      >
        <div class="progress-big">
          <StackedBar parts={DEVICE_STATES.map((s) => [s, r.counts[s] ?? 0] as const)} total={r.total} label="rollout progress" />
          <span data-testid="rollout-progress">
            {num(r.counts.succeeded ?? 0)} of {num(r.total)} updated · {num(done)} done
          </span>
        </div>
        <div class="legend">
          {DEVICE_STATES.filter((s) => (r.counts[s] ?? 0) > 0).map((s) => (
            <button type="button" class={filter === s ? 'legend-item active' : 'legend-item'} onClick={() => setFilter(filter === s ? 'all' : s)}>
              <span class={`swatch seg-${s}`} /> {s} <strong>{r.counts[s]}</strong>
            </button>
          ))}
        </div>
        {r.reason && <p class="notice">{r.reason}</p>}
        <KeyValues
          rows={[
            ['Firmware', r.firmwareId],
            ['Target', <code>{r.target}</code>],
            ['Policy', policyText(r.policy)],
            ['Current batch', r.currentBatch === null ? '—' : String(r.currentBatch)],
            ['Served', bytes(r.bytesServed)],
            ['Created', `${time(r.createdAt)} (${ago(r.createdAt, now)})`],
            ['Finished', r.finishedAt ? time(r.finishedAt) : '—'],
          ]}
        />
      </Panel>
      <Panel
        title={`Devices · ${items.length}`}
        class="span-2"
        actions={
          <Tabs
            label="device filter"
            value={filter}
            onChange={setFilter}
            options={[['all', 'All'] as const, ...DEVICE_STATES.filter((s) => (r.counts[s] ?? 0) > 0).map((s) => [s, s] as const)]}
          />
        }
      >
        <ErrorBox error={devices.error} />
        <div class="table-wrap">
          <table class="table compact" aria-label="rollout devices">
            <TableHead columns={['Device', ['Batch', 'num'], 'State', 'Update Result', ['Attempts', 'num'], 'From', 'Reason', 'Started', 'Finished']} />
            <tbody>
              {shown.slice(0, MAX_ROWS).map((d) => (
                <tr data-endpoint={d.endpoint} data-state={d.state}>
                  <td>
                    <Link href={devicePath(d.endpoint)}>{d.endpoint}</Link>
                  </td>
                  <td class="num">{d.batch}</td>
                  <td>
                    <Badge value={d.state} />
                  </td>
                  <td>{d.updateResult === null ? '—' : `${d.updateResult} ${UPDATE_RESULT[d.updateResult] ?? ''}`}</td>
                  <td class="num">{d.attempts}</td>
                  <td>{d.fromVersion ?? '—'}</td>
                  <td class="wrap small">{d.reason ?? ''}</td>
                  <td>{time(d.startedAt)}</td>
                  <td>{time(d.finishedAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
        {shown.length > MAX_ROWS && (
          <p class="muted small">
            The first {MAX_ROWS} of {num(shown.length)} devices; pick a state above to see the others.
          </p>
        )}
      </Panel>
    </div>
  );
}
