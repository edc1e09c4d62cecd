/**
 * A slice of a simulated fleet in its own process, for bench/firmware.ts --fleet-procs: the
 * identities come from a JSON file written by the bench (entries [from, to)). Prints
 * `registered` once every device of the slice is registered. On stdin, `measure` starts
 * measuring its event-loop delay and `report` prints it (`loop {"p50":…,"p99":…,"max":…}`, ms);
 * SIGTERM stops the devices, prints `stopped` and exits.
 *
 *   node --import tsx bench/support/fleet-child.ts <identities.json> <from> <to> <mqtt-uri> <state-dir>
 */
import { readFileSync } from 'node:fs';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { pino } from 'pino';
import { createLogger } from '../../common/logger.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';

const [file, from, to, server, stateDir] = process.argv.slice(2);
const identities = (JSON.parse(readFileSync(file!, 'utf8')) as SimulatedIdentity[]).slice(Number(from), Number(to));
const fleet = SimulatedFleet.start({
  identities,
  bootstrapServerUri: server!,
  stateDir: stateDir!,
  rampPerSecond: 100_000,
  // stdout carries the protocol: the devices' logs go to stderr.
  log: createLogger({ level: process.env.BENCH_FLEET_LOG_LEVEL ?? 'silent', destination: pino.destination(2) }),
});
await fleet.whenAllRegistered(300_000);
const loop = monitorEventLoopDelay({ resolution: 10 });
createInterface({ input: process.stdin }).on('line', (line) => {
  if (line.trim() === 'measure') {
    loop.reset();
    loop.enable();
  } else if (line.trim() === 'report') {
    loop.disable();
    process.stdout.write(`loop ${JSON.stringify({ p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 })}\n`);
  }
});
process.stdout.write('registered\n');
process.once('SIGTERM', () => {
  void fleet.stop().then(() => {
    process.stdout.write('stopped\n');
    process.exit(0);
  });
});
