import { openAsBlob } from 'node:fs';

/** A thin client of the gateway's REST API, shared by every CLI command. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export const DEFAULT_API = 'http://127.0.0.1:8080';

export class ApiClient {
  constructor(readonly baseUrl: string) {}

  async get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>(this.url(path, query), { method: 'GET' });
  }

  async post<T>(path: string, body: unknown, contentType = 'application/json'): Promise<T> {
    const payload = contentType === 'application/json' ? JSON.stringify(body ?? {}) : String(body);
    return this.request<T>(new URL(path, this.baseUrl), { method: 'POST', headers: { 'content-type': contentType }, body: payload });
  }

  async put<T>(path: string, body: unknown): Promise<T> {
    return this.request<T>(new URL(path, this.baseUrl), { method: 'PUT', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body ?? {}) });
  }

  /** A GET whose answer is not JSON (CSV exports); errors still come as JSON bodies. */
  async getText(path: string, query?: Record<string, string | number | undefined>, accept = 'text/csv'): Promise<string> {
    const url = this.url(path, query);
    const response = await fetch(url, { headers: { accept } }).catch((err: unknown) => {
      throw new CliError(`cannot reach the gateway API at ${this.baseUrl} (${(err as Error).message})`);
    });
    const text = await response.text();
    if (response.ok) return text;
    let message = `HTTP ${response.status}`;
    try {
      message = (JSON.parse(text) as { error?: { message?: string } }).error?.message ?? message;
    } catch {
      // not a JSON error body: the status says it
    }
    throw new CliError(message);
  }

  async delete<T>(path: string): Promise<T> {
    return this.request<T>(new URL(path, this.baseUrl), { method: 'DELETE' });
  }

  /** Uploads a file as the raw request body (streamed from disk, not read into memory). */
  async upload<T>(path: string, query: Record<string, string | undefined>, file: string): Promise<T> {
    const url = this.url(path, query);
    let body: Blob;
    try {
      body = await openAsBlob(file);
    } catch (err) {
      throw new CliError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    return this.request<T>(url, { method: 'POST', headers: { 'content-type': 'application/octet-stream' }, body });
  }

  private url(path: string, query: Record<string, string | number | undefined> = {}): URL {
    const url = new URL(path, this.baseUrl);
    for (const [k, v] of Object.entries(query)) if (v !== undefined) url.searchParams.set(k, String(v));
    return url;
  }

  private async request<T>(url: URL, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await fetch(url, init);
    } catch (err) {
      const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).message;
      throw new CliError(`cannot reach the gateway API at ${this.baseUrl} (${cause}); is \`edgedm gateway\` running? (--api or EDGEDM_API)`);
    }
    const text = await response.text();
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      throw new CliError(`unexpected response from ${url.pathname}: HTTP ${response.status}`);
    }
    if (!response.ok) {
      const error = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
      const details = Array.isArray(error?.details)
        ? '\n' + (error.details as { line?: number; message?: string }[]).map((d) => `  line ${d.line}: ${d.message}`).join('\n')
        : '';
      throw new CliError(`${error?.message ?? `HTTP ${response.status}`}${details}`);
    }
    return body as T;
  }
}
