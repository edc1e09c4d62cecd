import type { Command } from 'commander';
import { ApiClient, DEFAULT_API } from './api-client.js';
import { savedLogin } from './credentials.js';

interface GlobalOptions {
  api?: string;
  ca?: string;
  json?: boolean;
}

function globals(cmd: Command): GlobalOptions {
  return cmd.optsWithGlobals() as GlobalOptions;
}

export function apiUrlFrom(cmd: Command): string {
  return globals(cmd).api ?? process.env.EDGEDM_API ?? DEFAULT_API;
}

/** The API client of a command: its URL, and the token (EDGEDM_TOKEN, else the one `edgedm login` saved for that URL). */
export function apiFrom(cmd: Command, token?: string): ApiClient {
  const baseUrl = apiUrlFrom(cmd);
  const saved = savedLogin(baseUrl);
  const ca = globals(cmd).ca ?? process.env.EDGEDM_CA ?? saved?.ca;
  const bearer = token ?? process.env.EDGEDM_TOKEN ?? saved?.token;
  return new ApiClient(baseUrl, { ...(bearer ? { token: bearer } : {}), ...(ca ? { ca } : {}) });
}

/** Prints JSON with --json (for scripts), otherwise the human rendering. */
export function output(cmd: Command, data: unknown, human: () => string): void {
  process.stdout.write((globals(cmd).json ? JSON.stringify(data, null, 2) : human()) + '\n');
}
