import type { Command } from 'commander';
import { apiFrom, output } from '../context.js';
import { table } from '../format.js';
import { formatBytes } from './firmware.js';
import { decimal, integer } from '../arguments.js';

interface RolloutView {
  id: string;
  firmwareId: string;
  target: string;
  state: string;
  reason: string | null;
  total: number;
  counts: Record<string, number>;
  currentBatch: number | null;
  bytesServed: number;
  createdAt: string;
  finishedAt: string | null;
}

interface RolloutDeviceView {
  endpoint: string;
  batch: number;
  state: string;
  updateResult: number | null;
  reason: string | null;
  attempts: number;
  fromVersion: string | null;
}

const enc = encodeURIComponent;

function progress(r: RolloutView): string {
  const done = ['succeeded', 'failed', 'timed-out', 'cancelled', 'skipped-offline'].reduce((n, s) => n + (r.counts[s] ?? 0), 0);
  const counts = Object.entries(r.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return `${done}/${r.total} done (${counts})`;
}

function describe(r: RolloutView): string {
  const lines = [
    `rollout    ${r.id}`,
    `firmware   ${r.firmwareId}`,
    `target     ${r.target}`,
    `state      ${r.state}${r.reason ? ` — ${r.reason}` : ''}`,
    `progress   ${progress(r)}`,
    `batch      ${r.currentBatch ?? '-'}`,
    `served     ${formatBytes(r.bytesServed)}`,
  ];
  return lines.join('\n');
}

export function registerRolloutCommands(program: Command): void {
  const rollout = program.command('rollout').description('staged firmware rollouts: canary, batches, abort thresholds');

  rollout
    .command('create')
    .description('start rolling a firmware image out to the devices a target expression selects')
    .requiredOption('--firmware <id>', 'firmware id (name@version), see `edgedm firmware list`')
    .requiredOption('--target <expr>', 'which devices, e.g. "all" or "group:north model:EDM-TH1"')
    .option('--canary <n|p%>', 'devices in the canary phase, a count or a percentage')
    .option('--batch <n>', 'devices per batch after the canary', integer)
    .option('--success-pct <p>', 'share of a batch that must succeed before the next starts (default 80)', decimal)
    .option('--max-concurrent <n>', 'devices updating at once (default 50)', integer)
    .option('--rate-per-min <n>', 'device updates started per minute at most', integer)
    .option('--abort-failure-pct <p>', 'abort when this share of finished devices failed…', decimal)
    .option('--abort-min-devices <m>', '…once at least this many have finished (default 10)', integer)
    .option('--timeout <s>', 'per-device timeout in seconds (default 3600)', integer)
    .option('--deadline <t>', 'ISO time or duration (90m, 2h, 1d) after which remaining devices are skipped')
    .option('--allow-downgrade', 'allow installing a version older than the running one')
    .option('--delivery <how>', 'http or coap (devices pull the image from the gateway), or push (blocks over the device\'s DM link); default http')
    .option('--wait', 'follow progress until the rollout ends')
    .action(async (o: Record<string, string | number | boolean | undefined>, cmd: Command) => {
      const api = apiFrom(cmd);
      const body = {
        firmware: o.firmware,
        target: o.target,
        canary: o.canary,
        batch: o.batch,
        successPct: o.successPct,
        maxConcurrent: o.maxConcurrent,
        ratePerMin: o.ratePerMin,
        abortFailurePct: o.abortFailurePct,
        abortMinDevices: o.abortMinDevices,
        timeoutSeconds: o.timeout,
        deadline: o.deadline,
        allowDowngrade: o.allowDowngrade === true ? true : undefined,
        delivery: o.delivery,
      };
      let r = await api.post<RolloutView>('/api/v1/rollouts', body);
      if (!o.wait) return output(cmd, r, () => `${describe(r)}\n\nfollow it with: edgedm rollout status ${r.id}`);
      if (!cmd.optsWithGlobals().json) process.stdout.write(`rollout ${r.id} started\n`);
      while (!r.finishedAt) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        r = await api.get<RolloutView>(`/api/v1/rollouts/${enc(r.id)}`);
        if (!cmd.optsWithGlobals().json) process.stdout.write(`  ${r.state}: ${progress(r)}\n`);
      }
      output(cmd, r, () => describe(r));
      if (r.state !== 'completed' || (r.counts.failed ?? 0) > 0) process.exitCode = 2;
    });

  rollout
    .command('status [id]')
    .description('one rollout with its devices, or all rollouts')
    .option('--devices', 'list every device of the rollout')
    .action(async (id: string | undefined, o: { devices?: boolean }, cmd: Command) => {
      const api = apiFrom(cmd);
      if (!id) {
        const items = await api.getAll<RolloutView>('/api/v1/rollouts');
        return output(cmd, items, () =>
          items.length === 0 ? 'no rollouts yet' : table(['ID', 'FIRMWARE', 'STATE', 'PROGRESS', 'TARGET'], items.map((r) => [r.id, r.firmwareId, r.state, progress(r), r.target])),
        );
      }
      const r = await api.get<RolloutView>(`/api/v1/rollouts/${enc(id)}`);
      const devices = await api.getAll<RolloutDeviceView>(`/api/v1/rollouts/${enc(id)}/devices`);
      output(cmd, { ...r, devices }, () => {
        const shown = o.devices ? devices : devices.filter((d) => d.state !== 'succeeded' && d.state !== 'queued');
        const rows = shown.map((d) => [d.endpoint, String(d.batch), d.state, d.updateResult === null ? '' : String(d.updateResult), String(d.attempts), d.reason ?? '']);
        return rows.length === 0 ? describe(r) : `${describe(r)}\n\n${table(['DEVICE', 'BATCH', 'STATE', 'RESULT', 'TRIES', 'REASON'], rows)}`;
      });
    });

  for (const action of ['pause', 'resume', 'cancel'] as const) {
    rollout
      .command(`${action} <id>`)
      .description(`${action} a rollout${action === 'cancel' ? ' (devices mid-update finish; queued ones are cancelled)' : ''}`)
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const r = await apiFrom(cmd).post<RolloutView>(`/api/v1/rollouts/${enc(id)}/${action}`, {});
        output(cmd, r, () => describe(r));
      });
  }
}
