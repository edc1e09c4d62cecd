import type { Command } from 'commander';
import { ApiClient, DEFAULT_API } from './api-client.js';

interface GlobalOptions {
  api?: string;
  json?: boolean;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function apiFrom(cmd: Command): ApiClient {
  return new ApiClient(globals(cmd).api ?? process.env.EDGEDM_API ?? DEFAULT_API);
}

/** Prints JSON with --json (for scripts), otherwise the human rendering. */
export function output(cmd: Command, data: unknown, human: () => string): void {
  process.stdout.write((globals(cmd).json ? JSON.stringify(data, null, 2) : human()) + '\n');
}
