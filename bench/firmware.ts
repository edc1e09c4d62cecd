/**
 * Firmware delivery at fleet scale: one image to N simulated devices by a rollout, over each
 * delivery path (HTTP pull with Range, CoAP Block2 pull, MQTT block push). The gateway runs in
 * its own process from the built dist/ (as users run it); the simulated fleet (the real agent on
 * simulated hardware, each device with its own state directory, on tmpfs) runs from the sources,
 * split over --fleet-procs child processes (4 by default: in one process the fleet itself was the
 * bottleneck of the HTTP rollout, see bench/RESULTS.md). For each path: wall time from creating the
 * rollout to its completion (the gateway's timestamps), devices/min, MB/s (devices × image bytes /
 * wall time, MB = 10^6 bytes), the gateway's CPU seconds and peak RSS (/proc every 200 ms and
 * VmHWM), the fleet's CPU, when the last image byte went out, and that every device succeeded
 * (a device the rollout did not count as succeeded is asked which firmware it runs).
 *
 * The floor, measured in the same run right after the rollout, is the same bytes moved with
 * nothing of the agent or the rollout machinery around them, at the same concurrency:
 *   - http: curl (--parallel) GETs every device's transfer URL from the same gateway to /dev/null;
 *   - coap: libcoap's coap-client-notls -b 1024 GETs every transfer's coap:// URI from the same
 *     gateway, one process per concurrent device, to /dev/null;
 *   - push: a bare aedes in its own process (bench/support/bare-pusher.ts) pushes the same bytes
 *     in the same 64 KiB blocks with QoS 1, one block in flight per device, to N mqtt.js
 *     subscribers in this process that answer every block (the gateway's push is request/answer
 *     per block too). The gateway cannot be that peer: its broker only talks to authenticated
 *     devices through its own codec.
 * The ratio (floor MB/s ÷ rollout MB/s; the wall-time ratio when the floor moved every byte) is
 * what the agent, the rollout engine and the device's own work (hash check, slot write, reboot,
 * re-registration) cost over moving the bytes.
 *
 *   npm run build && node --import tsx bench/firmware.ts [--count 500] [--size-mib 4] [--runs 1]
 *     [--delivery http,coap,push] [--max-concurrent N] [--poll-ms 2000] [--coap-count N] [--timeout-s 1800]
 *     [--gateway-log-level warn] [--fleet-log-level silent] [--fleet-dir /dev/shm] [--fleet-procs 4]
 *
 * BENCH_GATEWAY_NODE_ARGS passes node flags to the gateway process (e.g. "--cpu-prof --cpu-prof-dir=/tmp/p").
 * Needs curl and coap-client-notls (Debian: libcoap3-bin) on PATH for the http and coap floors.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once as onceEvent } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { connectAsync, type MqttClient } from 'mqtt';
import { createLogger } from '../common/logger.js';
import { formatFactoryCsv } from '../gateway/fleet/factory-import.js';
import { SimulatedFleet } from '../simulators/fleet.js';
import { SIMULATED_MODELS, simulatedIdentities, type SimulatedIdentity } from '../simulators/identities.js';
import { freePort } from '../test/support/ports.js';
import { ProcSampler, SelfSampler, type ProcUsage } from './support/proc.js';
import { benchArgs } from './support/args.js';
import { apiFetch, apiJson as api, forgetLogin, gatewayAuthEnv, login } from './support/bench-auth.js';

type Delivery = 'http' | 'coap' | 'push';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback, 'positive');
const count = num('count', 500);
const sizeMiB = num('size-mib', 4);
const runs = num('runs', 1);
const deliveries = (flag('delivery') ?? 'http,coap,push').split(',').map((d) => d.trim()) as Delivery[];
for (const d of deliveries) if (!['http', 'coap', 'push'].includes(d)) throw new Error(`--delivery: unknown delivery "${d}"`);
/** The gateway's rollout poll interval (EDGEDM_ROLLOUT_POLL_MS); its default is 2000. */
const pollMs = num('poll-ms', 2000);
const timeoutS = num('timeout-s', 1800);
/**
 * CoAP gets the whole fleet too since the gateway serves blocks without SQL or file opens per
 * block (500 × 4 MiB in ~10 min on the reference machine, see bench/RESULTS.md); --coap-count N
 * runs it on fewer devices.
 */
const countFor = (d: Delivery) => (d === 'coap' ? Math.min(count, num('coap-count', count)) : count);
const concurrencyFor = (d: Delivery) => Math.min(countFor(d), num('max-concurrent', countFor(d)));
/** The gateway's push block (RolloutEngine's default pushBlockBytes). */
const PUSH_BLOCK = 64 * 1024;
const imageBytes = Math.round(sizeMiB * 1024 * 1024);
/** Processes the simulated fleet is split over: 1 runs it in this process. */
const fleetProcs = Math.round(num('fleet-procs', 4));
/**
 * Where the simulated devices keep their state and flash. 500 devices share this machine's one
 * disk where real ones each have their own flash: on tmpfs by default, so the disk of a shared VM
 * (every device writes the image twice, with fsync) does not stand in for the devices' flash.
 */
const fleetRoot = flag('fleet-dir') ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const root = join(import.meta.dirname, '..');

/** Every item of a paged API list, a page (at most 1000) at a time. */
async function allItems<T>(base: string, path: string): Promise<T[]> {
  const items: T[] = [];
  for (;;) {
    const page = await api<{ items: T[]; total: number }>(base, 'GET', `${path}${path.includes('?') ? '&' : '?'}offset=${items.length}&limit=1000`);
    items.push(...page.items);
    if (page.items.length === 0 || items.length >= page.total) return items;
  }
}
/** Extra node flags for the gateway process, e.g. BENCH_GATEWAY_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof". */
const gatewayNodeArgs = (process.env.BENCH_GATEWAY_NODE_ARGS ?? '').split(/\s+/).filter(Boolean);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const say = (msg: string) => process.stderr.write(`[bench:firmware] ${msg}\n`);
const mb = (bytes: number) => bytes / 1e6;

interface RolloutView {
  id: string;
  state: string;
  reason: string | null;
  total: number;
  counts: Record<string, number>;
  bytesServed: number;
  createdAt: string;
  finishedAt: string | null;
}
interface RolloutDeviceView {
  endpoint: string;
  state: string;
  updateResult: number | null;
  reason: string | null;
  attempts: number;
  startedAt: string | null;
  finishedAt: string | null;
}
interface TransferView {
  id: string;
  endpoint: string;
  bytesServed: number;
  requests: number;
  createdAt: string;
  lastRequestAt: string | null;
}

interface Floor {
  tool: string;
  wallMs: number;
  /** Bytes the floor moved, as counted by the server (gateway transfer counters or the subscribers). */
  bytes: number;
  /** The server side of the floor: the same gateway (http, coap) or the bare aedes (push). */
  server: ProcUsage;
  client: { cpuSeconds: number } | undefined;
  /** Fetches that completed, and those given up (coap: a client that stopped asking, see coapClientFloor). */
  completed: number;
  stalled: number;
}

interface Result {
  delivery: Delivery;
  devices: number;
  concurrency: number;
  imageBytes: number;
  /** From the rollout's creation to its completion, by the gateway's timestamps. */
  wallMs: number;
  finished: boolean;
  state: string;
  succeeded: number;
  /** Devices that run the new image at the end: succeeded, plus any the rollout miscounted. */
  updated: number;
  notSucceeded: Record<string, number>;
  bytesServed: number;
  transfers: number;
  gateway: ProcUsage;
  /** The simulated fleet during the rollout: CPU seconds and peak RSS summed over its processes. */
  fleet: { cpuSeconds: number; peakRssKiB: number; processes: number };
  registerMs: number;
  /**
   * When the last image byte went out (the latest transfer's last counted request), from the
   * rollout's creation: the transfer phase. The rest of the wall time is the devices' own work
   * (hash check, slot write, reboot, re-registration) and the engine noticing it.
   */
  lastByteMs: number;
  /** Median per device: first transfer created → its last transfer's last byte. */
  medianDownloadMs: number;
  /** Event-loop delay of the fleet's process(es) during the rollout: p50, p99, max in ms (worst process). */
  fleetLoopDelayMs: { p50: number; p99: number; max: number };
  /** Per device, ms from the rollout's creation: started, last image byte sent, finished. */
  timeline: { endpoint: string; startedMs: number | null; lastByteMs: number | null; finishedMs: number | null; transfers: number }[];
  floor: Floor | undefined;
}

// ---- processes ---------------------------------------------------------------------------------

const children = new Set<import('node:child_process').ChildProcess>();
/** Temporary directories (the gateway's data, the fleet's state on tmpfs), removed however the run ends. */
const tempDirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of tempDirs) rmSync(d, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));

function track<T extends import('node:child_process').ChildProcess>(child: T): T {
  children.add(child);
  child.once('exit', () => children.delete(child));
  return child;
}

/** Runs a command to its end; rejects on a non-zero exit with what it wrote on stderr. */
function run(cmd: string, argv: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = track(spawn(cmd, argv, { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-2000)));
    child.once('error', reject);
    child.once('exit', (code, signal) => (code === 0 ? resolve() : reject(new Error(`${cmd} exited with ${code ?? signal}: ${stderr.trim()}`))));
  });
}

/** Runs `work` over `items` with at most `limit` at a time. */
async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

async function freeUdpPort(): Promise<number> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const port = socket.address().port;
  await new Promise<void>((resolve) => socket.close(resolve));
  return port;
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await sleep(50);
  }
  throw new Error(`${url} did not come up`);
}

// ---- the image -----------------------------------------------------------------------------------

/** Incompressible: random bytes, a new image each time the benchmark runs. */
const IMAGE = randomBytes(imageBytes);

// ---- the simulated fleet -------------------------------------------------------------------------

interface LoopDelay {
  p50: number;
  p99: number;
  max: number;
}

/** The simulated fleet, in this process or split over child processes (--fleet-procs). */
interface FleetHandle {
  /** Starts measuring CPU, RSS and event-loop delay. */
  measure(): void;
  report(): Promise<{ cpuSeconds: number; peakRssKiB: number; loopDelayMs: LoopDelay }>;
  stop(): Promise<void>;
}

async function startFleet(identities: SimulatedIdentity[], server: string, stateDir: string): Promise<FleetHandle> {
  if (fleetProcs <= 1) {
    const fleet = SimulatedFleet.start({ identities, bootstrapServerUri: server, stateDir, rampPerSecond: 100_000, log: createLogger({ level: flag('fleet-log-level') ?? 'silent' }) });
    await fleet.whenAllRegistered(300_000);
    let usage: SelfSampler | undefined;
    const loop = monitorEventLoopDelay({ resolution: 10 });
    return {
      measure() {
        usage = new SelfSampler();
        loop.reset();
        loop.enable();
      },
      async report() {
        loop.disable();
        return { ...usage!.stop(), loopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 } };
      },
      stop: () => fleet.stop(),
    };
  }
  const file = join(stateDir, 'identities.json');
  writeFileSync(file, JSON.stringify(identities), { mode: 0o600 });
  const per = Math.ceil(identities.length / fleetProcs);
  const children: import('node:child_process').ChildProcess[] = [];
  const procs = await Promise.all(
    Array.from({ length: fleetProcs }, async (_, k) => {
      const child = track(
        spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/fleet-child.ts'), file, String(k * per), String(Math.min(identities.length, (k + 1) * per)), server, stateDir], {
          stdio: ['pipe', 'pipe', 'inherit'],
          env: { ...process.env, BENCH_FLEET_LOG_LEVEL: flag('fleet-log-level') ?? 'silent' },
        }),
      );
      children.push(child);
      const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
      const first = String((await lines.next()).value);
      if (first !== 'registered') throw new Error(`fleet process ${k}: ${first}`);
      return { child, lines };
    }),
  ).catch(async (err: unknown) => {
    await Promise.all(children.map((c) => (c.exitCode === null && c.kill('SIGKILL') ? onceEvent(c, 'exit') : undefined)));
    throw err;
  });
  let samplers: ProcSampler[] = [];
  return {
    measure() {
      samplers = procs.map((p) => new ProcSampler(p.child.pid!));
      for (const p of procs) p.child.stdin!.write('measure\n');
    },
    async report() {
      const usage = samplers.map((s) => s.stop());
      const delays: LoopDelay[] = [];
      for (const p of procs) {
        p.child.stdin!.write('report\n');
        delays.push(JSON.parse(String((await p.lines.next()).value).replace(/^loop /, '')) as LoopDelay);
      }
      return {
        cpuSeconds: usage.reduce((n, u) => n + u.cpuSeconds, 0),
        peakRssKiB: usage.reduce((n, u) => n + u.peakRssKiB, 0),
        loopDelayMs: { p50: Math.max(...delays.map((d) => d.p50)), p99: Math.max(...delays.map((d) => d.p99)), max: Math.max(...delays.map((d) => d.max)) },
      };
    },
    async stop() {
      await Promise.all(
        procs.map(async (p) => {
          if (p.child.exitCode !== null) return;
          p.child.kill('SIGTERM');
          await onceEvent(p.child, 'exit');
        }),
      );
    },
  };
}

// ---- one delivery through the gateway ------------------------------------------------------------

async function rollout(delivery: Delivery, run: number): Promise<Result> {
  const devices = countFor(delivery);
  const concurrency = concurrencyFor(delivery);
  const dir = mkdtempSync(join(tmpdir(), 'edgedm-bench-fw-'));
  const fleetDir = mkdtempSync(join(fleetRoot, 'edgedm-bench-fleet-'));
  tempDirs.add(dir).add(fleetDir);
  const [mqttPort, apiPort, coapPort] = [await freePort(), await freePort(), await freeUdpPort()];
  const gateway = track(
    spawn(
      process.execPath,
      [...gatewayNodeArgs, join(root, 'dist/cli/main.js'), 'gateway', '--data', join(dir, 'gw'), '--mqtt-port', String(mqttPort), '--api-port', String(apiPort), '--log-level', flag('gateway-log-level') ?? 'warn'],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...gatewayAuthEnv(), EDGEDM_COAP_PORT: String(coapPort), EDGEDM_ROLLOUT_POLL_MS: String(pollMs) } },
    ),
  );
  const base = `http://127.0.0.1:${apiPort}`;
  let fleet: FleetHandle | undefined;
  try {
    await waitForHttp(`${base}/healthz`);
    await login(base); // once, before anything is timed
    const identities = simulatedIdentities({ count: devices, prefix: `fw${run}${delivery[0]}`, fleetSecret: 'bench-fleet-secret' });
    const imported = await apiFetch(base, '/api/v1/devices/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: formatFactoryCsv(identities) });
    if (!imported.ok) throw new Error(`import failed: ${await imported.text()}`);

    const registering = performance.now();
    fleet = await startFleet(identities, `mqtt://127.0.0.1:${mqttPort}`, fleetDir);
    for (;;) {
      const health = await api<{ devices: { online?: number } }>(base, 'GET', '/healthz');
      if ((health.devices.online ?? 0) >= devices) break;
      await sleep(50);
    }
    const registerMs = performance.now() - registering;
    await sleep(2000); // let the registration burst (device info sync) settle out of the measurement

    const added = await apiFetch(base, `/api/v1/firmware?name=bench&version=2.0.0&model=${SIMULATED_MODELS.join(',')}`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: IMAGE,
    });
    if (added.status !== 201) throw new Error(`firmware add failed: ${await added.text()}`);
    const firmware = ((await added.json()) as { id: string }).id;

    say(`${delivery} run ${run}: ${devices} devices registered in ${(registerMs / 1000).toFixed(1)} s; rollout of ${sizeMiB} MiB, ${concurrency} at a time`);
    const gatewayUsage = new ProcSampler(gateway.pid!);
    fleet.measure();
    const started = performance.now();
    const created = await api<RolloutView>(base, 'POST', '/api/v1/rollouts', { firmware, target: 'all', delivery, canary: 0, maxConcurrent: concurrency });
    let view = created;
    let lastReport = started;
    let finished = true;
    while (!view.finishedAt) {
      await sleep(500); // the rollout summary is not free for the gateway: not too often
      view = await api<RolloutView>(base, 'GET', `/api/v1/rollouts/${created.id}`);
      const now = performance.now();
      if (now - lastReport > 10_000) {
        lastReport = now;
        const c = Object.entries(view.counts).filter(([, n]) => n > 0).map(([s, n]) => `${s} ${n}`).join(', ');
        say(`${delivery}: ${((now - started) / 1000).toFixed(0)} s: ${c}; ${(mb(view.bytesServed) / ((now - started) / 1000)).toFixed(1)} MB/s served`);
      }
      if (now - started > timeoutS * 1000) {
        say(`${delivery}: not finished after ${timeoutS} s: cancelling`);
        finished = false;
        break;
      }
    }
    // The gateway's own timestamps (ms) of creation and completion; what this process saw when it did not finish.
    const wallMs = view.finishedAt ? Date.parse(view.finishedAt) - Date.parse(created.createdAt) : performance.now() - started;
    const gatewayRollout = gatewayUsage.stop();
    const { loopDelayMs: fleetLoopDelayMs, ...fleetRollout } = await fleet.report();
    if (!finished) view = await api<RolloutView>(base, 'POST', `/api/v1/rollouts/${created.id}/cancel`);

    const rolloutDevices = await allItems<RolloutDeviceView>(base, `/api/v1/rollouts/${created.id}/devices`);
    const notSucceeded: Record<string, number> = {};
    // A device the rollout did not count as succeeded may run the image all the same: ask it.
    let updatedAnyway = 0;
    for (const d of rolloutDevices) {
      if (d.state === 'succeeded') continue;
      const read = await apiFetch(base, `/api/v1/devices/${d.endpoint}/read`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '/3/0/3' }) });
      const running = read.ok ? String(((await read.json()) as { content?: { value: unknown }[] }).content?.[0]?.value) : `unknown (HTTP ${read.status})`;
      const key = `${d.state}${d.updateResult !== null ? ` (result ${d.updateResult})` : ''}${d.reason ? `: ${d.reason}` : ''}; the device runs ${running}`;
      notSucceeded[key] = (notSucceeded[key] ?? 0) + 1;
      if (running === '2.0.0') updatedAnyway++;
    }
    const transfers = await allItems<TransferView>(base, `/api/v1/transfers?rollout=${created.id}`);
    const createdAt = Date.parse(created.createdAt);
    const lastByteMs = Math.max(...transfers.map((t) => (t.lastRequestAt ? Date.parse(t.lastRequestAt) : 0))) - createdAt;
    const perDevice = new Map<string, { first: number; last: number }>();
    for (const t of transfers) {
      const d = perDevice.get(t.endpoint) ?? { first: Infinity, last: 0 };
      d.first = Math.min(d.first, Date.parse(t.createdAt));
      d.last = Math.max(d.last, t.lastRequestAt ? Date.parse(t.lastRequestAt) : 0);
      perDevice.set(t.endpoint, d);
    }
    const medianDownloadMs = median([...perDevice.values()].map((d) => d.last - d.first));
    const since = (iso: string | null) => (iso ? Date.parse(iso) - createdAt : null);
    const timeline = rolloutDevices.map((d) => ({
      endpoint: d.endpoint,
      startedMs: since(d.startedAt),
      lastByteMs: perDevice.has(d.endpoint) ? perDevice.get(d.endpoint)!.last - createdAt : null,
      finishedMs: since(d.finishedAt),
      transfers: transfers.filter((t) => t.endpoint === d.endpoint).length,
    }));

    await fleet.stop();
    fleet = undefined;
    rmSync(fleetDir, { recursive: true, force: true });

    let floor: Floor | undefined;
    if (delivery !== 'push') {
      // One transfer per device (its latest), fetched again by the floor tool.
      const latest = new Map<string, TransferView>();
      for (const t of transfers) latest.set(t.endpoint, t);
      const file = `bench-2.0.0.bin`;
      const targets = [...latest.values()].map((t) => ({ transfer: t.id, url: delivery === 'http' ? `${base}/fw/${t.id}/${file}` : `coap://127.0.0.1:${coapPort}/fw/${t.id}/${file}` }));
      const servedBefore = transfers.reduce((n, t) => n + t.bytesServed, 0);
      await sleep(1000);
      say(`${delivery}: floor, ${targets.length} fetches ${concurrency} at a time`);
      const server = new ProcSampler(gateway.pid!);
      const floorStarted = performance.now();
      let outcome = { completed: targets.length, stalled: 0, endMs: 0 };
      if (delivery === 'http') await curlFloor(targets.map((t) => t.url), concurrency, dir);
      else outcome = await coapClientFloor(targets, concurrency, () => allItems<TransferView>(base, `/api/v1/transfers?rollout=${created.id}`));
      const floorMs = outcome.endMs || performance.now() - floorStarted;
      const serverUsage = server.stop();
      await sleep(500); // HTTP byte counters are written when each response closes
      const after = await allItems<TransferView>(base, `/api/v1/transfers?rollout=${created.id}`);
      const bytes = after.reduce((n, t) => n + t.bytesServed, 0) - servedBefore;
      floor = {
        tool: delivery === 'http' ? 'curl --parallel' : 'coap-client-notls -b 1024',
        wallMs: floorMs,
        bytes,
        server: serverUsage,
        client: undefined,
        completed: outcome.completed,
        stalled: outcome.stalled,
      };
    }

    return {
      delivery,
      devices,
      concurrency,
      imageBytes,
      wallMs,
      finished,
      state: view.state,
      succeeded: rolloutDevices.filter((d) => d.state === 'succeeded').length,
      updated: rolloutDevices.filter((d) => d.state === 'succeeded').length + updatedAnyway,
      notSucceeded,
      bytesServed: view.bytesServed,
      transfers: transfers.length,
      gateway: gatewayRollout,
      fleet: { ...fleetRollout, processes: fleetProcs },
      registerMs,
      lastByteMs,
      medianDownloadMs,
      fleetLoopDelayMs,
      timeline,
      floor,
    };
  } finally {
    await fleet?.stop().catch(() => undefined);
    forgetLogin(base);
    gateway.kill('SIGTERM');
    if (gateway.exitCode === null) await onceEvent(gateway, 'exit');
    rmSync(dir, { recursive: true, force: true, maxRetries: 5 });
    rmSync(fleetDir, { recursive: true, force: true, maxRetries: 5 });
    tempDirs.delete(dir);
    tempDirs.delete(fleetDir);
  }
}

// ---- floors --------------------------------------------------------------------------------------

/** curl allows at most 300 parallel transfers per process: several processes share the concurrency. */
async function curlFloor(urls: string[], concurrency: number, dir: string): Promise<void> {
  const processes = Math.ceil(concurrency / 250);
  const groups = Array.from({ length: processes }, (_, p) => urls.filter((_, i) => i % processes === p));
  await Promise.all(
    groups.map(async (group, p) => {
      const config = join(dir, `curl-${p}.cfg`);
      writeFileSync(config, group.map((u) => `url = "${u}"\noutput = "/dev/null"\n`).join(''));
      const parallel = Math.max(1, Math.min(Math.ceil(concurrency / processes), group.length, 300));
      await run('curl', ['--silent', '--show-error', '--fail', '--parallel', '--parallel-immediate', '--parallel-max', String(parallel), '--config', config]);
    }),
  );
}

/**
 * One coap-client process per concurrent device, each fetching one URI block by block
 * (1024-byte Block2), to /dev/null.
 *
 * libcoap 4.3.1 (Debian 12's libcoap3-bin) stops asking for blocks, without exiting, in two cases:
 *   - a block that comes as a separate response (empty ACK, then the response as CON): it ACKs
 *     the response and asks for nothing more (libcoap issue #1595, fixed upstream by PR #1440).
 *     The gateway answers that way when a block takes longer than its piggyback delay (1 s in
 *     common/coap/coap-node.ts);
 *   - a Block2 GET still running ~93 s (MAX_TRANSMIT_WAIT) after it started: the client's
 *     large-body receive state times out from its start, not from its last block, and is
 *     released mid-transfer (libcoap PR #905 added the timeout, PR #1816 refreshes it per block).
 *     At the gateway's CoAP rate, 500 concurrent 4 MiB fetches need several minutes each: every
 *     client stops at ~93 s.
 * So the transfers' byte counters are watched: a client whose transfer has not moved for STALL_MS
 * is ended and counted as stalled, the floor ends at the last completion or the last progress of a
 * stalled client, and its MB/s is what the gateway served over that time (a rate, not a wall
 * time, is then what the ratio compares).
 */
const STALL_MS = 10_000;
async function coapClientFloor(
  targets: { transfer: string; url: string }[],
  concurrency: number,
  transfers: () => Promise<TransferView[]>,
): Promise<{ completed: number; stalled: number; endMs: number }> {
  const started = performance.now();
  const running = new Map<string, { child: import('node:child_process').ChildProcess; bytes: number; movedAt: number }>();
  const stalledIds = new Set<string>();
  let completed = 0;
  let endMs = 0;
  let watching = true;
  const watch = (async () => {
    while (watching) {
      await sleep(1000);
      const now = performance.now();
      for (const t of await transfers().catch(() => [] as TransferView[])) {
        const r = running.get(t.id);
        if (!r) continue;
        if (t.bytesServed !== r.bytes) {
          r.bytes = t.bytesServed;
          r.movedAt = now;
        } else if (now - r.movedAt > STALL_MS && !stalledIds.has(t.id)) {
          stalledIds.add(t.id);
          endMs = Math.max(endMs, r.movedAt - started);
          say(`coap floor: coap-client for transfer ${t.id.slice(0, 6)}… made no progress for ${STALL_MS / 1000} s (${r.bytes} bytes served): ended`);
          r.child.kill('SIGTERM');
        }
      }
    }
  })();
  await pool(targets, concurrency, async ({ transfer, url }) => {
    const child = track(spawn('coap-client-notls', ['-m', 'get', '-b', '1024', '-B', String(timeoutS), '-o', '/dev/null', url], { stdio: ['ignore', 'ignore', 'pipe'] }));
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + String(d)).slice(-500)));
    running.set(transfer, { child, bytes: -1, movedAt: performance.now() });
    const [code] = (await onceEvent(child, 'exit')) as [number | null];
    running.delete(transfer);
    if (stalledIds.has(transfer)) return;
    if (code !== 0) throw new Error(`coap-client-notls ${url} exited with ${code}: ${stderr.trim()}`);
    completed++;
    endMs = Math.max(endMs, performance.now() - started);
  });
  watching = false;
  await watch;
  return { completed, stalled: stalledIds.size, endMs };
}

/** The push peer: bare aedes + in-process pusher (bench/support/bare-pusher.ts), subscribers here. */
async function pushFloor(devices: number): Promise<Floor> {
  const broker = track(spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/bare-pusher.ts')], { stdio: ['pipe', 'pipe', 'inherit'] }));
  const lines = createInterface({ input: broker.stdout! })[Symbol.asyncIterator]();
  const clients: MqttClient[] = [];
  try {
    const port = Number((await lines.next()).value);
    const url = `mqtt://127.0.0.1:${port}`;
    let received = 0;
    await pool(
      Array.from({ length: devices }, (_, i) => i),
      100,
      async (i) => {
        const client = await connectAsync(url, { clientId: `d${i}`, reconnectPeriod: 0, keepalive: 60 });
        client.on('message', (_topic, payload) => {
          received += payload.length;
          client.publish(`push/d${i}/res`, Buffer.from([0x5f]), { qos: 1 });
        });
        await client.subscribeAsync(`push/d${i}/req`, { qos: 1 });
        clients.push(client);
      },
    );
    await sleep(1000);
    say(`push: floor, bare aedes pushing ${sizeMiB} MiB to ${devices} subscribers in ${PUSH_BLOCK / 1024} KiB blocks`);
    const server = new ProcSampler(broker.pid!);
    const self = new SelfSampler();
    const started = performance.now();
    broker.stdin!.write(`push ${devices} ${imageBytes} ${PUSH_BLOCK}\n`);
    const done = String((await lines.next()).value);
    const wallMs = performance.now() - started;
    if (!done.startsWith('done')) throw new Error(`bare pusher: ${done}`);
    return { tool: 'bare aedes + mqtt.js, QoS 1, 64 KiB blocks', wallMs, bytes: received, server: server.stop(), client: { cpuSeconds: self.stop().cpuSeconds }, completed: devices, stalled: 0 };
  } finally {
    await Promise.all(clients.map((c) => c.endAsync().catch(() => undefined)));
    broker.kill('SIGTERM');
    if (broker.exitCode === null) await onceEvent(broker, 'exit');
  }
}

// ---- main ----------------------------------------------------------------------------------------

const fmt = (n: number, digits = 1) => n.toFixed(digits);
const mib = (kib: number) => Math.round(kib / 1024);
/** MB/s of the rollout: every device's image over the wall time. */
const rolloutMBps = (r: Result) => mb(r.devices * r.imageBytes) / (r.wallMs / 1000);
/** MB/s of the floor: the bytes the server counted over the floor's time. */
const floorMBps = (r: Result) => (r.floor ? mb(r.floor.bytes) / (r.floor.wallMs / 1000) : NaN);
/** How many times the floor's throughput the rollout's is below it (= wall-time ratio when the floor moved every byte). */
const ratio = (r: Result) => floorMBps(r) / rolloutMBps(r);

function line(r: Result): string {
  const s = r.wallMs / 1000;
  const f = r.floor;
  const floor = f
    ? `floor (${f.tool}) ${fmt(f.wallMs / 1000, 2)} s, ${fmt(floorMBps(r))} MB/s${f.stalled ? ` (${f.completed} fetches completed, ${f.stalled} stalled and ended)` : ''}, ` +
      `server CPU ${fmt(f.server.cpuSeconds)} s, peak RSS ${mib(f.server.peakRssKiB)} MiB; ratio ${fmt(ratio(r), 2)}`
    : 'no floor';
  const failures = Object.entries(r.notSucceeded).map(([k, n]) => `${n}× ${k}`).join('; ');
  return (
    `${r.delivery}: ${r.succeeded}/${r.devices} succeeded (${r.state}${r.finished ? '' : ', NOT FINISHED'}) in ${fmt(s, 2)} s = ${fmt((r.updated / s) * 60, 0)} devices/min, ` +
    `${fmt(rolloutMBps(r))} MB/s; gateway CPU ${fmt(r.gateway.cpuSeconds)} s, peak RSS ${mib(r.gateway.peakRssKiB)} MiB (from ${mib(r.gateway.startRssKiB)}); ` +
    `fleet (${r.fleet.processes} process${r.fleet.processes > 1 ? 'es' : ''}) CPU ${fmt(r.fleet.cpuSeconds)} s, event-loop delay p50 ${fmt(r.fleetLoopDelayMs.p50, 0)} / p99 ${fmt(r.fleetLoopDelayMs.p99, 0)} / max ${fmt(r.fleetLoopDelayMs.max, 0)} ms; ` +
    `served ${fmt(r.bytesServed / (r.devices * r.imageBytes), 3)}× the image bytes over ${r.transfers} transfers, last byte at ${fmt(r.lastByteMs / 1000)} s, median download ${fmt(r.medianDownloadMs / 1000)} s; ${floor}` +
    (failures ? `\n    not succeeded: ${failures}` : '')
  );
}

const results: Result[] = [];
for (let i = 1; i <= runs; i++) {
  for (const delivery of deliveries) {
    const r = await rollout(delivery, i);
    if (delivery === 'push') r.floor = await pushFloor(r.devices);
    results.push(r);
    console.log(`run ${i}: ${line(r)}`);
  }
}

console.log(
  `\n${count} devices${deliveries.includes('coap') && countFor('coap') !== count ? ` (coap: ${countFor('coap')})` : ''}, ${sizeMiB} MiB image, rollout poll ${pollMs} ms, ` +
    `fleet in ${fleetProcs} process${fleetProcs > 1 ? 'es' : ''}, median over ${runs} run(s); ${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
);
console.log('');
console.log(
  '| delivery | devices updated | image | wall s | devices/min | MB/s | last byte at s | gateway CPU s | gateway peak RSS MiB | fleet CPU s | floor | floor s | floor MB/s | floor server CPU s | ratio (floor MB/s ÷ MB/s) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const delivery of deliveries) {
  const rs = results.filter((r) => r.delivery === delivery);
  const m = (f: (r: Result) => number) => median(rs.map(f));
  const devices = rs[0]!.devices;
  const clean = rs.every((r) => r.finished && r.succeeded === r.devices && (!r.floor || r.floor.stalled === 0));
  console.log(
    `| ${delivery}${clean ? '' : ' ⚠'} | ${m((r) => r.updated)}/${devices} | ${sizeMiB} MiB | ${fmt(m((r) => r.wallMs) / 1000)} | ${fmt(m((r) => (r.updated / r.wallMs) * 60_000), 0)} | ` +
      `${fmt(m(rolloutMBps))} | ${fmt(m((r) => r.lastByteMs) / 1000)} | ${fmt(m((r) => r.gateway.cpuSeconds))} | ${mib(m((r) => r.gateway.peakRssKiB))} | ${fmt(m((r) => r.fleet.cpuSeconds))} | ` +
      `${rs[0]!.floor?.tool ?? '-'} | ${fmt(m((r) => r.floor?.wallMs ?? NaN) / 1000)} | ${fmt(m(floorMBps))} | ${fmt(m((r) => r.floor?.server.cpuSeconds ?? NaN))} | ${fmt(m(ratio), 1)}× |`,
  );
}

mkdirSync(join(root, 'bench/out'), { recursive: true });
const out = join(root, 'bench/out', `firmware-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ args, count, sizeMiB, runs, pollMs, results }, null, 2));
console.log(`\nper-run figures: ${out}`);
