import { hostname } from 'node:os';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { ApiClient, CliError } from '../api-client.js';
import { wholeNumber } from '../arguments.js';
import { apiFrom, apiUrlFrom, output } from '../context.js';
import { forgetLogin, saveLogin, savedLogin } from '../credentials.js';
import { ago, table } from '../format.js';

interface OperatorView {
  username: string;
  role: string;
  createdAt: string;
  updatedAt: string;
}

interface TokenView {
  id: string;
  username: string;
  name: string;
  kind: string;
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

interface AuditView {
  id: number;
  at: string;
  actor: string | null;
  action: string;
  target: string | null;
  status: number;
  outcome: string;
  details: Record<string, unknown> | null;
}

const enc = encodeURIComponent;
export const CLI_TOKEN_DAYS = 90;

/** Reads a line from the terminal without echoing it, or the first line of stdin when it is not a terminal. */
async function readSecret(prompt: string): Promise<string> {
  if (!process.stdin.isTTY) {
    const rl = createInterface({ input: process.stdin });
    for await (const line of rl) {
      rl.close();
      return line;
    }
    throw new CliError('no password on stdin');
  }
  process.stderr.write(prompt);
  const rl = createInterface({ input: process.stdin, output: process.stderr, terminal: true });
  // Echo nothing while the password is typed.
  (rl as unknown as { _writeToOutput: (s: string) => void })._writeToOutput = () => {};
  const answer = await new Promise<string>((resolve) => rl.question('', resolve));
  rl.close();
  process.stderr.write('\n');
  return answer;
}

async function readLine(prompt: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  const answer = await new Promise<string>((resolve) => rl.question(prompt, resolve));
  rl.close();
  return answer.trim();
}

/**
 * `edgedm login`: exchanges a password for a long-lived API token for this machine's CLI, kept
 * (0600) in the user's config directory; `logout` revokes it; `whoami` shows it.
 */
export function registerOperatorCommands(program: Command): void {
  program
    .command('login')
    .description('log in to the gateway API; the CLI keeps a token for it in ~/.config/edgedm (0600)')
    .option('-u, --username <name>', 'operator name (asked for when omitted)')
    .option('--password-stdin', 'read the password from stdin instead of asking')
    .option('--days <n>', `how long the CLI token lasts (default ${CLI_TOKEN_DAYS})`, wholeNumber('days'))
    .action(async (o: { username?: string; passwordStdin?: boolean; days?: number }, cmd: Command) => {
      const baseUrl = apiUrlFrom(cmd);
      const username = o.username ?? process.env.EDGEDM_USERNAME ?? (process.stdin.isTTY ? await readLine('username: ') : 'admin');
      const password = process.env.EDGEDM_PASSWORD && !o.passwordStdin ? process.env.EDGEDM_PASSWORD : await readSecret('password: ');
      const anonymous = apiFrom(cmd, '');
      const session = await anonymous.post<{ token: string; operator: { username: string; role: string } }>('/api/v1/auth/login', { username, password });
      const asSession = clientWith(baseUrl, session.token, cmd);
      const created = await asSession.post<{ token: string; info: TokenView }>('/api/v1/tokens', {
        name: `edgedm CLI on ${hostname()}`,
        expiresInDays: o.days ?? CLI_TOKEN_DAYS,
      });
      await asSession.post('/api/v1/auth/logout', {});
      const previous = savedLogin(baseUrl);
      const file = saveLogin(baseUrl, {
        token: created.token,
        tokenId: created.info.id,
        username: session.operator.username,
        role: session.operator.role,
        ...(caOf(cmd) ? { ca: caOf(cmd)! } : previous?.ca ? { ca: previous.ca } : {}),
        savedAt: new Date().toISOString(),
      });
      // The token this machine held before is not needed any more.
      if (previous?.tokenId) await clientWith(baseUrl, created.token, cmd).delete(`/api/v1/tokens/${enc(previous.tokenId)}`).catch(() => undefined);
      output(cmd, { username: session.operator.username, role: session.operator.role, api: baseUrl, expiresAt: created.info.expiresAt, file }, () =>
        `logged in to ${baseUrl} as ${session.operator.username} (${session.operator.role}); token saved in ${file}, valid until ${created.info.expiresAt}`,
      );
    });

  program
    .command('logout')
    .description('revoke the CLI token of this gateway and forget it')
    .action(async (_o: unknown, cmd: Command) => {
      const baseUrl = apiUrlFrom(cmd);
      const saved = savedLogin(baseUrl);
      if (!saved) throw new CliError(`not logged in to ${baseUrl}`);
      if (saved.tokenId) await apiFrom(cmd, saved.token).delete(`/api/v1/tokens/${enc(saved.tokenId)}`).catch(() => undefined);
      forgetLogin(baseUrl);
      output(cmd, { api: baseUrl, loggedOut: true }, () => `logged out of ${baseUrl}`);
    });

  program
    .command('whoami')
    .description('the operator the CLI is logged in as')
    .action(async (_o: unknown, cmd: Command) => {
      const me = await apiFrom(cmd).get<{ username: string; role: string }>('/api/v1/auth/me');
      output(cmd, { ...me, api: apiUrlFrom(cmd) }, () => `${me.username} (${me.role}) at ${apiUrlFrom(cmd)}`);
    });

  program
    .command('passwd')
    .description('change your own password')
    .action(async (_o: unknown, cmd: Command) => {
      const currentPassword = await readSecret('current password: ');
      const newPassword = await readSecret('new password: ');
      await apiFrom(cmd).post('/api/v1/auth/password', { currentPassword, newPassword });
      output(cmd, { changed: true }, () => 'password changed; your other sessions are logged out');
    });

  const operators = program.command('operator').description('operator accounts (admin)');
  operators
    .command('list')
    .description('list operator accounts')
    .action(async (_o: unknown, cmd: Command) => {
      const { items } = await apiFrom(cmd).get<{ items: OperatorView[] }>('/api/v1/operators', { limit: 1000 });
      output(cmd, items, () => table(['USERNAME', 'ROLE', 'CREATED'], items.map((u) => [u.username, u.role, ago(u.createdAt)])));
    });
  operators
    .command('add <username>')
    .description('create an operator; the password is read from the terminal (or stdin)')
    .requiredOption('--role <role>', 'viewer | operator | admin')
    .action(async (username: string, o: { role: string }, cmd: Command) => {
      const password = await readSecret(`password for ${username}: `);
      const created = await apiFrom(cmd).post<OperatorView>('/api/v1/operators', { username, password, role: o.role });
      output(cmd, created, () => `created ${created.username} (${created.role})`);
    });
  operators
    .command('set <username>')
    .description("change an operator's role, or set a new password (--password reads it from the terminal)")
    .option('--role <role>', 'viewer | operator | admin')
    .option('--password', 'set a new password')
    .action(async (username: string, o: { role?: string; password?: boolean }, cmd: Command) => {
      if (!o.role && !o.password) throw new CliError('give --role and/or --password');
      const body: Record<string, string> = {};
      if (o.role) body.role = o.role;
      if (o.password) body.password = await readSecret(`new password for ${username}: `);
      const updated = await apiFrom(cmd).put<OperatorView>(`/api/v1/operators/${enc(username)}`, body);
      output(cmd, updated, () => `${updated.username} is ${updated.role}`);
    });
  operators
    .command('remove <username>')
    .description('delete an operator and its tokens')
    .action(async (username: string, _o: unknown, cmd: Command) => {
      await apiFrom(cmd).delete(`/api/v1/operators/${enc(username)}`);
      output(cmd, { removed: username }, () => `removed ${username}`);
    });

  const tokens = program.command('token').description('API tokens for scripts');
  tokens
    .command('list')
    .description('your tokens (--all: everyone\'s, admin)')
    .option('--all', "every operator's tokens")
    .action(async (o: { all?: boolean }, cmd: Command) => {
      const { items } = await apiFrom(cmd).get<{ items: TokenView[] }>('/api/v1/tokens', o.all ? { all: 'true' } : {});
      output(cmd, items, () =>
        table(
          ['ID', 'OPERATOR', 'KIND', 'NAME', 'LAST USED', 'EXPIRES'],
          items.map((t) => [t.id, t.username, t.kind, t.name, t.lastUsedAt ? ago(t.lastUsedAt) : 'never', t.expiresAt ?? 'never']),
        ),
      );
    });
  tokens
    .command('create <name>')
    .description('create a token for yourself; it is printed once')
    .option('--days <n>', 'expires after this many days (default: never)', wholeNumber('days'))
    .action(async (name: string, o: { days?: number }, cmd: Command) => {
      const created = await apiFrom(cmd).post<{ token: string; info: TokenView }>('/api/v1/tokens', { name, ...(o.days ? { expiresInDays: o.days } : {}) });
      output(cmd, created, () => `${created.token}\n(id ${created.info.id}; shown once: keep it in a secret store, send it as "Authorization: Bearer <token>")`);
    });
  tokens
    .command('current')
    .description('print the token the CLI uses for this gateway (for curl: -H "Authorization: Bearer $(edgedm token current)")')
    .action((_o: unknown, cmd: Command) => {
      const token = process.env.EDGEDM_TOKEN ?? savedLogin(apiUrlFrom(cmd))?.token;
      if (!token) throw new CliError(`not logged in to ${apiUrlFrom(cmd)}; run \`edgedm login\``);
      process.stdout.write(`${token}\n`);
    });
  tokens
    .command('revoke <id>')
    .description('revoke a token')
    .action(async (id: string, _o: unknown, cmd: Command) => {
      await apiFrom(cmd).delete(`/api/v1/tokens/${enc(id)}`);
      output(cmd, { revoked: id }, () => `revoked ${id}`);
    });

  program
    .command('audit')
    .description('the audit log of state-changing actions, newest first')
    .option('--actor <name>', 'only this operator')
    .option('--action <action>', 'only this action or its prefix, e.g. rollouts')
    .option('--target <target>', 'only this device, rollout, rule…')
    .option('--outcome <o>', 'success | failure | denied')
    .option('--from <time>', 'ISO time or a duration before now, e.g. 24h')
    .option('--to <time>', 'ISO time or a duration before now')
    .option('--limit <n>', 'at most this many entries (default 50)', wholeNumber('limit'))
    .option('--csv', 'everything that matches, as CSV (for export)')
    .action(async (o: { actor?: string; action?: string; target?: string; outcome?: string; from?: string; to?: string; limit?: number; csv?: boolean }, cmd: Command) => {
      const query = { actor: o.actor, action: o.action, target: o.target, outcome: o.outcome, from: o.from, to: o.to };
      const api = apiFrom(cmd);
      if (o.csv) {
        process.stdout.write(await api.getText('/api/v1/audit', { ...query, format: 'csv' }));
        return;
      }
      const page = await api.get<{ items: AuditView[]; total: number }>('/api/v1/audit', { ...query, limit: o.limit ?? 50 });
      output(cmd, page, () =>
        table(
          ['WHEN', 'ACTOR', 'ACTION', 'TARGET', 'RESULT'],
          page.items.map((e) => [e.at, e.actor ?? '-', e.action, e.target ?? '-', `${e.outcome} (${e.status}${e.details?.error ? ` ${String(e.details.error)}` : ''})`]),
        ) + (page.total > page.items.length ? `\n${page.items.length} of ${page.total}; --limit or filters for more, --csv for all` : ''),
      );
    });
}

function caOf(cmd: Command): string | undefined {
  return (cmd.optsWithGlobals() as { ca?: string }).ca ?? process.env.EDGEDM_CA;
}

function clientWith(baseUrl: string, token: string, cmd: Command): ApiClient {
  const ca = caOf(cmd) ?? savedLogin(baseUrl)?.ca;
  return new ApiClient(baseUrl, { token, ...(ca ? { ca } : {}) });
}
