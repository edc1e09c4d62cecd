/**
 * The cost of security on CoAP: DTLS 1.2 PSK (common/dtls) against plain CoAP, both served by
 * the `coap` library from one server process, measured from one client process in the same run.
 *
 * 1. Handshakes: `--handshakes` new clients (each its own UDP socket, so its own session), at
 *    most `--concurrency` at a time; handshakes per second, and per-handshake latency p50/p99.
 *    Beside it, the same number of fresh plain-CoAP clients doing their first GET: what a
 *    device pays to start talking without security.
 * 2. Request/response: `--clients` established clients each keep `--window` confirmable
 *    `GET /echo` (64-byte answers) in flight for `--seconds`; answers per second over DTLS and
 *    over plain CoAP, and the ratio.
 * Medians of `--runs` runs, per cipher suite.
 *
 *   npm run bench:dtls [-- --runs 3 --handshakes 500 --concurrency 16 --clients 8 --window 4 --seconds 5]
 */
import { spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { randomBytes } from 'node:crypto';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import coap from 'coap';
import { DtlsClient } from '../common/dtls/dtls-client.js';
import { DtlsSocket } from '../common/dtls/dtls-socket.js';
import { benchArgs } from './support/args.js';

const args = benchArgs();
const runs = args.num('runs', 3, 'positive-integer');
const handshakes = args.num('handshakes', 500, 'positive-integer');
const concurrency = args.num('concurrency', 16, 'positive-integer');
const clients = args.num('clients', 8, 'positive-integer');
const windowSize = args.num('window', 4, 'positive-integer');
const seconds = args.num('seconds', 5, 'positive');
const suites = (args.flag('suites') ?? 'TLS_PSK_WITH_AES_128_CCM_8,TLS_PSK_WITH_AES_128_CBC_SHA256').split(',');
const IDENTITY = 'bench-device';
const KEY = randomBytes(16).toString('hex');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;

async function startTarget(suite: string): Promise<{ plainPort: number; dtlsPort: number; stop: () => Promise<string> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(import.meta.dirname, 'support/dtls-target.ts'), IDENTITY, KEY, suite], { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const iterator = lines[Symbol.asyncIterator]();
  const first = (await iterator.next()).value as string;
  const [, plain, dtls] = first.split(' ');
  return {
    plainPort: Number(plain),
    dtlsPort: Number(dtls),
    stop: async () => {
      child.stdin!.end();
      const last = (await iterator.next()).value as string;
      return last;
    },
  };
}

function get(agent: coap.Agent, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const req = coap.request({ hostname: '127.0.0.1', port, pathname: '/echo', agent, confirmable: true });
    req.on('response', (res: coap.IncomingMessage) => (res.code === '2.05' ? resolve() : reject(new Error(`answer ${res.code}`))));
    req.on('error', reject);
    req.end();
  });
}

async function plainSocket(): Promise<Socket> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  return s;
}

async function pool(n: number, limit: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await work(next++);
  }));
}

/** New sessions: a DTLS handshake each, or a plain client's first GET. */
async function startups(kind: 'dtls' | 'plain', port: number, suite: string): Promise<{ perSecond: number; p50: number; p99: number }> {
  const latencies: number[] = [];
  const t0 = performance.now();
  await pool(handshakes, concurrency, async () => {
    const t = performance.now();
    if (kind === 'dtls') {
      const client = await DtlsClient.create({ psk: { identity: Buffer.from(IDENTITY), key: Buffer.from(KEY, 'hex') }, cipherSuites: [suite as never] });
      await client.connect(port, '127.0.0.1');
      latencies.push(performance.now() - t);
      await client.close();
    } else {
      const socket = await plainSocket();
      const agent = new coap.Agent({ socket: socket as never });
      await get(agent, port);
      latencies.push(performance.now() - t);
      agent.close();
    }
  });
  const elapsed = (performance.now() - t0) / 1000;
  return { perSecond: handshakes / elapsed, p50: pct(latencies, 50), p99: pct(latencies, 99) };
}

/** Established clients keeping a window of requests in flight. */
async function throughput(kind: 'dtls' | 'plain', port: number, suite: string): Promise<number> {
  const agents: { agent: coap.Agent; close: () => Promise<void> }[] = [];
  for (let i = 0; i < clients; i++) {
    if (kind === 'dtls') {
      const client = await DtlsClient.create({ psk: { identity: Buffer.from(IDENTITY), key: Buffer.from(KEY, 'hex') }, cipherSuites: [suite as never] });
      await client.connect(port, '127.0.0.1');
      const agent = new coap.Agent({ socket: new DtlsSocket(client) as never });
      agents.push({ agent, close: async () => { agent.close(); await client.close(); } });
    } else {
      const agent = new coap.Agent({ socket: (await plainSocket()) as never });
      agents.push({ agent, close: async () => void agent.close() });
    }
  }
  let answered = 0;
  const deadline = performance.now() + seconds * 1000;
  const t0 = performance.now();
  await Promise.all(agents.flatMap(({ agent }) => Array.from({ length: windowSize }, async () => {
    while (performance.now() < deadline) {
      await get(agent, port);
      answered++;
    }
  })));
  const elapsed = (performance.now() - t0) / 1000;
  for (const a of agents) await a.close();
  return answered / elapsed;
}

console.log(`bench/dtls: ${runs} runs; ${handshakes} sessions ${concurrency} at a time; ${clients} clients × window ${windowSize} for ${seconds} s; ${cpus().length} cores, load ${loadavg()[0]!.toFixed(2)}`);
const summary: Record<string, unknown>[] = [];
for (const suite of suites) {
  const rows: { hs: number; hsP50: number; hsP99: number; first: number; firstP50: number; dtlsRps: number; plainRps: number }[] = [];
  for (let run = 1; run <= runs; run++) {
    const target = await startTarget(suite);
    try {
      const hs = await startups('dtls', target.dtlsPort, suite);
      const first = await startups('plain', target.plainPort, suite);
      const dtlsRps = await throughput('dtls', target.dtlsPort, suite);
      const plainRps = await throughput('plain', target.plainPort, suite);
      rows.push({ hs: hs.perSecond, hsP50: hs.p50, hsP99: hs.p99, first: first.perSecond, firstP50: first.p50, dtlsRps, plainRps });
      console.log(
        `${suite} run ${run}: ${hs.perSecond.toFixed(0)} handshakes/s (p50 ${hs.p50.toFixed(1)} ms, p99 ${hs.p99.toFixed(1)} ms) vs ${first.perSecond.toFixed(0)} plain first GETs/s (p50 ${first.p50.toFixed(1)} ms); ` +
          `requests ${dtlsRps.toFixed(0)}/s over DTLS vs ${plainRps.toFixed(0)}/s plain (×${(dtlsRps / plainRps).toFixed(2)}); load ${loadavg()[0]!.toFixed(2)}`,
      );
    } finally {
      const stats = await target.stop();
      if (run === runs) console.log(`  server counters (last run): ${stats}`);
    }
  }
  const m = {
    suite,
    handshakesPerSecond: median(rows.map((r) => r.hs)),
    handshakeP50Ms: median(rows.map((r) => r.hsP50)),
    handshakeP99Ms: median(rows.map((r) => r.hsP99)),
    plainFirstGetsPerSecond: median(rows.map((r) => r.first)),
    dtlsRequestsPerSecond: median(rows.map((r) => r.dtlsRps)),
    plainRequestsPerSecond: median(rows.map((r) => r.plainRps)),
    throughputRatio: median(rows.map((r) => r.dtlsRps / r.plainRps)),
  };
  summary.push(m);
  console.log(`${suite} median: ${m.handshakesPerSecond.toFixed(0)} handshakes/s, requests ×${m.throughputRatio.toFixed(2)} of plain CoAP (${m.dtlsRequestsPerSecond.toFixed(0)} vs ${m.plainRequestsPerSecond.toFixed(0)}/s)`);
}
console.log(JSON.stringify(summary));
