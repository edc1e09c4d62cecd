import type { OperationResult } from '../../../protocol/model/index.js';
import { DeviceLinkError } from '../../device-link.js';

interface Pending {
  endpoint: string;
  resolve: (result: OperationResult) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  onAbort?: () => void;
  signal?: AbortSignal;
}

/** Requests in flight, correlated by id, each with its own deadline: a device never hangs a caller. */
export class PendingRequests {
  private readonly pending = new Map<string, Pending>();

  wait(id: string, endpoint: string, timeoutMs: number, signal?: AbortSignal): Promise<OperationResult> {
    return new Promise((resolve, reject) => {
      // A caller-chosen id (fleet commands) must not silently replace a request still waiting.
      if (this.pending.has(id)) {
        reject(new DeviceLinkError('protocol', endpoint, `a request with id ${id} is already in flight`));
        return;
      }
      const timer = setTimeout(() => {
        this.settle(id)?.reject(new DeviceLinkError('timeout', endpoint, `no answer from ${endpoint} within ${timeoutMs} ms`));
      }, timeoutMs);
      const entry: Pending = { endpoint, resolve, reject, timer };
      if (signal) {
        entry.signal = signal;
        entry.onAbort = () => this.settle(id)?.reject(new DeviceLinkError('cancelled', endpoint, 'request cancelled'));
        signal.addEventListener('abort', entry.onAbort, { once: true });
      }
      this.pending.set(id, entry);
    });
  }

  /** Delivers a response; false when nobody waits for it (late or unknown id). */
  resolve(id: string, endpoint: string, result: OperationResult): boolean {
    const entry = this.pending.get(id);
    if (!entry || entry.endpoint !== endpoint) return false;
    this.settle(id)?.resolve(result);
    return true;
  }

  /** Fails one request that could not be sent: no point waiting for its deadline. */
  fail(id: string, endpoint: string, reason: string): void {
    const entry = this.pending.get(id);
    if (entry?.endpoint === endpoint) this.settle(id)?.reject(new DeviceLinkError('unreachable', endpoint, reason));
  }

  /** Fails every request to an endpoint whose session ended: no point waiting for the deadline. */
  failEndpoint(endpoint: string, reason: string): void {
    for (const [id, entry] of this.pending) {
      if (entry.endpoint === endpoint) this.settle(id)?.reject(new DeviceLinkError('unreachable', endpoint, reason));
    }
  }

  failAll(reason: string): void {
    for (const [id, entry] of this.pending) this.settle(id)?.reject(new DeviceLinkError('unreachable', entry.endpoint, reason));
  }

  has(id: string): boolean {
    return this.pending.has(id);
  }

  get size(): number {
    return this.pending.size;
  }

  private settle(id: string): Pending | undefined {
    const entry = this.pending.get(id);
    if (!entry) return undefined;
    this.pending.delete(id);
    clearTimeout(entry.timer);
    if (entry.onAbort) entry.signal?.removeEventListener('abort', entry.onAbort);
    return entry;
  }
}
