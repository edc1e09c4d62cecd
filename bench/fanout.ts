/**
 * Fan-out: a fleet read of `/3/0` (the whole Device object) to N online devices (default 10,000)
 * through the gateway's fleet commands, at a few `maxConcurrent` values.
 *
 * The gateway runs in its own process (built dist/); the fleet (the real agent on simulated
 * hardware, DM over MQTT) is split over child processes (bench/support/fleet-child.ts). Once all
 * are online: `POST /api/v1/fleet/commands {"target":"all","operation":"read","path":"/3/0",
 * "maxConcurrent":M}`, poll `GET /api/v1/fleet/commands/{id}` until it has finished, then read
 * every device's row (`GET …/devices?limit=1000`, paged): answered = rows `succeeded`; ops/s =
 * answered ÷ (latest finishedAt − the command's createdAt); per-device latency = finishedAt −
 * sentAt (the gateway's own timestamps, ms: the row is marked sent before its request leaves and
 * finished when the answer has been stored).
 *
 * The peer, measured in the same run with the same maxConcurrent: the same number of request /
 * answer round trips over bare MQTT (bench/support/fanout-peer.ts): a bare aedes with the
 * requester in its own process (as the gateway's MqttDeviceLink publishes from inside its
 * broker), one mqtt.js responder per device (split over the same number of processes), QoS 1
 * both ways, an answer of the size of a real `/3/0` read answer. No authentication, ACL,
 * protobuf, object tree, SQL queue or result aggregation: what MQTT alone costs.
 *
 *   npm run bench:fanout [-- --count 10000 --runs 3 --max-concurrent 100,1000 --fleet-procs 4]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { simulatedIdentities } from '../simulators/identities.js';
import { api, importIdentities, sleep, startFleetProcesses, startGateway, stopChild, tempDir, track, waitOnline } from './support/fanout-fleet.js';
import { ProcSampler } from './support/proc.js';
import { benchArgs } from './support/args.js';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback);
const count = num('count', 10_000);
const runs = num('runs', 3);
const fleetProcs = num('fleet-procs', 4);
const concurrencies = (flag('max-concurrent') ?? '100,1000').split(',').map(Number);
const timeoutS = num('timeout-s', 600);
const withPeer = !args.has('no-peer');
const cpuProfile = args.has('cpu-prof');
const fleetRoot = flag('fleet-dir') ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const root = join(import.meta.dirname, '..');
const out = join(root, 'bench/out');
mkdirSync(out, { recursive: true });

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const pct = (xs: number[], q: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
};

interface Summary {
  id: string;
  state: string;
  total: number;
  counts: Record<string, number>;
  createdAt: string;
  finishedAt: string | null;
}
interface DeviceRow {
  endpoint: string;
  state: string;
  attempts: number;
  sentAt: string | null;
  finishedAt: string | null;
}

interface FanoutResult {
  run: number;
  maxConcurrent: number;
  total: number;
  answered: number;
  counts: Record<string, number>;
  wallMs: number;
  opsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  maxAttempts: number;
  gatewayCpuS: number;
  gatewayPeakRssMiB: number;
  fleetCpuS: number;
  load1: number;
  peer: { ms: number; answered: number; opsPerSec: number; p50Ms: number; p99Ms: number; brokerCpuS: number } | null;
}

// ---- the gateway and its fleet ------------------------------------------------------------------

const dir = tempDir(mkdtempSync(join(tmpdir(), 'edgedm-bench-fanout-')));
const fleetDir = tempDir(mkdtempSync(join(fleetRoot, 'edgedm-bench-fanout-fleet-')));
const gateway = await startGateway(join(dir, 'gw'), cpuProfile ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${out}`] } : {});
const identities = simulatedIdentities({ count, prefix: 'f', fleetSecret: 'bench-fleet-secret' });
await importIdentities(gateway.api, identities);
const setupStarted = performance.now();
const fleet = startFleetProcesses(identities, `mqtt://127.0.0.1:${gateway.mqttPort}`, fleetDir, fleetProcs);
const online = await waitOnline(gateway.api, count, setupStarted, timeoutS * 1000);
console.log(
  `${online.online}/${count} devices online after ${((performance.now() - setupStarted) / 1000).toFixed(1)} s` + (online.allOnlineMs === null ? ' (not all: measuring with those)' : ''),
);
await sleep(2000); // let the registration tail (device-info reads, keepalives) settle

// ---- the peer ------------------------------------------------------------------------------------

let peer: { server: ReturnType<typeof spawn>; lines: AsyncIterator<string>; ids: string[]; responders: ReturnType<typeof spawn>[] } | undefined;
if (withPeer) {
  const server = track(spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/fanout-peer.ts'), 'server'], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = createInterface({ input: server.stdout! })[Symbol.asyncIterator]();
  const { port } = JSON.parse(String((await lines.next()).value)) as { port: number };
  const per = Math.ceil(count / fleetProcs);
  const ids: string[] = [];
  const responders = Array.from({ length: fleetProcs }, (_, k) => {
    const n = Math.min(per, count - k * per);
    for (let i = 0; i < n; i++) ids.push(`q${k}-${i}`);
    // ~ the size of a real /3/0 read answer (protobuf, all Device resources of a simulated device)
    return track(
      spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/fanout-peer.ts'), 'respond', `mqtt://127.0.0.1:${port}`, `q${k}`, String(n), '400'], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
  });
  await Promise.all(
    responders.map(async (r) => {
      for await (const line of createInterface({ input: r.stdout! })) if (line === 'ready') return;
      throw new Error('a peer responder process ended early');
    }),
  );
  peer = { server, lines, ids, responders };
}

async function peerFanout(maxConcurrent: number) {
  if (!peer) return null;
  const sampler = new ProcSampler(peer.server.pid!);
  peer.server.stdin!.write(`run ${maxConcurrent} 30000 ${peer.ids.join(',')}\n`);
  const r = JSON.parse(String((await peer.lines.next()).value)) as { ms: number; answered: number; latencies: number[] };
  const usage = sampler.stop();
  return { ms: r.ms, answered: r.answered, opsPerSec: r.answered / (r.ms / 1000), p50Ms: pct(r.latencies, 0.5), p99Ms: pct(r.latencies, 0.99), brokerCpuS: usage.cpuSeconds };
}

// ---- the fleet command ---------------------------------------------------------------------------

async function fanout(run: number, maxConcurrent: number): Promise<FanoutResult> {
  const load1 = loadavg()[0]!;
  const gw = new ProcSampler(gateway.pid);
  const fleetSamplers = fleet.pids.map((pid) => new ProcSampler(pid));
  const created = await api<Summary>(gateway.api, 'POST', '/api/v1/fleet/commands', { target: 'all', operation: 'read', path: '/3/0', maxConcurrent });
  let summary = created;
  const deadline = performance.now() + timeoutS * 1000;
  while (!summary.finishedAt && performance.now() < deadline) {
    await sleep(250);
    summary = await api<Summary>(gateway.api, 'GET', `/api/v1/fleet/commands/${created.id}`);
  }
  const gwUsage = gw.stop();
  const fleetCpuS = fleetSamplers.map((s) => s.stop()).reduce((n, u) => n + u.cpuSeconds, 0);
  if (!summary.finishedAt) {
    await api(gateway.api, 'POST', `/api/v1/fleet/commands/${created.id}/cancel`).catch(() => {});
  }
  const rows: DeviceRow[] = [];
  for (let offset = 0; ; offset += 1000) {
    const page = await api<{ items: DeviceRow[]; total: number }>(gateway.api, 'GET', `/api/v1/fleet/commands/${created.id}/devices?limit=1000&offset=${offset}`);
    rows.push(...page.items);
    if (rows.length >= page.total || page.items.length === 0) break;
  }
  const ok = rows.filter((r) => r.state === 'succeeded' && r.sentAt && r.finishedAt);
  const latencies = ok.map((r) => Date.parse(r.finishedAt!) - Date.parse(r.sentAt!));
  const lastFinish = Math.max(...ok.map((r) => Date.parse(r.finishedAt!)));
  const wallMs = lastFinish - Date.parse(created.createdAt);
  const peerResult = await peerFanout(maxConcurrent);
  return {
    run,
    maxConcurrent,
    total: summary.total,
    answered: ok.length,
    counts: summary.counts,
    wallMs,
    opsPerSec: ok.length / (wallMs / 1000),
    p50Ms: pct(latencies, 0.5),
    p99Ms: pct(latencies, 0.99),
    maxAttempts: Math.max(...rows.map((r) => r.attempts)),
    gatewayCpuS: gwUsage.cpuSeconds,
    gatewayPeakRssMiB: gwUsage.peakRssKiB / 1024,
    fleetCpuS,
    load1,
    peer: peerResult,
  };
}

const startedAt = new Date();
const results: FanoutResult[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    for (const m of run % 2 ? concurrencies : [...concurrencies].reverse()) {
      const r = await fanout(run, m);
      results.push(r);
      console.log(
        `run ${run} maxConcurrent ${m}: ${r.answered}/${r.total} answered in ${(r.wallMs / 1000).toFixed(2)} s, ${r.opsPerSec.toFixed(0)} ops/s, per device p50 ${r.p50Ms} ms p99 ${r.p99Ms} ms ` +
          `(states ${JSON.stringify(r.counts)}, max attempts ${r.maxAttempts}); gateway CPU ${r.gatewayCpuS.toFixed(1)} s, peak RSS ${r.gatewayPeakRssMiB.toFixed(0)} MiB; fleet CPU ${r.fleetCpuS.toFixed(1)} s; load ${r.load1.toFixed(2)}` +
          (r.peer
            ? `\n      peer (bare aedes + mqtt.js): ${r.peer.answered}/${count} in ${(r.peer.ms / 1000).toFixed(2)} s, ${r.peer.opsPerSec.toFixed(0)} ops/s, p50 ${r.peer.p50Ms.toFixed(1)} ms p99 ${r.peer.p99Ms.toFixed(1)} ms, broker CPU ${r.peer.brokerCpuS.toFixed(1)} s; ratio (ops/s) ${(r.opsPerSec / r.peer.opsPerSec).toFixed(2)}`
            : ''),
      );
    }
  }
} finally {
  if (peer) {
    await Promise.all(peer.responders.map((r) => stopChild(r)));
    await stopChild(peer.server);
  }
  await fleet.stop();
  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
  rmSync(fleetDir, { recursive: true, force: true });
}

console.log(`\nmedians over ${runs} run(s), ${count} devices (fleet in ${fleetProcs} processes):`);
console.log('| maxConcurrent | answered | wall s | ops/s | p50 ms | p99 ms | gateway CPU s | gateway CPU ms/op | peer ops/s | peer p50 / p99 ms | ratio ops/s (gateway ÷ peer) |');
console.log('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const m of concurrencies) {
  const rs = results.filter((r) => r.maxConcurrent === m);
  const ps = rs.filter((r) => r.peer).map((r) => r.peer!);
  const ratios = rs.filter((r) => r.peer).map((r) => r.opsPerSec / r.peer!.opsPerSec);
  console.log(
    `| ${m} | ${median(rs.map((r) => r.answered))}/${count} | ${(median(rs.map((r) => r.wallMs)) / 1000).toFixed(2)} | ${median(rs.map((r) => r.opsPerSec)).toFixed(0)} | ` +
      `${median(rs.map((r) => r.p50Ms)).toFixed(0)} | ${median(rs.map((r) => r.p99Ms)).toFixed(0)} | ${median(rs.map((r) => r.gatewayCpuS)).toFixed(1)} | ` +
      `${median(rs.map((r) => (r.gatewayCpuS * 1000) / Math.max(1, r.answered))).toFixed(2)} | ` +
      (ps.length
        ? `${median(ps.map((p) => p.opsPerSec)).toFixed(0)} | ${median(ps.map((p) => p.p50Ms)).toFixed(1)} / ${median(ps.map((p) => p.p99Ms)).toFixed(1)} | ×${median(ratios).toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(', ')}) |`
        : '— | — | — |'),
  );
}
const loads = results.map((r) => r.load1);
console.log(`load average (1 min) at each command: ${loads.map((l) => l.toFixed(2)).join(', ')}; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
const file = join(out, `fanout-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ startedAt, args, count, fleetProcs, online, results }, null, 2));
console.log(`raw results: ${file}`);
process.exit(0);
