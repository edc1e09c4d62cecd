/**
 * A worker process of `edgedm sim --workers N`: runs one slice of the simulated fleet. Started by
 * WorkerPool through `sh -c 'ulimit -n $(ulimit -Hn); exec node …'`, so its soft open-file limit
 * is the hard one; it gets its slice over IPC, reports its registered count every second, and
 * stops its devices cleanly on SIGTERM or SIGINT, or when the parent goes away.
 */
import { pino } from 'pino';
import { createLogger } from '../../common/logger.js';
import { SimulatedFleet } from '../fleet.js';
import { checkDescriptorBudget, ownDescriptorLimits } from './open-files.js';
import type { WorkerMessage, WorkerStartMessage } from './worker-protocol.js';

const STATUS_INTERVAL_MS = 1000;

function send(message: WorkerMessage): void {
  if (process.connected) process.send!(message);
}

function run(start: WorkerStartMessage): void {
  const { worker, fleet: options } = start;
  const limits = ownDescriptorLimits();
  try {
    if (limits) checkDescriptorBudget(options.identities.length, limits.soft, `simulator worker ${worker}`, 'raise the hard limit (ulimit -Hn) or use more --workers');
  } catch (err) {
    send({ type: 'failed', worker, error: (err as Error).message });
    process.exit(1);
  }
  // stdout is the parent's summary: the devices' logs go to stderr.
  const log = createLogger({ level: start.logLevel, destination: pino.destination(2) }).child({ worker });
  const fleet = SimulatedFleet.start({ ...options, log });
  const status = () => send({ type: 'status', worker, registered: fleet.registeredCount, everRegistered: fleet.everRegisteredCount, total: options.identities.length });
  const timer = setInterval(status, STATUS_INTERVAL_MS);
  status();
  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    clearInterval(timer);
    log.info({ why }, 'stopping the simulated devices');
    fleet.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'stopping the simulated devices failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('disconnect', () => stop('the parent went away'));
}

if (!process.send) {
  process.stderr.write('fleet-worker runs under `edgedm sim --workers N`, not on its own\n');
  process.exit(2);
}
process.once('message', (message: WorkerStartMessage) => run(message));
