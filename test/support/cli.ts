import { spawn, type ChildProcess } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runProcess, type ProcessResult } from './process.js';

export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const cliEntry = join(repoRoot, 'cli', 'main.ts');

export type CliResult = ProcessResult;

/**
 * Runs the edgedm CLI from source, as a user would run `npx edgedm …` (asynchronously: the
 * gateway under test lives in this process and must keep answering).
 */
export function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000): Promise<CliResult> {
  return runProcess(process.execPath, ['--import', 'tsx', cliEntry, ...args], { cwd: repoRoot, env: { ...process.env, ...env }, timeoutMs });
}

export function spawnCli(args: string[], env: Record<string, string> = {}): ChildProcess {
  return spawn(process.execPath, ['--import', 'tsx', cliEntry, ...args], {
    cwd: repoRoot,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, ...env },
  });
}
