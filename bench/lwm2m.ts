/**
 * LwM2M registrations/s and reads/s: edgedm next to lwm2m-node-lib 1.4.0's server, measured in
 * the same run with the same load generator (bench/support/lwm2m-load.ts: N bare LwM2M 1.0
 * clients in this one process, one UDP socket each, `inFlight` requests at a time).
 *
 * Each run measures three servers, each in its own process, one after the other (the order
 * rotates from run to run so a drift of the shared machine does not always hit the same one):
 *   - node-lib: lwm2m-node-lib's server (bench/support/lwm2m-node-lib-server.cjs): in-memory
 *     registry; reads through its API (`server.read`) from inside its process;
 *   - bare: edgedm's LwM2M server alone (bench/support/lwm2m-edgedm-server.ts: the gateway's
 *     Lwm2mServer on a CoapNode, every endpoint admitted, nothing stored); reads through its API
 *     (`Lwm2mServer.send`) from inside its process. Like for like with node-lib;
 *   - gateway: the whole gateway from dist/ (as users run it), the N endpoints imported into its
 *     registry first: a Register is admitted against SQLite, recorded there, published as events,
 *     and followed by a read of /3/0 to fill the registry (device-info sync, not counted in the
 *     registration's latency but in the gateway's CPU). Reads through the REST API
 *     (`POST /api/v1/devices/{ep}/read`, one HTTP request per read from this process), so they
 *     include HTTP, fastify, JSON and the command layer: what an operator's script gets.
 * Registrations/s = N ÷ time from the first Register sent to the last 2.01 received; reads/s =
 * reads ÷ time to the last answer; p50/p99 are per request as the driver saw it. CPU is the
 * server process's (user + system, /proc) per operation: less sensitive to the noisy neighbours
 * than wall time.
 *
 * Then, for edgedm only: N real agents (`SimulatedFleet`, the agent on simulated hardware, as
 * `edgedm sim` runs them) in this process with a coap:// bootstrap URI against a fresh gateway:
 * time until every agent is bootstrapped and registered (bootstrap request, the server's writes,
 * Bootstrap-Finish, Register), and until the gateway's registry shows them all online.
 *
 *   npm run build && node --import tsx bench/lwm2m.ts [--count 1000] [--in-flight 50] [--reads-per-endpoint 2]
 *     [--runs 3] [--agents 1000] [--no-agents] [--gateway-log-level warn]
 *
 * Needs lwm2m-node-lib installed under test/interop/lwm2m-node-lib (`node scripts/install-peers.mjs`).
 */
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/logger.js';
import { formatFactoryCsv } from '../gateway/fleet/factory-import.js';
import { SimulatedFleet } from '../simulators/fleet.js';
import { simulatedIdentities } from '../simulators/identities.js';
import { freePort } from '../test/support/ports.js';
import { BareServer, freeUdpPort, LoadClients, median, timedPool, type LatencySummary } from './support/lwm2m-load.js';
import { ProcSampler, SelfSampler } from './support/proc.js';
import { benchArgs } from './support/args.js';
import { apiFetch, forgetLogin, gatewayAuthEnv, login } from './support/bench-auth.js';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback, 'positive-integer');
const count = num('count', 1000);
const inFlight = num('in-flight', 50);
const readsPerEndpoint = num('reads-per-endpoint', 2);
const runs = num('runs', 3);
const agentCount = args.has('no-agents') ? 0 : num('agents', count);
const gatewayLogLevel = flag('gateway-log-level') ?? 'warn';
/** Longer than any run: the registrations must not expire while the reads go on. */
const LIFETIME_S = 3600;
const READ_PATH: [number, number, number] = [3, 0, 0];
const root = join(import.meta.dirname, '..');
const log = createLogger({ level: 'silent' });
const say = (msg: string) => process.stderr.write(`[bench:lwm2m] ${msg}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

if (!existsSync(join(root, 'test/interop/lwm2m-node-lib/node_modules/lwm2m-node-lib'))) {
  throw new Error('lwm2m-node-lib is not installed: run `node scripts/install-peers.mjs` first');
}
if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` first');

type Target = 'node-lib' | 'bare' | 'gateway';
const TARGETS: readonly Target[] = ['node-lib', 'bare', 'gateway'];

interface Phase {
  summary: LatencySummary;
  /** CPU seconds of the server's process over the phase. */
  serverCpuS: number;
  /** CPU seconds of this process (the clients, and for REST reads the HTTP client) over the phase. */
  driverCpuS: number;
}

interface TargetResult {
  target: Target;
  registration: Phase;
  reads: Phase;
  /** Gateway only: from the first Register to the registry showing every device online, and to every /3/0 sync read answered. */
  allOnlineMs?: number;
  allSyncedMs?: number;
  peakRssKiB: number;
}

interface AgentResult {
  agents: number;
  /** From starting the fleet to every agent registered (bootstrap included). */
  allRegisteredMs: number;
  /** From starting the fleet to the gateway's registry showing them all online. */
  allOnlineMs: number;
  gatewayCpuS: number;
  fleetCpuS: number;
}

// ---- processes -----------------------------------------------------------------------------------

const children = new Set<import('node:child_process').ChildProcess>();
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));
process.once('SIGTERM', () => process.exit(143));

async function waitFor(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 300_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

async function onlineCount(api: string): Promise<number> {
  const health = (await (await fetch(`${api}/healthz`)).json()) as { devices: { online?: number } };
  return health.devices.online ?? 0;
}

interface GatewayProcess {
  pid: number;
  api: string;
  coapPort: number;
  stop(): Promise<void>;
}

async function startGateway(dir: string): Promise<GatewayProcess> {
  const [mqttPort, apiPort, coapPort] = [await freePort(), await freePort(), await freeUdpPort()];
  const child = spawn(
    process.execPath,
    [join(root, 'dist/cli/main.js'), 'gateway', '--data', join(dir, 'gw'), '--mqtt-port', String(mqttPort), '--api-port', String(apiPort), '--coap-port', String(coapPort), '--log-level', gatewayLogLevel],
    { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...gatewayAuthEnv() } },
  );
  children.add(child);
  child.once('exit', () => children.delete(child));
  const api = `http://127.0.0.1:${apiPort}`;
  const stop = async () => {
    forgetLogin(api);
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    await onceEvent(child, 'exit');
    clearTimeout(timer);
  };
  try {
    await waitFor('the gateway up', async () => (await fetch(`${api}/healthz`).catch(() => undefined))?.ok === true, 30_000);
    await login(api); // once, before anything is timed
  } catch (err) {
    await stop();
    throw err;
  }
  return { pid: child.pid!, api, coapPort, stop };
}

async function importEndpoints(api: string, endpoints: string[]): Promise<void> {
  const identities = endpoints.map((endpoint) => ({ endpoint, secret: 'bench-factory-secret-not-used-over-nosec', tags: [], groups: [] }));
  const res = await apiFetch(api, '/api/v1/devices/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: formatFactoryCsv(identities) });
  if (!res.ok) throw new Error(`import failed: HTTP ${res.status} ${await res.text()}`);
}

// ---- one target ------------------------------------------------------------------------------------

/** Registers every client, then has the server read READ_PATH from each, measuring both. */
async function measure(target: Target, run: number): Promise<TargetResult> {
  const endpoints = Array.from({ length: count }, (_, i) => `lw${run}${target[0]}-${String(i).padStart(5, '0')}`);
  const dir = mkdtempSync(join(tmpdir(), 'edgedm-bench-lwm2m-'));
  tempDirs.add(dir);
  let gateway: GatewayProcess | undefined;
  let bare: BareServer | undefined;
  let clients: LoadClients | undefined;
  try {
    let serverPid: number;
    let port: number;
    if (target === 'gateway') {
      gateway = await startGateway(dir);
      await importEndpoints(gateway.api, endpoints);
      serverPid = gateway.pid;
      port = gateway.coapPort;
    } else {
      const argv =
        target === 'node-lib'
          ? [join(root, 'bench/support/lwm2m-node-lib-server.cjs'), String(await freeUdpPort())]
          : ['--import', 'tsx', join(root, 'bench/support/lwm2m-edgedm-server.ts'), String(await freeUdpPort())];
      const started = await BareServer.start(argv, root);
      bare = started.server;
      serverPid = bare.pid;
      port = started.port;
    }
    clients = await LoadClients.start(endpoints, log);
    await sleep(500); // let the server settle after start-up and import

    const rss = new ProcSampler(serverPid);
    let server = new ProcSampler(serverPid);
    let driver = new SelfSampler();
    const registering = performance.now();
    const registration = await clients.registerAll(port, inFlight, LIFETIME_S);
    const registrationPhase: Phase = { summary: registration, serverCpuS: server.stop().cpuSeconds, driverCpuS: driver.stop().cpuSeconds };
    if (registration.failed > 0) throw new Error(`${target}: ${registration.failed} registrations failed, first: ${registration.firstError}`);

    let allOnlineMs: number | undefined;
    let allSyncedMs: number | undefined;
    if (gateway) {
      const api = gateway.api;
      await waitFor('every device online in the registry', async () => (await onlineCount(api)) >= count);
      allOnlineMs = performance.now() - registering;
      // The gateway reads /3/0 after each registration: let those finish before timing reads.
      await waitFor('the device-info reads after registering', () => clients!.answeredCount('/3/0') >= count, 120_000);
      allSyncedMs = performance.now() - registering;
    } else {
      const registered = await bare!.registered();
      if (registered !== count) throw new Error(`${target}: ${registered} of ${count} registered`);
    }
    await sleep(500);

    const answeredBefore = clients.answeredCount('/3/0/0');
    server = new ProcSampler(serverPid);
    driver = new SelfSampler();
    let readSummary: LatencySummary;
    if (gateway) {
      const api = gateway.api;
      const body = JSON.stringify({ path: `/${READ_PATH.join('/')}` });
      readSummary = await timedPool(count * readsPerEndpoint, inFlight, async (i) => {
        const res = await apiFetch(api, `/api/v1/devices/${endpoints[i % count]}/read`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        const answer = (await res.json()) as { success?: boolean; content?: { value: unknown }[]; message?: string };
        if (!res.ok || !answer.success) throw new Error(`read answered HTTP ${res.status} ${JSON.stringify(answer)}`);
      });
    } else {
      const reads = await bare!.readAll(inFlight, readsPerEndpoint, READ_PATH);
      readSummary = { count: reads.reads, ok: reads.ok, failed: reads.failed, wallMs: reads.ms, perSecond: reads.ok / (reads.ms / 1000), p50Ms: reads.p50, p99Ms: reads.p99, firstError: reads.error };
    }
    const readsPhase: Phase = { summary: readSummary, serverCpuS: server.stop().cpuSeconds, driverCpuS: driver.stop().cpuSeconds };
    if (readSummary.failed > 0) throw new Error(`${target}: ${readSummary.failed} reads failed, first: ${readSummary.firstError}`);
    const answered = clients.answeredCount('/3/0/0') - answeredBefore;
    if (answered !== readSummary.count) throw new Error(`${target}: ${readSummary.count} reads reported, the clients answered ${answered}`);
    return { target, registration: registrationPhase, reads: readsPhase, ...(allOnlineMs !== undefined ? { allOnlineMs } : {}), ...(allSyncedMs !== undefined ? { allSyncedMs } : {}), peakRssKiB: rss.stop().peakRssKiB };
  } finally {
    await clients?.close();
    await bare?.stop();
    await gateway?.stop();
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    tempDirs.delete(dir);
  }
}

/** N real agents bootstrapping over coap:// and registering with a fresh gateway. */
async function measureAgents(run: number): Promise<AgentResult> {
  const dir = mkdtempSync(join(tmpdir(), 'edgedm-bench-lwm2m-agents-'));
  // The agents' state directories on tmpfs: the shared VM's disk is not what is measured.
  const stateDir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'edgedm-bench-lwm2m-fleet-'));
  tempDirs.add(dir).add(stateDir);
  const gateway = await startGateway(dir);
  let fleet: SimulatedFleet | undefined;
  try {
    const identities = simulatedIdentities({ count: agentCount, prefix: `la${run}`, fleetSecret: 'bench-fleet-secret' });
    await importEndpoints(gateway.api, identities.map((i) => i.endpoint));
    await sleep(500);
    const server = new ProcSampler(gateway.pid);
    const self = new SelfSampler();
    const started = performance.now();
    fleet = SimulatedFleet.start({ identities, bootstrapServerUri: `coap://127.0.0.1:${gateway.coapPort}`, stateDir, rampPerSecond: 100_000, log });
    await fleet.whenAllRegistered(600_000);
    const allRegisteredMs = performance.now() - started;
    const api = gateway.api;
    await waitFor('every agent online in the registry', async () => (await onlineCount(api)) >= agentCount);
    const allOnlineMs = performance.now() - started;
    return { agents: agentCount, allRegisteredMs, allOnlineMs, gatewayCpuS: server.stop().cpuSeconds, fleetCpuS: self.stop().cpuSeconds };
  } finally {
    await fleet?.stop().catch(() => undefined);
    await gateway.stop();
    for (const d of [dir, stateDir]) {
      rmSync(d, { recursive: true, force: true, maxRetries: 5 });
      tempDirs.delete(d);
    }
  }
}

// ---- the runs ----------------------------------------------------------------------------------------

interface RunResult {
  run: number;
  order: Target[];
  loadAvgBefore: number[];
  targets: Record<Target, TargetResult>;
  agents?: AgentResult;
}

const f0 = (n: number) => Math.round(n).toLocaleString('en-US');
const f1 = (n: number) => n.toFixed(1);
const f2 = (n: number) => n.toFixed(2);
const perOpMs = (cpuS: number, ops: number) => (cpuS * 1000) / ops;

say(`${count} endpoints, ${inFlight} in flight, ${readsPerEndpoint} reads of /${READ_PATH.join('/')} per endpoint, ${runs} runs; ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${(totalmem() / 2 ** 30).toFixed(1)} GiB, load ${loadavg().map(f2).join(' ')}`);
const results: RunResult[] = [];
for (let run = 1; run <= runs; run++) {
  const order = TARGETS.map((_, k) => TARGETS[(k + run - 1) % TARGETS.length]!);
  const loadAvgBefore = loadavg();
  const targets = {} as Record<Target, TargetResult>;
  for (const target of order) {
    const r = await measure(target, run);
    targets[target] = r;
    say(
      `run ${run} ${target}: ${f0(r.registration.summary.perSecond)} reg/s (p50 ${f1(r.registration.summary.p50Ms)} ms, p99 ${f1(r.registration.summary.p99Ms)} ms, ` +
        `${f2(perOpMs(r.registration.serverCpuS, count))} ms server CPU/reg), ${f0(r.reads.summary.perSecond)} reads/s (p50 ${f1(r.reads.summary.p50Ms)} ms, p99 ${f1(r.reads.summary.p99Ms)} ms, ` +
        `${f2(perOpMs(r.reads.serverCpuS, r.reads.summary.count))} ms server CPU/read)` +
        (r.allOnlineMs !== undefined ? `; all online ${f0(r.allOnlineMs)} ms, /3/0 synced ${f0(r.allSyncedMs!)} ms` : ''),
    );
  }
  const result: RunResult = { run, order, loadAvgBefore, targets };
  if (agentCount > 0) {
    result.agents = await measureAgents(run);
    const a = result.agents;
    say(`run ${run} agents: ${a.agents} agents registered in ${f0(a.allRegisteredMs)} ms (${f0(a.agents / (a.allRegisteredMs / 1000))}/s), all online ${f0(a.allOnlineMs)} ms; gateway CPU ${f1(a.gatewayCpuS)} s, fleet CPU ${f1(a.fleetCpuS)} s`);
  }
  results.push(result);
}

// ---- report --------------------------------------------------------------------------------------------

const med = (pick: (r: RunResult) => number) => median(results.map(pick));
const regPerS = (t: Target) => (r: RunResult) => r.targets[t].registration.summary.perSecond;
const readsPerS = (t: Target) => (r: RunResult) => r.targets[t].reads.summary.perSecond;
const lines: string[] = [];
lines.push(`LwM2M, ${count} endpoints, ${inFlight} in flight, ${readsPerEndpoint}× /${READ_PATH.join('/')} per endpoint; medians of ${runs} runs`);
lines.push('');
lines.push('| server | reads driven by | reg/s | reg p50 / p99 ms | server CPU ms/reg | reads/s | read p50 / p99 ms | server CPU ms/read | server peak RSS MiB |');
lines.push('|---|---|---:|---:|---:|---:|---:|---:|---:|');
const how: Record<Target, string> = { 'node-lib': 'server.read() in its process', bare: 'Lwm2mServer.send() in its process', gateway: 'REST POST …/read from the bench' };
for (const t of TARGETS) {
  lines.push(
    `| ${t} | ${how[t]} | ${f0(med(regPerS(t)))} | ${f1(med((r) => r.targets[t].registration.summary.p50Ms))} / ${f1(med((r) => r.targets[t].registration.summary.p99Ms))} | ` +
      `${f2(med((r) => perOpMs(r.targets[t].registration.serverCpuS, count)))} | ${f0(med(readsPerS(t)))} | ` +
      `${f1(med((r) => r.targets[t].reads.summary.p50Ms))} / ${f1(med((r) => r.targets[t].reads.summary.p99Ms))} | ` +
      `${f2(med((r) => perOpMs(r.targets[t].reads.serverCpuS, r.targets[t].reads.summary.count)))} | ${f0(med((r) => r.targets[t].peakRssKiB / 1024))} |`,
  );
}
lines.push('');
lines.push('Ratios against lwm2m-node-lib measured in the same run (median of the per-run ratios; > 1 = edgedm faster):');
for (const t of ['bare', 'gateway'] as const) {
  lines.push(
    `- ${t}: registrations/s ×${f2(med((r) => regPerS(t)(r) / regPerS('node-lib')(r)))}, reads/s ×${f2(med((r) => readsPerS(t)(r) / readsPerS('node-lib')(r)))}, ` +
      `server CPU per registration ×${f2(med((r) => r.targets[t].registration.serverCpuS / r.targets['node-lib'].registration.serverCpuS))}, ` +
      `per read ×${f2(med((r) => r.targets[t].reads.serverCpuS / r.targets['node-lib'].reads.serverCpuS))} (< 1 = edgedm cheaper)`,
  );
}
lines.push(`- gateway: every device online in the registry after ${f0(med((r) => r.targets.gateway.allOnlineMs!))} ms, /3/0 synced after ${f0(med((r) => r.targets.gateway.allSyncedMs!))} ms (registration phase ${f0(med((r) => r.targets.gateway.registration.summary.wallMs))} ms)`);
if (agentCount > 0) {
  const agents = (r: RunResult) => r.agents!;
  lines.push(
    `- ${agentCount} real agents (coap:// bootstrap + register) against the gateway: all registered in ${f0(med((r) => agents(r).allRegisteredMs))} ms ` +
      `(${f0(med((r) => agents(r).agents / (agents(r).allRegisteredMs / 1000)))}/s), all online ${f0(med((r) => agents(r).allOnlineMs))} ms; ` +
      `gateway CPU ${f1(med((r) => agents(r).gatewayCpuS))} s, agents' CPU ${f1(med((r) => agents(r).fleetCpuS))} s`,
  );
}
process.stdout.write(`${lines.join('\n')}\n`);

const outDir = join(root, 'bench/out');
mkdirSync(outDir, { recursive: true });
const out = join(outDir, `lwm2m-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ args, count, inFlight, readsPerEndpoint, runs, agentCount, results }, null, 2));
say(`raw results: ${out}`);
process.exit(0);
