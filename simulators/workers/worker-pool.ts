import { spawn, type ChildProcess } from 'node:child_process';
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../common/logger.js';
import { isWorkerMessage, type WorkerFleetOptions, type WorkerStartMessage } from './worker-protocol.js';

/** How long a worker may take to stop its devices before it is killed. */
const STOP_GRACE_MS = 30_000;

/**
 * Raises the soft open-file limit to the hard one, then becomes node: Node cannot call
 * setrlimit itself. `ulimit -n` fails only where the hard limit is `unlimited` and the kernel
 * caps it lower; the worker's own check then says so.
 */
const RAISE_AND_EXEC = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';

/** The worker module next to this one, as source under tsx or built under dist/. */
function workerEntry(): string {
  const ext = extname(fileURLToPath(import.meta.url));
  return fileURLToPath(new URL(`./fleet-worker${ext}`, import.meta.url));
}

export interface FleetStatus {
  registered: number;
  everRegistered: number;
  total: number;
}

interface Worker {
  child: ChildProcess;
  status: FleetStatus;
  exited: Promise<number | null>;
}

/**
 * A simulated fleet split over worker processes (`edgedm sim --workers N`): each runs a
 * contiguous slice of the identities with its share of the ramp rate; profiles and faults are
 * dealt over the whole fleet, so a device behaves the same whatever the number of workers.
 */
export class WorkerPool {
  private failure: string | undefined;

  private constructor(
    private readonly workers: Worker[],
    private readonly log: Logger,
  ) {}

  static start(fleet: WorkerFleetOptions, count: number, opts: { logLevel: string; log: Logger }): WorkerPool {
    const total = fleet.identities.length;
    const perWorker = Math.ceil(total / count);
    const ramp = Math.max(1, Math.ceil((fleet.rampPerSecond ?? 200) / count));
    const workers: Worker[] = [];
    let pool: WorkerPool | undefined;
    for (let w = 0; w < count; w++) {
      const from = w * perWorker;
      const identities = fleet.identities.slice(from, from + perWorker);
      if (identities.length === 0) break;
      const child = spawn('/bin/sh', ['-c', RAISE_AND_EXEC, process.execPath, ...process.execArgv, workerEntry()], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
      });
      const worker: Worker = {
        child,
        status: { registered: 0, everRegistered: 0, total: identities.length },
        exited: new Promise((resolve) => child.once('exit', (code) => resolve(code))),
      };
      child.on('message', (message: unknown) => {
        if (!isWorkerMessage(message)) return;
        if (message.type === 'status') worker.status = { registered: message.registered, everRegistered: message.everRegistered, total: message.total };
        else pool?.fail(message.error);
      });
      child.once('exit', (code, signal) => {
        if (code !== 0 && !pool?.stopping) pool?.fail(`simulator worker ${w} exited (${signal ?? `code ${code}`})`);
      });
      const start: WorkerStartMessage = {
        type: 'start',
        worker: w,
        logLevel: opts.logLevel,
        fleet: { ...fleet, identities, rampPerSecond: ramp, slice: { firstIndex: from, fleetSize: total } },
      };
      child.send(start);
      workers.push(worker);
    }
    pool = new WorkerPool(workers, opts.log);
    return pool;
  }

  stopping = false;

  get size(): number {
    return this.workers.length;
  }

  get pids(): number[] {
    return this.workers.map((w) => w.child.pid ?? 0);
  }

  /** Why the pool cannot go on (a worker failed or died), if it cannot. */
  get failed(): string | undefined {
    return this.failure;
  }

  /** The whole fleet, as the workers last reported it (once a second). */
  status(): FleetStatus {
    return this.workers.reduce(
      (sum, w) => ({ registered: sum.registered + w.status.registered, everRegistered: sum.everRegistered + w.status.everRegistered, total: sum.total + w.status.total }),
      { registered: 0, everRegistered: 0, total: 0 },
    );
  }

  /** SIGTERM to every worker (each stops its devices), SIGKILL to any still there after the grace time. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.workers) if (w.child.exitCode === null) w.child.kill('SIGTERM');
    await Promise.all(
      this.workers.map(async (w) => {
        const timer = setTimeout(() => {
          this.log.warn({ pid: w.child.pid }, 'simulator worker did not stop in time; killing it');
          w.child.kill('SIGKILL');
        }, STOP_GRACE_MS);
        await w.exited;
        clearTimeout(timer);
      }),
    );
  }

  private fail(reason: string): void {
    this.failure ??= reason;
    this.log.error({ reason }, 'simulator worker failed');
  }
}
