import type { Command } from 'commander';
import { apiFrom, output } from '../context.js';
import { formatValue, table } from '../format.js';
import { decimal, integer } from '../arguments.js';
import { TERMINAL_COMMAND_STATES } from '../../protocol/states.js';

interface CommandView {
  id: string;
  target: string;
  operation: string;
  path: string | null;
  steps: string[];
  state: string;
  reason: string | null;
  policy: { ttlSeconds: number; maxConcurrent: number; ratePerMin: number | null; timeoutMs: number };
  total: number;
  counts: Record<string, number>;
  createdAt: string;
  expiresAt: string;
  finishedAt: string | null;
  aggregate?: {
    steps: { kind: string; path: string; codes: Record<string, number> }[];
    values: Record<string, { devices: number; distinct: number; top: { value: unknown; count: number }[]; numeric?: { min: number; max: number; mean: number } }>;
  };
}

interface CommandDeviceView {
  endpoint: string;
  state: string;
  attempts: number;
  reason: string | null;
  result: { steps: { code: string }[] } | null;
}

const enc = encodeURIComponent;

function progress(c: CommandView): string {
  const done = TERMINAL_COMMAND_STATES.reduce((n, s) => n + (c.counts[s] ?? 0), 0);
  const counts = Object.entries(c.counts)
    .filter(([, n]) => n > 0)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');
  return `${done}/${c.total} done (${counts})`;
}

function describe(c: CommandView): string {
  const p = c.policy;
  const lines = [
    `command    ${c.id}`,
    `operation  ${c.operation}${c.path ? ` ${c.path}` : ` (${c.steps.join(', ')})`}`,
    `target     ${c.target}`,
    `state      ${c.state}${c.reason ? ` — ${c.reason}` : ''}`,
    `progress   ${progress(c)}`,
    `policy     ttl ${p.ttlSeconds} s (until ${c.expiresAt}), ${p.maxConcurrent} at once, ${p.ratePerMin === null ? 'no rate limit' : `${p.ratePerMin}/min`}`,
  ];
  const agg = c.aggregate;
  if (agg && agg.steps.length > 0) {
    lines.push('', 'results');
    for (const s of agg.steps) lines.push(`  ${s.kind} ${s.path}: ${Object.entries(s.codes).map(([code, n]) => `${code} ×${n}`).join(', ')}`);
    const rows = Object.entries(agg.values).map(([path, v]) => {
      const top = v.top.map((t) => `${formatValue(t.value)} ×${t.count}`).join(', ');
      const more = v.distinct > v.top.length ? `, … ${v.distinct - v.top.length} more` : '';
      const numeric = v.numeric ? ` (min ${v.numeric.min}, max ${v.numeric.max}, mean ${Number(v.numeric.mean.toFixed(2))})` : '';
      return [path, `${top}${more}${numeric}`];
    });
    if (rows.length > 0) lines.push('', table(['PATH', 'VALUES ACROSS THE FLEET'], rows));
  }
  return lines.join('\n');
}

export function registerFleetCommands(program: Command): void {
  const fleet = program.command('fleet').description('commands to many devices at once, queued for devices that are offline or asleep');

  fleet
    .command('run <operation> [path] [value]')
    .description('run read, write, execute, observe or write-attributes, or a job (reboot, factory-reset, diagnostics), on every device a target selects')
    .requiredOption('--target <expr>', 'which devices, e.g. "all", "group:north", "tag:rooftop status:online"')
    .option('--ttl <s>', 'how long a device that is away may still get it, in seconds (default 1 day)', integer)
    .option('--max-concurrent <n>', 'devices with a request in flight at once (default 100)', integer)
    .option('--rate-per-min <n>', 'sends per minute at most', integer)
    .option('--timeout <ms>', 'per-device request timeout', integer)
    .option('--type <type>', 'write: the resource type, for objects the gateway does not know')
    .option('--args <args>', 'execute: the arguments')
    .option('--pmin <s>', 'write-attributes: minimum period', integer)
    .option('--pmax <s>', 'write-attributes: maximum period', integer)
    .option('--gt <x>', 'write-attributes: greater-than threshold', decimal)
    .option('--lt <x>', 'write-attributes: less-than threshold', decimal)
    .option('--st <x>', 'write-attributes: step', decimal)
    .option('--wait', 'follow progress until every device has an outcome')
    .action(async (operation: string, path: string | undefined, value: string | undefined, o: Record<string, string | number | boolean | undefined>, cmd: Command) => {
      const api = apiFrom(cmd);
      const attributes = Object.fromEntries(['pmin', 'pmax', 'gt', 'lt', 'st'].filter((k) => o[k] !== undefined).map((k) => [k, o[k]]));
      const body = {
        target: o.target,
        operation,
        path,
        value,
        type: o.type,
        args: o.args,
        attributes: Object.keys(attributes).length > 0 ? attributes : undefined,
        ttlSeconds: o.ttl,
        maxConcurrent: o.maxConcurrent,
        ratePerMin: o.ratePerMin,
        timeoutMs: o.timeout,
      };
      const created = await api.post<CommandView>('/api/v1/fleet/commands', body);
      if (!o.wait) return output(cmd, created, () => `${describe(created)}\n\nfollow it with: edgedm fleet status ${created.id}`);
      const json = cmd.optsWithGlobals().json;
      if (!json) process.stdout.write(`fleet command ${created.id} queued for ${created.total} device(s)\n`);
      let c = created;
      while (!c.finishedAt) {
        await new Promise((resolve) => setTimeout(resolve, 1000));
        c = await api.get<CommandView>(`/api/v1/fleet/commands/${enc(c.id)}`);
        if (!json && !c.finishedAt) process.stdout.write(`  ${c.state}: ${progress(c)}\n`);
      }
      output(cmd, c, () => describe(c));
      if (c.state !== 'completed' || (c.counts.failed ?? 0) + (c.counts.expired ?? 0) > 0) process.exitCode = 2;
    });

  fleet
    .command('status [id]')
    .description('one fleet command with its results, or the most recent ones')
    .option('--devices', 'list every device of the command (otherwise only those not succeeded)')
    .option('--state <state>', 'only devices in this state (queued, sent, succeeded, failed, expired, cancelled)')
    .option('--limit <n>', 'how many to list', integer, 100)
    .action(async (id: string | undefined, o: { devices?: boolean; state?: string; limit: number }, cmd: Command) => {
      const api = apiFrom(cmd);
      if (!id) {
        const page = await api.get<{ items: CommandView[]; total: number }>('/api/v1/fleet/commands', { limit: o.limit });
        return output(cmd, page, () =>
          page.items.length === 0
            ? 'no fleet commands yet'
            : table(
                ['ID', 'OPERATION', 'STATE', 'PROGRESS', 'TARGET'],
                page.items.map((c) => [c.id, `${c.operation}${c.path ? ` ${c.path}` : ''}`, c.state, progress(c), c.target]),
              ),
        );
      }
      const c = await api.get<CommandView>(`/api/v1/fleet/commands/${enc(id)}`);
      // Without --devices or --state, every device is fetched to find those not succeeded.
      const { items: devices, total } =
        o.devices || o.state
          ? await api.get<{ items: CommandDeviceView[]; total: number }>(`/api/v1/fleet/commands/${enc(id)}/devices`, { state: o.state, limit: o.limit })
          : await api.getAll<CommandDeviceView>(`/api/v1/fleet/commands/${enc(id)}/devices`).then((items) => ({ items, total: items.length }));
      output(cmd, { ...c, devices }, () => {
        const shown = o.devices || o.state ? devices : devices.filter((d) => d.state !== 'succeeded').slice(0, o.limit);
        const rows = shown.map((d) => [d.endpoint, d.state, String(d.attempts), d.result?.steps.at(-1)?.code ?? '', d.reason ?? '']);
        const more = o.devices && total > shown.length ? `\n${shown.length} of ${total} device(s); --limit to see more` : '';
        return rows.length === 0 ? describe(c) : `${describe(c)}\n\n${table(['DEVICE', 'STATE', 'TRIES', 'CODE', 'REASON'], rows)}${more}`;
      });
    });

  fleet
    .command('cancel <id>')
    .description('cancel a fleet command: devices not yet reached never get it; requests in flight finish')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      const c = await apiFrom(cmd).post<CommandView>(`/api/v1/fleet/commands/${enc(id)}/cancel`, {});
      output(cmd, c, () => describe(c));
    });
}
