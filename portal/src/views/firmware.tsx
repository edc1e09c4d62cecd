import { useEffect, useState } from 'preact/hooks';
import { api, query, request } from '../api';
import { TargetCount } from '../components/target-count';
import { Badge, Empty, ErrorBox, ErrorText, Loading, Panel, ProgressCell, TableHead, useAction } from '../components/ui';
import { useLive } from '../events';
import { ago, bytes, time } from '../format';
import { Link, navigate, rolloutPath } from '../router';
import { Allowed } from '../session';
import type { Firmware, Page, Rollout } from '../types';

/** Firmware images (upload, list) and staged rollouts (create, follow). */

function Upload({ onAdded }: { onAdded: (f: Firmware) => void }) {
  const [file, setFile] = useState<File | null>(null);
  const [name, setName] = useState('');
  const [version, setVersion] = useState('');
  const [models, setModels] = useState('');
  const [vendor, setVendor] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    if (!file) return;
    void run(async () => {
      const added = await request<Firmware>(
        'POST',
        `/api/v1/firmware${query({ name: name.trim(), version: version.trim(), model: models.split(',').map((m) => m.trim()).filter(Boolean).join(','), vendor: vendor.trim() })}`,
        undefined,
        { raw: file },
      );
      onAdded(added);
      setFile(null);
      setVersion('');
      (e.target as HTMLFormElement).reset();
    });
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label="upload firmware">
      <label class="field span-all">
        Image
        <input type="file" name="image" required onChange={(e) => setFile(e.currentTarget.files?.[0] ?? null)} />
      </label>
      <label class="field">
        Name
        <input name="name" required maxLength={64} placeholder="sensor" value={name} onInput={(e) => setName(e.currentTarget.value)} />
      </label>
      <label class="field">
        Version
        <input name="version" required maxLength={64} placeholder="1.2.0" value={version} onInput={(e) => setVersion(e.currentTarget.value)} />
      </label>
      <label class="field">
        Models
        <input name="models" required placeholder="EDM-TH1,EDM-MT3" value={models} onInput={(e) => setModels(e.currentTarget.value)} />
      </label>
      <label class="field">
        Vendor
        <input name="vendor" placeholder="(gateway default)" value={vendor} onInput={(e) => setVendor(e.currentTarget.value)} />
      </label>
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy || !file}>
          {busy ? 'Uploading and signing…' : 'Upload'}
        </button>
        {file && <span class="muted small">{bytes(file.size)}</span>}
        <ErrorText error={error} />
      </div>
    </form>
  );
}

function CreateRollout({ firmware }: { firmware: Firmware[] }) {
  const [form, setForm] = useState({
    firmware: '',
    target: 'all',
    canary: '',
    batch: '',
    successPct: '80',
    maxConcurrent: '50',
    ratePerMin: '',
    abortFailurePct: '',
    abortMinDevices: '10',
    timeoutSeconds: '3600',
    deadline: '',
    delivery: 'http',
    allowDowngrade: false,
  });
  const { busy, error, run } = useAction();
  const set = (k: keyof typeof form) => (e: Event) => {
    const el = e.currentTarget as HTMLInputElement;
    setForm((f) => ({ ...f, [k]: el.type === 'checkbox' ? el.checked : el.value }));
  };
  useEffect(() => {
    if (!form.firmware && firmware[0]) setForm((f) => ({ ...f, firmware: firmware[0]!.id }));
  }, [firmware]);

  const submit = (e: Event) => {
    e.preventDefault();
    const int = (v: string) => (v.trim() === '' ? undefined : Number(v));
    const canary = form.canary.trim();
    const body = {
      firmware: form.firmware,
      target: form.target.trim(),
      ...(canary ? { canary: /%$/.test(canary) ? canary : Number(canary) } : {}),
      batch: int(form.batch),
      successPct: int(form.successPct),
      maxConcurrent: int(form.maxConcurrent),
      ratePerMin: int(form.ratePerMin),
      abortFailurePct: int(form.abortFailurePct),
      abortMinDevices: int(form.abortMinDevices),
      timeoutSeconds: int(form.timeoutSeconds),
      ...(form.deadline.trim() ? { deadline: form.deadline.trim() } : {}),
      delivery: form.delivery,
      allowDowngrade: form.allowDowngrade,
    };
    void run(async () => {
      const created = await api.post<Rollout>('/api/v1/rollouts', JSON.parse(JSON.stringify(body)));
      navigate(rolloutPath(created.id));
    });
  };

  if (firmware.length === 0) return <Empty>Upload an image first.</Empty>;
  return (
    <form class="form-grid" onSubmit={submit} aria-label="create rollout">
      <label class="field">
        Firmware
        <select name="firmware" value={form.firmware} onChange={set('firmware')}>
          {firmware.map((f) => (
            <option value={f.id}>
              {f.name} {f.version} ({f.models.join(', ')})
            </option>
          ))}
        </select>
      </label>
      <label class="field span-2">
        Target
        <input name="target" required value={form.target} onInput={set('target')} placeholder="group:north model:EDM-TH1" />
        <TargetCount target={form.target} />
      </label>
      <label class="field">
        Canary
        <input name="canary" placeholder="0, 5 or 5%" value={form.canary} onInput={set('canary')} />
      </label>
      <label class="field">
        Batch size
        <input name="batch" type="number" min="1" placeholder="rest at once" value={form.batch} onInput={set('batch')} />
      </label>
      <label class="field">
        Next batch at success ≥ %
        <input name="successPct" type="number" min="0" max="100" value={form.successPct} onInput={set('successPct')} />
      </label>
      <label class="field">
        Abort at failures ≥ %
        <input name="abortFailurePct" type="number" min="0" max="100" placeholder="never" value={form.abortFailurePct} onInput={set('abortFailurePct')} />
      </label>
      <label class="field">
        …once finished ≥
        <input name="abortMinDevices" type="number" min="1" value={form.abortMinDevices} onInput={set('abortMinDevices')} />
      </label>
      <label class="field">
        Max concurrent
        <input name="maxConcurrent" type="number" min="1" value={form.maxConcurrent} onInput={set('maxConcurrent')} />
      </label>
      <label class="field">
        Starts per minute
        <input name="ratePerMin" type="number" min="1" placeholder="no limit" value={form.ratePerMin} onInput={set('ratePerMin')} />
      </label>
      <label class="field">
        Device timeout (s)
        <input name="timeoutSeconds" type="number" min="1" value={form.timeoutSeconds} onInput={set('timeoutSeconds')} />
      </label>
      <label class="field">
        Deadline
        <input name="deadline" placeholder="2d, or an ISO time" value={form.deadline} onInput={set('deadline')} />
      </label>
      <label class="field">
        Delivery
        <select name="delivery" value={form.delivery} onChange={set('delivery')}>
          <option value="http">http (device pulls)</option>
          <option value="coap">coap (device pulls, Block2)</option>
          <option value="push">push (over the DM link)</option>
        </select>
      </label>
      <label class="check">
        <input type="checkbox" name="allowDowngrade" checked={form.allowDowngrade} onChange={set('allowDowngrade')} /> allow downgrade
      </label>
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy || !form.firmware || !form.target.trim()}>
          {busy ? 'Starting…' : 'Start rollout'}
        </button>
        <ErrorText error={error} />
      </div>
    </form>
  );
}

/** Every rollout, their counts kept current by the event stream; new rollouts and finish times come with a reload now and then. */
export function useRollouts() {
  return useLive(() => api.get<Page<Rollout>>('/api/v1/rollouts'), [], {
    patch: (data, e) => {
      if (e.type !== 'rollout.progress' || !data.items.some((r) => r.id === e.rolloutId)) return undefined;
      return { ...data, items: data.items.map((r) => (r.id === e.rolloutId ? { ...r, state: e.state, counts: e.counts, total: e.total, reason: e.reason } : r)) };
    },
    affects: (e) => e.type === 'rollout.progress',
    minIntervalMs: 3000,
  });
}

/** The columns every list of rollouts has (this view's, the overview's rollouts in progress), and their cells. */
export const ROLLOUT_COLUMNS = ['Rollout', 'Firmware', 'Target', 'State', 'Progress'];

export function RolloutCells({ r }: { r: Rollout }) {
  return (
    <>
      <td>
        <Link href={rolloutPath(r.id)}>{r.id}</Link>
      </td>
      <td>{r.firmwareId}</td>
      <td>
        <code>{r.target}</code>
      </td>
      <td>
        <Badge value={r.state} title={r.reason ?? undefined} />
      </td>
      <ProgressCell counts={r.counts} total={r.total} label={`rollout ${r.id}`} bad={['failed']} />
    </>
  );
}

export function RolloutTable({ rollouts }: { rollouts: Rollout[] }) {
  if (rollouts.length === 0) return <Empty>No rollout yet.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table" aria-label="rollouts">
        <TableHead columns={[...ROLLOUT_COLUMNS, 'Created', 'Finished']} />
        <tbody>
          {rollouts.map((r) => (
            <tr data-rollout={r.id}>
              <RolloutCells r={r} />
              <td title={time(r.createdAt)}>{ago(r.createdAt)}</td>
              <td>{time(r.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

export function FirmwareView() {
  const firmware = useLive(() => api.get<Page<Firmware>>('/api/v1/firmware'), []);
  const rollouts = useRollouts();
  const images = firmware.data?.items ?? [];
  return (
    <div class="grid">
      <Panel title="Rollouts" class="span-2">
        <ErrorBox error={rollouts.error} />
        {rollouts.data ? <RolloutTable rollouts={rollouts.data.items.slice().sort((a, b) => b.createdAt.localeCompare(a.createdAt))} /> : <Loading />}
      </Panel>
      <Allowed role="operator">
        <Panel title="New rollout" class="span-2" id="new-rollout">
          <CreateRollout firmware={images} />
        </Panel>
      </Allowed>
      <Panel title="Firmware images" class="span-2">
        <ErrorBox error={firmware.error} />
        {firmware.data && images.length === 0 ? (
          <Empty>No image in the repository.</Empty>
        ) : (
          <div class="table-wrap">
            <table class="table" aria-label="firmware images">
              <TableHead columns={['ID', 'Name', 'Version', 'Models', 'Vendor', ['Size', 'num'], 'SHA-256', 'Added']} />
              <tbody>
                {images.map((f) => (
                  <tr data-firmware={f.id}>
                    <td class="mono">{f.id}</td>
                    <td>{f.name}</td>
                    <td>{f.version}</td>
                    <td>{f.models.join(', ')}</td>
                    <td>{f.vendor}</td>
                    <td class="num">{bytes(f.size)}</td>
                    <td class="mono small" title={f.sha256}>
                      {f.sha256.slice(0, 16)}…
                    </td>
                    <td>{time(f.createdAt)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
      </Panel>
      <Allowed role="operator">
        <Panel title="Upload an image" class="span-2" id="upload">
          <p class="muted small">The gateway signs a manifest for it with the operator key; devices verify it before installing.</p>
          <Upload onAdded={(f) => firmware.mutate((d) => ({ ...d, items: [...d.items, f] }))} />
        </Panel>
      </Allowed>
    </div>
  );
}
