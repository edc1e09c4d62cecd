import { openAsBlob, readFileSync } from 'node:fs';
import { Agent, fetch as undiciFetch } from 'undici';

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

export interface ApiClientOptions {
  /** A bearer token (from `edgedm login` or EDGEDM_TOKEN). */
  token?: string;
  /** A CA or self-signed certificate file (PEM) to trust for an HTTPS API. */
  ca?: string;
}

export class ApiClient {
  private readonly send: typeof fetch;

  constructor(
    readonly baseUrl: string,
    private readonly options: ApiClientOptions = {},
  ) {
    if (options.ca) {
      let ca: Buffer;
      try {
        ca = readFileSync(options.ca);
      } catch (err) {
        throw new CliError(`cannot read the CA certificate ${options.ca}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
      const dispatcher = new Agent({ connect: { ca } });
      // Node's global fetch takes no CA; undici's own does, through a dispatcher.
      this.send = ((url: URL, init: RequestInit) => undiciFetch(url, { ...(init as object), dispatcher } as never)) as unknown as typeof fetch;
    } else {
      this.send = fetch;
    }
  }

  get authenticated(): boolean {
    return this.options.token !== undefined;
  }

  async get<T>(path: string, query?: Record<string, string | number | undefined>): Promise<T> {
    return this.request<T>(this.url(path, query), { method: 'GET' });
  }

  /** Every item of a paged list (`{items, total, offset, limit}`), fetched a page at a time. */
  async getAll<T>(path: string, query: Record<string, string | number | undefined> = {}, pageSize = 1000): Promise<T[]> {
    const items: T[] = [];
    for (;;) {
      const page = await this.get<{ items: T[]; total?: number }>(path, { ...query, offset: items.length, limit: pageSize });
      items.push(...page.items);
      // A gateway that does not page its lists answers everything at once, without a total.
      if (page.items.length === 0 || page.total === undefined || items.length >= page.total) return items;
    }
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
    const response = await this.send(url, { headers: this.headers({ accept }) }).catch((err: unknown) => {
      throw new CliError(`cannot reach the gateway API at ${this.baseUrl} (${(err as Error).message})`);
    });
    const text = await response.text();
    if (response.ok) return text;
    if (response.status === 401) throw this.notLoggedIn();
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

  private headers(extra: Record<string, string> = {}): Record<string, string> {
    return this.options.token ? { ...extra, authorization: `Bearer ${this.options.token}` } : extra;
  }

  private notLoggedIn(): CliError {
    const api = this.baseUrl === DEFAULT_API ? '' : ` --api ${this.baseUrl}`;
    return this.options.token
      ? new CliError(`the gateway at ${this.baseUrl} refused the saved token (expired or revoked); run \`edgedm login${api}\``)
      : new CliError(`not logged in to ${this.baseUrl}; run \`edgedm login${api}\` (or set EDGEDM_TOKEN)`);
  }

  private async request<T>(url: URL, init: RequestInit): Promise<T> {
    let response: Response;
    try {
      response = await this.send(url, { ...init, headers: this.headers((init.headers as Record<string, string> | undefined) ?? {}) });
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
    if (response.status === 401 && !url.pathname.endsWith('/auth/login')) throw this.notLoggedIn();
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
