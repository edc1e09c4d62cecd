/**
 * The edgedm side of bench/lwm2m.ts measured like lwm2m-node-lib's: the gateway's LwM2M server
 * (gateway/transports/lwm2m/lwm2m-server.ts) on a CoapNode, in its own process, with nothing of
 * the gateway around it: every endpoint is admitted, registrations live in its in-memory maps
 * only (no SQLite registry, no events, no Device object read after registering), and reads go
 * through its own API (`Lwm2mServer.send`, the DeviceLink the fleet layer uses) timed in this
 * process. Same line protocol as bench/support/lwm2m-node-lib-server.cjs:
 *
 *   node --import tsx bench/support/lwm2m-edgedm-server.ts <port>
 *   stdout: {"event":"listening","port":N}
 *   stdin:  count | reads <inFlight> <perEndpoint> <o> <i> <r>
 *   Exits on SIGTERM or when stdin closes.
 */
import { createInterface } from 'node:readline';
import { CoapNode } from '../../common/coap/coap-node.js';
import { createLogger } from '../../common/logger.js';
import type { DeviceSessionHandler } from '../../gateway/device-link.js';
import { Lwm2mServer } from '../../gateway/transports/lwm2m/lwm2m-server.js';
import { LwM2mPath, isSuccess } from '../../protocol/model/index.js';

const port = Number(process.argv[2]);
const say = (event: string, data: Record<string, unknown> = {}) => process.stdout.write(`${JSON.stringify({ event, ...data })}\n`);
const log = createLogger({ level: 'silent' });

const endpoints: string[] = [];
/** Admits everyone and remembers who registered; everything else the gateway's sessions do is left out. */
const handler: DeviceSessionHandler = {
  authenticate: () => null,
  admit: () => true,
  bootstrap: () => {
    throw new Error('no bootstrap here');
  },
  connected: () => undefined,
  registered: (endpoint) => void endpoints.push(endpoint),
  updated: () => undefined,
  deregistered: () => undefined,
  sleeping: () => undefined,
  disconnected: () => undefined,
  notified: () => undefined,
  seen: () => undefined,
};

const node = await CoapNode.bind({ host: '127.0.0.1', port, log });
const server = new Lwm2mServer({ client: node.client, handler, log });
node.route('rd', server.handle);
say('listening', { port: node.port });

const percentile = (sorted: number[], p: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0);

async function readAll(inFlight: number, perEndpoint: number, path: LwM2mPath): Promise<void> {
  const targets = Array.from({ length: perEndpoint }, () => endpoints).flat();
  const latencies: number[] = [];
  let next = 0;
  let ok = 0;
  let failed = 0;
  let firstError: string | null = null;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, targets.length) }, async () => {
      while (next < targets.length) {
        const endpoint = targets[next++]!;
        const t = performance.now();
        try {
          const result = await server.send(endpoint, { kind: 'read', path }, { timeoutMs: 30_000 });
          if (isSuccess(result.code)) ok++;
          else {
            failed++;
            firstError ??= `${endpoint}: ${result.code} ${result.message ?? ''}`;
          }
        } catch (err) {
          failed++;
          firstError ??= `${endpoint}: ${(err as Error).message}`;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const ms = performance.now() - started;
  latencies.sort((a, b) => a - b);
  say('reads', { reads: targets.length, ok, failed, ms, p50: percentile(latencies, 50), p99: percentile(latencies, 99), error: firstError });
}

async function stop(): Promise<void> {
  setTimeout(() => process.exit(0), 1000).unref();
  server.close();
  await node.close();
  process.exit(0);
}

createInterface({ input: process.stdin })
  .on('line', (line) => {
    const [cmd, ...rest] = line.trim().split(/\s+/);
    if (cmd === 'count') say('count', { registered: endpoints.length });
    else if (cmd === 'reads') {
      const [inFlight, perEndpoint, o, i, r] = rest.map(Number);
      void readAll(inFlight!, perEndpoint!, LwM2mPath.of(o!, i!, r!));
    } else if (cmd) say('error', { message: `unknown command ${cmd}` });
  })
  .on('close', () => void stop());
process.once('SIGTERM', () => void stop());
