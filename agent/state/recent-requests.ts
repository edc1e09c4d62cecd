import type { Logger } from '../../common/logger.js';
import { ResultCode, type Operation, type OperationResult } from '../../protocol/model/index.js';
import { StateStore } from './state-store.js';

/** Kept apart from state.json: a factory reset wipes that, and a factory reset sent again must not run again. */
export const RECENT_REQUESTS_FILE = 'recent-requests.json';

/** Answers kept in memory: every request. */
const MEMORY_ENTRIES = 256;
/** Answers kept on disk: requests that change the device, the ones that must never run twice. */
const PERSISTED_ENTRIES = 64;
/** A read answer larger than this is not kept: a repeated read is read again, which is harmless. */
const MAX_CACHED_RECORDS = 500;

interface PersistedAnswer {
  id: string;
  op: string;
  code: ResultCode;
  message?: string;
  location?: string;
}

/**
 * The agent's memory of requests it answered, by request id: a request the server sends again
 * with the same id (after its own restart between sending and getting the answer) is answered
 * from here and not executed a second time. A repeat that arrives while the first is still being
 * carried out waits for that one's answer.
 *
 * Requests that change the device (write, execute, create, delete, write-attributes) are also
 * written to disk before the answer leaves, so a reboot between executing and answering (the
 * Reboot resource itself) is covered. Block-wise writes are not kept: their own offsets make a
 * repeated block harmless. Reads and observes are kept in memory only.
 */
export class RecentRequests {
  private readonly answers = new Map<string, { op: string; result: OperationResult }>();
  private readonly running = new Map<string, { op: string; answer: Promise<OperationResult> }>();
  private readonly store: StateStore;
  private persisted: PersistedAnswer[];

  constructor(dir: string, log: Logger) {
    this.store = new StateStore(dir, log, RECENT_REQUESTS_FILE);
    this.persisted = this.store.read<PersistedAnswer[]>('answers') ?? [];
  }

  /** The answer to request `id`: from memory when it was seen, otherwise what `perform` gives (then remembered). */
  async answer(id: string, operation: Operation, perform: () => Promise<OperationResult>): Promise<{ result: OperationResult; repeated: boolean }> {
    const op = `${operation.kind} ${operation.path.toString()}`;
    // The same id for another operation is not a repeat: the cache must never answer for the wrong thing.
    const known = this.answers.get(id) ?? this.persistedAnswer(id);
    if (known && known.op === op) return { result: known.result, repeated: true };
    const running = this.running.get(id);
    if (running && running.op === op) return { result: await running.answer, repeated: true };
    const answer = perform();
    this.running.set(id, { op, answer });
    try {
      const result = await answer;
      this.remember(id, op, operation, result);
      return { result, repeated: false };
    } finally {
      this.running.delete(id);
    }
  }

  private persistedAnswer(id: string): { op: string; result: OperationResult } | undefined {
    const p = this.persisted.find((e) => e.id === id);
    return p && { op: p.op, result: { code: p.code, ...(p.message ? { message: p.message } : {}), ...(p.location ? { location: p.location } : {}) } };
  }

  private remember(id: string, op: string, operation: Operation, result: OperationResult): void {
    // An internal error is not the device's answer to the request: a repeat may try again.
    if (result.code === ResultCode.INTERNAL_SERVER_ERROR) return;
    if ((result.content?.length ?? 0) > MAX_CACHED_RECORDS) return;
    this.answers.delete(id);
    this.answers.set(id, { op, result });
    while (this.answers.size > MEMORY_ENTRIES) this.answers.delete(this.answers.keys().next().value as string);
    if (!changesTheDevice(operation)) return;
    const entry: PersistedAnswer = { id, op, code: result.code, ...(result.message ? { message: result.message } : {}), ...(result.location ? { location: result.location } : {}) };
    this.persisted = [...this.persisted.filter((p) => p.id !== id), entry].slice(-PERSISTED_ENTRIES);
    this.store.write('answers', this.persisted);
  }
}

function changesTheDevice(operation: Operation): boolean {
  switch (operation.kind) {
    case 'write':
      return operation.block === undefined;
    case 'execute':
    case 'create':
    case 'delete':
    case 'write-attributes':
      return true;
    default:
      return false;
  }
}
