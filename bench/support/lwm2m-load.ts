/**
 * The load generator of bench/lwm2m.ts and what drives the servers under test.
 *
 * LoadClients: N bare LwM2M 1.0 clients in this one process, each a CoapNode on its own UDP
 * socket (a server must send its requests to the address a client registered from, so every
 * endpoint needs its own port). They Register as LwM2M 1.0 (`lwm2m=1.0&b=U`, NoSec, link-format
 * object list `</1/0>,</3/0>`), which both edgedm and lwm2m-node-lib accept, and answer reads:
 * a single resource of the Device object in text/plain (the common ground: lwm2m-node-lib asks
 * for text/plain), and the whole Device instance in TLV (the gateway reads /3/0 once after each
 * registration to fill its registry; an LwM2M 1.0 client's default for several values is TLV).
 * The same generator is used against every server.
 *
 * BareServer: a server under test in its own process behind the line protocol of
 * bench/support/lwm2m-node-lib-server.cjs and bench/support/lwm2m-edgedm-server.ts.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { createInterface } from 'node:readline';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond, respondError } from '../../common/coap/coap-response.js';
import type { Logger } from '../../common/logger.js';
import { encodeUint } from '../../protocol/coap/index.js';
import { encodeContent, LwM2mContentFormat } from '../../protocol/lwm2m/index.js';
import { LwM2mPath } from '../../protocol/model/index.js';

export interface LatencySummary {
  count: number;
  ok: number;
  failed: number;
  wallMs: number;
  perSecond: number;
  p50Ms: number;
  p99Ms: number;
  firstError: string | null;
}

export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]! : 0;
}

export const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/**
 * Runs `task(i)` for i in [0, total) with at most `inFlight` at a time, timing each: a task
 * that throws counts as failed (the first error is kept), the others go on.
 */
export async function timedPool(total: number, inFlight: number, task: (i: number) => Promise<void>): Promise<LatencySummary> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  let firstError: string | null = null;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(inFlight, total) }, async () => {
      while (next < total) {
        const i = next++;
        const t = performance.now();
        try {
          await task(i);
        } catch (err) {
          failed++;
          firstError ??= (err as Error).message;
        }
        latencies.push(performance.now() - t);
      }
    }),
  );
  const wallMs = performance.now() - started;
  latencies.sort((a, b) => a - b);
  return { count: total, ok: total - failed, failed, wallMs, perSecond: (total - failed) / (wallMs / 1000), p50Ms: percentile(latencies, 50), p99Ms: percentile(latencies, 99), firstError };
}

const DEVICE = LwM2mPath.of(3, 0);
const OBJECT_LINKS = Buffer.from('</1/0>,</3/0>');
const TEXT_PLAIN = encodeUint(LwM2mContentFormat.TEXT);
const MANUFACTURER = 'edgedm bench';

/** What the clients answer: /3/0/0..3 as text/plain, /3/0 as TLV. */
function deviceObject(endpoint: string): Map<string, Buffer> {
  const values: [number, string][] = [
    [0, MANUFACTURER],
    [1, 'bench-model'],
    [2, `SN-${endpoint}`],
    [3, '1.0.0'],
  ];
  const answers = new Map<string, Buffer>(values.map(([r, v]) => [`/3/0/${r}`, Buffer.from(v)]));
  const records = values.map(([r, value]) => ({ path: DEVICE.child(r), type: 'string' as const, value }));
  answers.set('/3/0', Buffer.from(encodeContent(LwM2mContentFormat.TLV, records, DEVICE)));
  return answers;
}

export class LoadClients {
  /** Reads answered, by path: how many requests the servers actually sent the clients. */
  readonly answered = new Map<string, number>();

  private constructor(
    readonly nodes: CoapNode[],
    readonly endpoints: string[],
  ) {}

  /** Binds one CoapNode per endpoint on 127.0.0.1, each answering for its own endpoint. */
  static async start(endpoints: string[], log: Logger): Promise<LoadClients> {
    const nodes: CoapNode[] = [];
    const clients = new LoadClients(nodes, endpoints);
    try {
      for (const endpoint of endpoints) {
        const node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log });
        const answers = deviceObject(endpoint);
        node.fallback((req, res) => {
          const path = `/${req.path.join('/')}`;
          const body = req.method === 'GET' ? answers.get(path) : undefined;
          if (!body) return respondError(res, '4.04', 'not here');
          clients.answered.set(path, (clients.answered.get(path) ?? 0) + 1);
          const format = path === '/3/0' ? encodeUint(LwM2mContentFormat.TLV) : TEXT_PLAIN;
          respond(res, '2.05', body, [['Content-Format', format]]);
        });
        nodes.push(node);
      }
    } catch (err) {
      await clients.close();
      throw err;
    }
    return clients;
  }

  answeredCount(path: string): number {
    return this.answered.get(path) ?? 0;
  }

  /** Registers every endpoint with the server at `port`, `inFlight` at a time; each must answer 2.01. */
  registerAll(port: number, inFlight: number, lifetimeSeconds: number): Promise<LatencySummary> {
    return timedPool(this.nodes.length, inFlight, async (i) => {
      const res = await this.nodes[i]!.client.request(
        { address: '127.0.0.1', port },
        {
          method: 'POST',
          path: ['rd'],
          query: [`ep=${this.endpoints[i]}`, `lt=${lifetimeSeconds}`, 'lwm2m=1.0', 'b=U'],
          options: [['Content-Format', encodeUint(LwM2mContentFormat.LINK)]],
          payload: OBJECT_LINKS,
        },
        { timeoutMs: 30_000 },
      );
      if (res.code !== '2.01') throw new Error(`registration of ${this.endpoints[i]} answered ${res.code} ${res.payload.toString('utf8')}`);
    });
  }

  async close(): Promise<void> {
    await Promise.all(this.nodes.map((n) => n.close()));
  }
}

export async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

export interface BareReads {
  reads: number;
  ok: number;
  failed: number;
  ms: number;
  p50: number;
  p99: number;
  error: string | null;
}

/** A server under test in its own process, driven by lines on stdin, answering JSON lines. */
export class BareServer {
  private readonly waiting = new Map<string, ((event: Record<string, unknown>) => void)[]>();
  private readonly exited: Promise<void>;

  private constructor(readonly child: ChildProcess) {
    this.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      if (!line.startsWith('{')) return;
      const event = JSON.parse(line) as Record<string, unknown>;
      this.waiting.get(String(event.event))?.shift()?.(event);
    });
  }

  /** Starts `argv` (node arguments) and waits for its `listening` line. */
  static async start(argv: string[], cwd: string): Promise<{ server: BareServer; port: number }> {
    const child = spawn(process.execPath, argv, { cwd, stdio: ['pipe', 'pipe', 'inherit'] });
    const server = new BareServer(child);
    const listening = server.next('listening', 30_000);
    const failed = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code} before listening`))));
    const event = await Promise.race([listening, failed]).catch(async (err: unknown) => {
      await server.stop();
      throw err;
    });
    return { server, port: Number(event.port) };
  }

  get pid(): number {
    return this.child.pid!;
  }

  private next(name: string, timeoutMs: number): Promise<Record<string, unknown>> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${name}" from the server within ${timeoutMs} ms`)), timeoutMs);
      const queue = this.waiting.get(name) ?? [];
      queue.push((event) => {
        clearTimeout(timer);
        resolve(event);
      });
      this.waiting.set(name, queue);
    });
  }

  async registered(): Promise<number> {
    const answer = this.next('count', 30_000);
    this.child.stdin!.write('count\n');
    return Number((await answer).registered);
  }

  /** Has the server read /o/i/r from every registered endpoint `perEndpoint` times, `inFlight` at a time. */
  async readAll(inFlight: number, perEndpoint: number, path: [number, number, number]): Promise<BareReads> {
    const answer = this.next('reads', 300_000);
    this.child.stdin!.write(`reads ${inFlight} ${perEndpoint} ${path.join(' ')}\n`);
    return (await answer) as unknown as BareReads;
  }

  /** SIGTERM, then SIGKILL if it is still there after 3 s. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 3000);
    await this.exited;
    clearTimeout(timer);
  }
}
