import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessResult } from './process.js';
import { adminTokenFor } from './harness.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cliEntry = join(repoRoot, 'cli', 'main.ts');

export type CliResult = ProcessResult;

/**
 * Runs the edgedm CLI from source, as a user would run `npx edgedm …` (asynchronously: the
 * gateway under test lives in this process and must keep answering).
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', cliEntry, ...args], { cwd: repoRoot, env: cliEnv(args, env), timeoutMs });
}

export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: cliEnv(args, env),
  });
}

/**
 * A CLI run against an in-process test gateway (`--api <its url>`) is logged in as its admin,
 * as an operator would be after `edgedm login`; never with the user's own saved credentials.
 */
function cliEnv(args: string[], env: Record<string, string>): NodeJS.ProcessEnv {
  const at = args.indexOf('--api');
  const token = at >= 0 ? adminTokenFor(args[at + 1] ?? '') : undefined;
  return { ...process.env, EDGEDM_CONFIG_DIR: join(repoRoot, '.tmp', 'no-cli-config'), ...(token ? { EDGEDM_TOKEN: token } : {}), ...env };
}
