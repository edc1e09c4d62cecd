import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { decimal, integer } from '../arguments.js';
import { apiFrom, output } from '../context.js';
import { ago, table } from '../format.js';

interface AlarmView {
  id: number;
  ruleId: string;
  endpoint: string;
  severity: string;
  state: string;
  message: string;
  raisedAt: string;
  acknowledgedBy: string | null;
  clearedAt: string | null;
}

interface RuleView {
  id: string;
  name: string;
  kind: string;
  severity: string;
  enabled: boolean;
  path?: string;
  op?: string;
  threshold?: number;
  hysteresis?: number;
  afterSeconds?: number;
}

interface RuleOptions {
  name?: string;
  kind?: string;
  severity?: string;
  path?: string;
  op?: string;
  threshold?: number;
  hysteresis?: number;
  after?: number;
  disabled?: boolean;
}

const enc = encodeURIComponent;

function condition(r: RuleView): string {
  if (r.kind === 'value') return `${r.path} ${r.op} ${r.threshold}${r.hysteresis ? ` (hysteresis ${r.hysteresis})` : ''}`;
  if (r.kind === 'offline') return `offline > ${r.afterSeconds} s`;
  return 'firmware update failed';
}

function ruleOptions(cmd: Command): Command {
  return cmd
    .option('--name <text>', 'what the rule is about')
    .option('--kind <kind>', 'value | offline | update-failed')
    .option('--severity <s>', 'critical | major | minor | warning')
    .option('--path <path>', 'value rules: the resource, e.g. /3/0/9')
    .option('--op <op>', 'value rules: < <= > >= == !=')
    .option('--threshold <n>', 'value rules: the threshold', decimal)
    .option('--hysteresis <n>', 'value rules: how far back the value must go to clear', decimal)
    .option('--after <seconds>', 'offline rules: how long offline', integer)
    .option('--disabled', 'create or keep the rule switched off');
}

/** The flat API body from options, over an existing rule when changing one. */
function ruleBody(o: RuleOptions, base: Partial<RuleView> = {}): Record<string, unknown> {
  const body: Record<string, unknown> = {
    name: o.name ?? base.name,
    kind: o.kind ?? base.kind,
    severity: o.severity ?? base.severity,
    enabled: o.disabled ? false : (base.enabled ?? true),
    path: o.path ?? base.path,
    op: o.op ?? base.op,
    threshold: o.threshold ?? base.threshold,
    hysteresis: o.hysteresis ?? base.hysteresis,
    afterSeconds: o.after ?? base.afterSeconds,
  };
  for (const k of Object.keys(body)) if (body[k] === undefined) delete body[k];
  if (!body.name || !body.kind || !body.severity) throw new CliError('a rule needs --name, --kind and --severity');
  return body;
}

export function registerAlarmCommands(program: Command): void {
  const alarms = program.command('alarms').description('alarms: list (default), acknowledge');
  alarms
    .command('list', { isDefault: true })
    .description('alarms, newest first')
    .option('--state <state>', 'active | acknowledged | cleared')
    .option('--severity <s>', 'critical | major | minor | warning')
    .option('--device <endpoint>', 'one device')
    .option('--limit <n>', 'at most this many', integer)
    .option('--offset <n>', 'skip this many', integer)
    .action(async (o: { state?: string; severity?: string; device?: string; limit?: number; offset?: number }, cmd: Command) => {
      const r = await apiFrom(cmd).get<{ items: AlarmView[]; total: number }>('/api/v1/alarms', { state: o.state, severity: o.severity, endpoint: o.device, limit: o.limit, offset: o.offset });
      output(cmd, r, () =>
        r.items.length === 0
          ? 'no alarms'
          : `${table(
              ['ID', 'SEVERITY', 'STATE', 'DEVICE', 'RAISED', 'MESSAGE'],
              r.items.map((a) => [String(a.id), a.severity, a.state + (a.acknowledgedBy ? ` (${a.acknowledgedBy})` : ''), a.endpoint, ago(a.raisedAt), a.message]),
            )}\n${r.items.length} of ${r.total}`,
      );
    });
  alarms
    .command('ack <id>')
    .description('acknowledge an active alarm')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      // Acknowledged by the operator the CLI is logged in as.
      const a = await apiFrom(cmd).post<AlarmView>(`/api/v1/alarms/${enc(id)}/acknowledge`, {});
      output(cmd, a, () => `alarm ${a.id} acknowledged by ${a.acknowledgedBy}`);
    });

  const rules = program.command('alarm-rules').description('alarm rules: list (default), add, set, enable, disable, delete');
  rules
    .command('list', { isDefault: true })
    .description('the rules alarms are raised by')
    .action(async (_o: unknown, cmd: Command) => {
      const r = { items: await apiFrom(cmd).getAll<RuleView>('/api/v1/alarm-rules') };
      output(cmd, r, () => table(['ID', 'SEVERITY', 'ON', 'CONDITION', 'NAME'], r.items.map((x) => [x.id, x.severity, x.enabled ? 'yes' : 'no', condition(x), x.name])));
    });
  ruleOptions(rules.command('add').description('add a rule, e.g. --kind value --path /3/0/9 --op "<" --threshold 15 --severity major --name "battery low"')).action(
    async (o: RuleOptions, cmd: Command) => {
      const r = await apiFrom(cmd).post<RuleView>('/api/v1/alarm-rules', ruleBody(o));
      output(cmd, r, () => `rule ${r.id} added: ${condition(r)}`);
    },
  );
  ruleOptions(rules.command('set <id>').description('change a rule (options not given stay as they are)')).action(async (id: string, o: RuleOptions, cmd: Command) => {
    const api = apiFrom(cmd);
    const current = await api.get<RuleView>(`/api/v1/alarm-rules/${enc(id)}`);
    const r = await api.put<RuleView>(`/api/v1/alarm-rules/${enc(id)}`, ruleBody(o, current));
    output(cmd, r, () => `rule ${r.id}: ${condition(r)}, ${r.severity}${r.enabled ? '' : ', disabled'}`);
  });
  for (const enabled of [true, false]) {
    rules
      .command(`${enabled ? 'enable' : 'disable'} <id>`)
      .description(enabled ? 'switch a rule on' : 'switch a rule off (its open alarms clear)')
      .action(async (id: string, _o: unknown, cmd: Command) => {
        const api = apiFrom(cmd);
        const current = await api.get<RuleView>(`/api/v1/alarm-rules/${enc(id)}`);
        const r = await api.put<RuleView>(`/api/v1/alarm-rules/${enc(id)}`, { ...ruleBody({}, current), enabled });
        output(cmd, r, () => `rule ${r.id} ${enabled ? 'enabled' : 'disabled'}`);
      });
  }
  rules
    .command('delete <id>')
    .description('delete a rule (its open alarms clear; the history stays)')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await apiFrom(cmd).delete(`/api/v1/alarm-rules/${enc(id)}`);
      output(cmd, { deleted: id }, () => `rule ${id} deleted`);
    });
}
