/**
 * Operator authentication for the benchmarks. The gateway's REST API answers 401 under `/api/`
 * without `Authorization: Bearer <token>` (outside `/api/`, e.g. `/healthz` and the firmware
 * downloads `/fw/…`, it is public). So:
 *   - every `edgedm gateway` a bench spawns gets `gatewayAuthEnv()`: on its empty data directory
 *     it creates `admin` with the bench's fixed password;
 *   - `login(base)` logs in once per API base URL (scrypt, ~0.2 s of the gateway's CPU) and keeps
 *     the token: call it right after the gateway is up, never inside a timed section;
 *   - `apiFetch` / `apiJson` send the token on `/api/` paths only (a public `/healthz` poll costs
 *     the gateway no token lookup, as before);
 *   - a spawned CLI or `edgedm sim` that talks to the API gets `cliAuthEnv(base)` (EDGEDM_TOKEN).
 * A gateway's token is forgotten when it stops (`forgetLogin`): a later gateway on the same port
 * has a fresh data directory and knows nothing of it.
 */

export const BENCH_ADMIN_USERNAME = 'admin';
/** Fixed and not secret: bench gateways listen on 127.0.0.1 and live for one run. */
export const BENCH_ADMIN_PASSWORD = 'edgedm-bench-admin-password';

/** The environment of a spawned `edgedm gateway`: its first admin gets the bench's password. */
export function gatewayAuthEnv(): Record<string, string> {
  return { EDGEDM_ADMIN_PASSWORD: BENCH_ADMIN_PASSWORD };
}

const tokens = new Map<string, Promise<string>>();
const keyOf = (base: string) => new URL(base).origin;

/** The token of the gateway at `base`, logging in as the bench admin the first time (concurrent callers share one login). */
export function login(base: string): Promise<string> {
  const key = keyOf(base);
  let token = tokens.get(key);
  if (!token) {
    token = (async () => {
      const res = await fetch(`${key}/api/v1/auth/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ username: BENCH_ADMIN_USERNAME, password: BENCH_ADMIN_PASSWORD }),
      });
      const text = await res.text();
      if (!res.ok) {
        throw new Error(
          `login to ${key} as ${BENCH_ADMIN_USERNAME} failed: HTTP ${res.status} ${text} ` +
            '(was the gateway started on an empty data directory with gatewayAuthEnv() from bench/support/bench-auth.ts?)',
        );
      }
      return (JSON.parse(text) as { token: string }).token;
    })();
    tokens.set(key, token);
    token.catch(() => tokens.delete(key)); // a failed login is not cached
  }
  return token;
}

/** Drops the cached token of `base` (its gateway stopped). */
export function forgetLogin(base: string): void {
  tokens.delete(keyOf(base));
}

/** The environment of a spawned CLI process (`edgedm sim`, `edgedm devices …`) that talks to the API at `base`. */
export async function cliAuthEnv(base: string): Promise<Record<string, string>> {
  return { EDGEDM_TOKEN: await login(base) };
}

const needsToken = (path: string) => path.startsWith('/api/') && path !== '/api/v1/auth/login';

/** `fetch(base + path)` with the bench admin's token on `/api/` paths. */
export async function apiFetch(base: string, path: string, init: RequestInit = {}): Promise<Response> {
  if (!needsToken(path)) return fetch(`${base}${path}`, init);
  const send = async () => {
    const headers = new Headers(init.headers);
    headers.set('authorization', `Bearer ${await login(base)}`);
    return fetch(`${base}${path}`, { ...init, headers });
  };
  const res = await send();
  if (res.status !== 401) return res;
  // A token cached for an earlier gateway on the same port: log in again, once, and say so.
  process.stderr.write(`[bench-auth] ${init.method ?? 'GET'} ${path}: 401 with the cached token of ${keyOf(base)}; logging in again\n`);
  await res.arrayBuffer();
  forgetLogin(base);
  return send();
}

/** A JSON API call (JSON body when given); throws with the status and body on anything but 2xx. */
export async function apiJson<T>(base: string, method: string, path: string, body?: unknown): Promise<T> {
  const res = await apiFetch(base, path, {
    method,
    ...(body !== undefined ? { headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method} ${path}: HTTP ${res.status} ${text}`);
  return JSON.parse(text) as T;
}
