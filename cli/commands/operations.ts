import type { Command } from 'commander';
import { CliError } from '../api-client.js';
import { formatValue } from '../format.js';
import { apiFrom, output } from '../context.js';

interface OperationView {
  endpoint: string;
  operation: string;
  path: string;
  code: string;
  codeText: string;
  success: boolean;
  message?: string;
  content?: { path: string; type: string; value: unknown }[];
  links?: { target: string; attributes: Record<string, string | null> }[];
}

const enc = encodeURIComponent;

/** Prints the result, or fails the command with the device's result code (e.g. "4.04 Not Found"). */
function report(cmd: Command, result: OperationView, human: (r: OperationView) => string): void {
  if (!result.success) {
    if (cmd.optsWithGlobals().json) process.stdout.write(JSON.stringify(result, null, 2) + '\n');
    throw new CliError(`${result.codeText}: ${result.operation} ${result.path} on ${result.endpoint}${result.message ? ` (${result.message})` : ''}`);
  }
  output(cmd, result, () => human(result));
}

function timeoutOption(cmd: Command): number | undefined {
  const t = cmd.opts<{ timeout?: string }>().timeout;
  return t === undefined ? undefined : Number(t);
}

export function registerOperationCommands(program: Command): void {
  program
    .command('read <endpoint> <path>')
    .description('read an object, instance or resource, e.g. /3/0/0')
    .option('--timeout <ms>', 'give up after this long')
    .action(async (endpoint: string, path: string, _opts: unknown, cmd: Command) => {
      const result = await apiFrom(cmd).post<OperationView>(`/api/v1/devices/${enc(endpoint)}/read`, { path, timeoutMs: timeoutOption(cmd) });
      report(cmd, result, (r) => {
        const content = r.content ?? [];
        if (content.length === 1 && content[0]!.path === r.path) return formatValue(content[0]!.value);
        const width = Math.max(...content.map((c) => c.path.length));
        return content.map((c) => `${c.path.padEnd(width)}  ${formatValue(c.value)}`).join('\n');
      });
    });

  program
    .command('write <endpoint> <path> <value>')
    .description('write a resource, e.g. write dev-1 /1/0/1 600')
    .option('--type <type>', 'resource type, for objects the gateway does not know')
    .option('--timeout <ms>', 'give up after this long')
    .action(async (endpoint: string, path: string, value: string, opts: { type?: string }, cmd: Command) => {
      const result = await apiFrom(cmd).post<OperationView>(`/api/v1/devices/${enc(endpoint)}/write`, {
        path,
        value,
        type: opts.type,
        timeoutMs: timeoutOption(cmd),
      });
      report(cmd, result, (r) => `${r.codeText}`);
    });

  program
    .command('exec <endpoint> <path> [args]')
    .description('execute a resource, e.g. exec dev-1 /3/0/4 (reboot)')
    .option('--timeout <ms>', 'give up after this long')
    .action(async (endpoint: string, path: string, args: string | undefined, _opts: unknown, cmd: Command) => {
      const result = await apiFrom(cmd).post<OperationView>(`/api/v1/devices/${enc(endpoint)}/execute`, {
        path,
        args,
        timeoutMs: timeoutOption(cmd),
      });
      report(cmd, result, (r) => `${r.codeText}`);
    });

  program
    .command('discover <endpoint> [path]')
    .description('list the objects, instances and resources a device has, with their attributes')
    .option('--timeout <ms>', 'give up after this long')
    .action(async (endpoint: string, path: string | undefined, _opts: unknown, cmd: Command) => {
      const result = await apiFrom(cmd).post<OperationView>(`/api/v1/devices/${enc(endpoint)}/discover`, {
        path,
        timeoutMs: timeoutOption(cmd),
      });
      report(cmd, result, (r) =>
        (r.links ?? [])
          .map((l) => {
            const attrs = Object.entries(l.attributes).map(([k, v]) => (v === null || v === undefined ? k : `${k}=${v}`));
            return [`<${l.target}>`, ...attrs].join(';');
          })
          .join('\n'),
      );
    });
}
