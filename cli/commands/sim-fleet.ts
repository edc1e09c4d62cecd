import type { Logger } from '../../common/logger.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { checkDescriptorBudget, descriptorsNeeded, OpenFilesError, ownDescriptorLimits, shellHardLimit } from '../../simulators/workers/open-files.js';
import { WorkerPool, type FleetStatus } from '../../simulators/workers/worker-pool.js';
import type { WorkerFleetOptions } from '../../simulators/workers/worker-protocol.js';
import { CliError } from '../api-client.js';

/** Devices one process holds by default: `--count 10000` runs in 4 workers. */
export const DEVICES_PER_WORKER = 2500;
const PROGRESS_EVERY_MS = 2000;

/** `edgedm sim`'s fleet, in this process or in worker processes. */
export interface SimRun {
  /** Worker processes; 0 when the fleet runs in this process. */
  readonly workers: number;
  status(): FleetStatus;
  /** Why the fleet cannot go on, if a worker failed. */
  failed(): string | undefined;
  stop(): Promise<void>;
}

/**
 * Runs in this process when one process suffices (≤ 2,500 devices, unless --workers says
 * otherwise) and its open-file limit fits; otherwise in worker processes, each started with its
 * soft open-file limit raised to the hard one.
 */
export function startSimFleet(fleet: WorkerFleetOptions, opts: { workers?: number; logLevel: string; log: Logger }): SimRun {
  const count = fleet.identities.length;
  const wanted = opts.workers ?? Math.max(1, Math.ceil(count / DEVICES_PER_WORKER));
  if (wanted < 1) throw new CliError('--workers takes at least 1');
  const own = ownDescriptorLimits();
  if (wanted === 1 && (!own || descriptorsNeeded(count) <= own.soft)) return inProcess(fleet, opts.log);
  const workers = Math.min(wanted, count);
  try {
    checkDescriptorBudget(Math.ceil(count / workers), shellHardLimit(), 'each simulator worker', `use more --workers (each gets ≤ ${Math.ceil(count / workers)} devices now), or raise the hard open-file limit (limits.conf nofile, systemd LimitNOFILE)`);
  } catch (err) {
    if (err instanceof OpenFilesError) throw new CliError(err.message);
    throw err;
  }
  const pool = WorkerPool.start(fleet, workers, opts);
  return { workers: pool.size, status: () => pool.status(), failed: () => pool.failed, stop: () => pool.stop() };
}

function inProcess(options: WorkerFleetOptions, log: Logger): SimRun {
  const fleet = SimulatedFleet.start({ ...options, log });
  return {
    workers: 0,
    status: () => ({ registered: fleet.registeredCount, everRegistered: fleet.everRegisteredCount, total: fleet.devices.length }),
    failed: () => undefined,
    stop: () => fleet.stop(),
  };
}

/**
 * Prints the fleet's registered count when it changed (at most every 2 s), and once when every
 * device has registered; stops the process when a worker failed. Returns a stop for the timer.
 */
export function reportProgress(run: SimRun, write: (line: string) => void, onFailure: (reason: string) => void): () => void {
  const started = Date.now();
  let last = '';
  let announced = false;
  const timer = setInterval(() => {
    const failure = run.failed();
    if (failure) {
      clearInterval(timer);
      onFailure(failure);
      return;
    }
    const s = run.status();
    const line = `registered ${s.registered}/${s.total} (ever ${s.everRegistered})`;
    if (line !== last) write(`${line}\n`);
    last = line;
    if (!announced && s.total > 0 && s.everRegistered === s.total) {
      announced = true;
      write(`all ${s.total} devices registered in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    }
  }, PROGRESS_EVERY_MS);
  timer.unref();
  return () => clearInterval(timer);
}
