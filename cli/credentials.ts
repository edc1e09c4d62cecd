import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** What `edgedm login` keeps per gateway API: the token, and the certificate to trust for a self-signed HTTPS API. */
export interface SavedLogin {
  token: string;
  username: string;
  role: string;
  tokenId?: string;
  /** A CA or self-signed certificate file (PEM) for this API. */
  ca?: string;
  savedAt: string;
}

interface CredentialsFile {
  version: 1;
  apis: Record<string, SavedLogin>;
}

/** `$EDGEDM_CONFIG_DIR`, else `$XDG_CONFIG_HOME/edgedm`, else `~/.config/edgedm`. */
export function configDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.EDGEDM_CONFIG_DIR) return env.EDGEDM_CONFIG_DIR;
  return join(env.XDG_CONFIG_HOME || join(homedir(), '.config'), 'edgedm');
}

export function credentialsFile(env: NodeJS.ProcessEnv = process.env): string {
  return join(configDir(env), 'credentials.json');
}

/** One key per API whatever its spelling: `http://127.0.0.1:8080/` and `http://127.0.0.1:8080` are the same gateway. */
export function apiKey(baseUrl: string): string {
  try {
    return new URL(baseUrl).origin;
  } catch {
    return baseUrl.replace(/\/+$/, '');
  }
}

function read(env: NodeJS.ProcessEnv): CredentialsFile {
  try {
    const parsed = JSON.parse(readFileSync(credentialsFile(env), 'utf8')) as CredentialsFile;
    return parsed && parsed.version === 1 && typeof parsed.apis === 'object' ? parsed : { version: 1, apis: {} };
  } catch {
    return { version: 1, apis: {} };
  }
}

export function savedLogin(baseUrl: string, env: NodeJS.ProcessEnv = process.env): SavedLogin | undefined {
  return read(env).apis[apiKey(baseUrl)];
}

/** Written to a temporary file (0600) and renamed, so a crash never leaves half a file or a readable one. */
function write(file: CredentialsFile, env: NodeJS.ProcessEnv): string {
  const dir = configDir(env);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const path = credentialsFile(env);
  const temp = `${path}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(file, null, 2) + '\n', { mode: 0o600 });
  chmodSync(temp, 0o600);
  renameSync(temp, path);
  return path;
}

export function saveLogin(baseUrl: string, login: SavedLogin, env: NodeJS.ProcessEnv = process.env): string {
  const file = read(env);
  file.apis[apiKey(baseUrl)] = login;
  return write(file, env);
}

export function forgetLogin(baseUrl: string, env: NodeJS.ProcessEnv = process.env): SavedLogin | undefined {
  const file = read(env);
  const key = apiKey(baseUrl);
  const previous = file.apis[key];
  if (previous) {
    delete file.apis[key];
    write(file, env);
  }
  return previous;
}
