/**
 * The portal's one way to the REST API: same-origin fetch, so the session cookie goes along
 * (the API also takes `Authorization: Bearer`, which the portal does not need). Errors become
 * ApiError with the API's `{ error: { code, message } }`; a 401 outside /auth tells the session
 * it has ended (expired, revoked, gateway restarted with another key).
 */

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
  }
}

let onUnauthorized: () => void = () => {};

export function setUnauthorizedHandler(handler: () => void): void {
  onUnauthorized = handler;
}

type QueryValue = string | number | boolean | null | undefined;

/** `?a=1&b=x` from the defined, non-empty values; '' when there are none. */
export function query(params: Record<string, QueryValue>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '' && v !== false)
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}

export interface RequestOptions {
  /** A raw body (a firmware image) instead of JSON. */
  raw?: Blob | ArrayBuffer;
  contentType?: string;
  signal?: AbortSignal;
}

export async function request<T>(method: string, path: string, body?: unknown, opts: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json' };
  let payload: BodyInit | undefined;
  if (opts.raw !== undefined) {
    headers['content-type'] = opts.contentType ?? 'application/octet-stream';
    payload = opts.raw;
  } else if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  let response: Response;
  try {
    response = await fetch(path, { method, headers, body: payload ?? null, credentials: 'same-origin', ...(opts.signal ? { signal: opts.signal } : {}) });
  } catch (err) {
    if ((err as Error).name === 'AbortError') throw err;
    throw new ApiError(0, 'network', 'the gateway cannot be reached');
  }
  if (response.status === 204) return undefined as T;
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  if (!response.ok) {
    const error = (json as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
    if (response.status === 401 && !path.startsWith('/api/v1/auth/')) onUnauthorized();
    throw new ApiError(response.status, error?.code ?? `http_${response.status}`, error?.message ?? `${response.status} ${response.statusText}`, error?.details);
  }
  return json as T;
}

export const api = {
  get: <T>(path: string, signal?: AbortSignal) => request<T>('GET', path, undefined, signal ? { signal } : {}),
  post: <T>(path: string, body?: unknown) => request<T>('POST', path, body ?? {}),
  put: <T>(path: string, body: unknown) => request<T>('PUT', path, body),
  del: <T>(path: string) => request<T>('DELETE', path),
};

/** Every page of a paginated list (the overview's fleet snapshot), `limit` at a time. */
export async function getAll<T>(path: string, limit = 1000): Promise<T[]> {
  const out: T[] = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let offset = 0; ; offset += limit) {
    const page = await api.get<{ items: T[]; total?: number }>(`${path}${sep}offset=${offset}&limit=${limit}`);
    out.push(...page.items);
    if (page.items.length < limit || (page.total !== undefined && out.length >= page.total)) return out;
  }
}

export function errorText(err: unknown): string {
  if (err instanceof ApiError) return err.status ? `${err.message} (${err.code})` : err.message;
  return err instanceof Error ? err.message : String(err);
}
