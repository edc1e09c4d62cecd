import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { TargetCount } from '../components/target-count';
import { Badge, Empty, ErrorBox, ErrorText, Loading, Pager, Panel, ProgressCell, TableHead, useAction } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago, time } from '../format';
import { commandPath, Link, navigate, setQueryOffset, useLocation } from '../router';
import { Allowed } from '../session';
import type { FleetCommand, Page } from '../types';

/** Fleet commands: the list with live progress, and the form that starts one (operator and above). */

/** Per-device states of a fleet command, in the order a device goes through them. */
export const COMMAND_DEVICE_STATES = ['queued', 'sent', 'succeeded', 'failed', 'expired', 'cancelled'] as const;

const OPERATIONS = ['read', 'write', 'execute', 'observe', 'write-attributes'] as const;
/** Built-in jobs and what they run on each device (gateway/commands/jobs.ts). */
const JOBS = [
  ['reboot', 'execute /3/0/4'],
  ['factory-reset', 'execute /3/0/5'],
  ['diagnostics', 'read /3/0, /4/0 and the last 20 lines of /20'],
] as const;
const RESOURCE_TYPES = ['string', 'integer', 'unsigned', 'float', 'boolean', 'opaque', 'time', 'objlnk'] as const;
const ATTRIBUTES = ['pmin', 'pmax', 'gt', 'lt', 'st'] as const;

const PAGE = 20;

export const finishedCount = (c: Pick<FleetCommand, 'counts'>) =>
  (c.counts.succeeded ?? 0) + (c.counts.failed ?? 0) + (c.counts.expired ?? 0) + (c.counts.cancelled ?? 0);

export function operationText(c: Pick<FleetCommand, 'operation' | 'path'>): string {
  return c.path ? `${c.operation} ${c.path}` : c.operation;
}

function CommandTable({ commands }: { commands: FleetCommand[] }) {
  const now = useNow(10_000);
  if (commands.length === 0) return <Empty>No fleet command yet.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table" aria-label="fleet commands">
        <TableHead columns={['Command', 'Operation', 'Target', 'State', 'Progress', 'Created', 'Finished']} />
        <tbody>
          {commands.map((c) => (
            <tr data-command={c.id} data-state={c.state}>
              <td>
                <Link href={commandPath(c.id)} class="mono">
                  {c.id}
                </Link>
              </td>
              <td class="mono">{operationText(c)}</td>
              <td class="wrap">
                <code>{c.target}</code>
              </td>
              <td>
                <Badge value={c.state} title={c.reason ?? undefined} />
              </td>
              <ProgressCell counts={c.counts} total={c.total} label={`fleet command ${c.id}`} states={COMMAND_DEVICE_STATES} bad={['failed', 'expired']} />
              <td title={time(c.createdAt)}>{ago(c.createdAt, now)}</td>
              <td>{time(c.finishedAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

const EMPTY_FORM = {
  target: 'all',
  operation: 'read',
  path: '',
  value: '',
  type: '',
  mode: 'replace',
  args: '',
  pmin: '',
  pmax: '',
  gt: '',
  lt: '',
  st: '',
  ttlSeconds: '',
  maxConcurrent: '',
  ratePerMin: '',
  timeoutMs: '',
};
type Form = typeof EMPTY_FORM;

/** The request body from the form: only what the operation takes, numbers as numbers. */
function commandBody(f: Form): Record<string, unknown> {
  const int = (v: string) => (v.trim() === '' ? undefined : Number(v));
  const isJob = JOBS.some(([j]) => j === f.operation);
  const attributes = Object.fromEntries(ATTRIBUTES.filter((a) => f[a].trim() !== '').map((a) => [a, Number(f[a])]));
  const body: Record<string, unknown> = {
    target: f.target.trim(),
    operation: f.operation,
    ...(isJob ? {} : { path: f.path.trim() }),
    ...(f.operation === 'write' ? { value: f.value, mode: f.mode, ...(f.type ? { type: f.type } : {}) } : {}),
    ...(f.operation === 'execute' && f.args !== '' ? { args: f.args } : {}),
    ...(f.operation === 'write-attributes' ? { attributes } : {}),
    ttlSeconds: int(f.ttlSeconds),
    maxConcurrent: int(f.maxConcurrent),
    ratePerMin: int(f.ratePerMin),
    timeoutMs: int(f.timeoutMs),
  };
  return Object.fromEntries(Object.entries(body).filter(([, v]) => v !== undefined));
}

function CreateCommand() {
  const [form, setForm] = useState<Form>(EMPTY_FORM);
  const { busy, error, run } = useAction();
  const set = (k: keyof Form) => (e: Event) => {
    const value = (e.currentTarget as HTMLInputElement).value;
    setForm((f) => ({ ...f, [k]: value }));
  };
  const job = JOBS.find(([j]) => j === form.operation);
  const op = form.operation;

  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const created = await api.post<FleetCommand>('/api/v1/fleet/commands', commandBody(form));
      navigate(commandPath(created.id));
    });
  };

  const number = (k: keyof Form, label: string, placeholder: string, step?: string) => (
    <label class="field">
      {label}
      <input name={k} type="number" min={step ? undefined : '1'} step={step} placeholder={placeholder} value={form[k]} onInput={set(k)} />
    </label>
  );

  return (
    <form class="form-grid" onSubmit={submit} aria-label="create fleet command">
      <label class="field span-2">
        Target
        <input name="target" required value={form.target} onInput={set('target')} placeholder="group:north status:online" />
        <TargetCount target={form.target} />
      </label>
      <label class="field">
        Operation or job
        <select name="operation" value={op} onChange={set('operation')}>
          <optgroup label="operation">
            {OPERATIONS.map((o) => (
              <option value={o}>{o}</option>
            ))}
          </optgroup>
          <optgroup label="job">
            {JOBS.map(([j]) => (
              <option value={j}>{j}</option>
            ))}
          </optgroup>
        </select>
      </label>
      {job ? (
        <div class="field">
          Runs
          <span class="job-steps mono">{job[1]}</span>
        </div>
      ) : (
        <label class="field">
          Path
          <input name="path" required placeholder={op === 'execute' ? '/3/0/4' : op === 'write' ? '/1/0/1' : '/3/0/9'} pattern="/\d+(/\d+){0,3}" value={form.path} onInput={set('path')} />
        </label>
      )}
      {op === 'write' && (
        <>
          <label class="field span-2">
            Value
            <input name="value" required value={form.value} onInput={set('value')} placeholder="600" />
          </label>
          <label class="field">
            Type
            <select name="type" value={form.type} onChange={set('type')}>
              <option value="">from the object registry</option>
              {RESOURCE_TYPES.map((t) => (
                <option value={t}>{t}</option>
              ))}
            </select>
          </label>
          <label class="field">
            Mode
            <select name="mode" value={form.mode} onChange={set('mode')}>
              <option value="replace">replace</option>
              <option value="update">update (partial)</option>
            </select>
          </label>
        </>
      )}
      {op === 'execute' && (
        <label class="field span-2">
          Arguments
          <input name="args" placeholder="(none)" value={form.args} onInput={set('args')} />
        </label>
      )}
      {op === 'write-attributes' && (
        <div class="span-all attr-row">
          {ATTRIBUTES.map((a) => number(a, a, a === 'pmin' || a === 'pmax' ? 'seconds' : 'value', 'any'))}
        </div>
      )}
      {number('ttlSeconds', 'TTL (s)', 'gateway default')}
      {number('maxConcurrent', 'Max concurrent', 'gateway default')}
      {number('ratePerMin', 'Sends per minute', 'no limit')}
      {number('timeoutMs', 'Device timeout (ms)', 'gateway default')}
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy || !form.target.trim()}>
          {busy ? 'Creating…' : 'Run on the target'}
        </button>
        <span class="muted small">The target is resolved now; devices away get the command when they come back, until its TTL.</span>
        <ErrorText error={error} />
      </div>
    </form>
  );
}

export function FleetCommandsView() {
  const { query: q } = useLocation();
  const offset = Number(q.get('offset') ?? 0) || 0;
  const list = useLive(() => api.get<Page<FleetCommand>>(`/api/v1/fleet/commands${query({ offset, limit: PAGE })}`), [offset], {
    patch: (data, e) => {
      if (e.type !== 'fleet.command.progress' || !data.items.some((c) => c.id === e.commandId)) return undefined;
      return { ...data, items: data.items.map((c) => (c.id === e.commandId ? { ...c, state: e.state, counts: e.counts, total: e.total, reason: e.reason } : c)) };
    },
    // New commands and finish times come with a reload now and then; counts come with each event.
    affects: (e) => e.type === 'fleet.command.progress',
    minIntervalMs: 3000,
  });
  return (
    <div class="grid">
      <Panel
        title="Fleet commands"
        class="span-2"
        actions={
          <Allowed role="operator">
            <a class="btn" href="#new-command">
              New command
            </a>
          </Allowed>
        }
      >
        <ErrorBox error={list.error} />
        {list.data ? (
          <>
            <CommandTable commands={list.data.items} />
            {(list.data.total ?? 0) > PAGE && <Pager offset={offset} limit={PAGE} total={list.data.total} onChange={setQueryOffset} />}
          </>
        ) : (
          !list.error && <Loading />
        )}
      </Panel>
      <Allowed role="operator">
        <Panel title="New fleet command" class="span-2" id="new-command">
          <CreateCommand />
        </Panel>
      </Allowed>
    </div>
  );
}
