/**
 * Thundering herd: N simulated MQTT devices (`edgedm sim --workers W` from the built dist/, the
 * real agent on simulated hardware, reconnect backoff 0.5–30 s with jitter) online on a gateway
 * in its own process (dist/, `mqtt.maxConnectsPerSecond` = --rate); the gateway is killed
 * (SIGKILL by default, as a crash or power cut) and started again at once on the same data
 * directory and ports; every device reconnects. Measured from the new gateway's spawn: time
 * until /healthz shows all N online, time until it answers at all, the peak rate of accepted
 * CONNECTs over any 1 s (from /healthz `mqtt.connectsAdmitted`, sampled every 100 ms), the peak
 * rate of devices coming online, CONNECTs refused with CONNACK 3, and the gateway's peak RSS and
 * CPU over the herd; then the time and CPU until the gateway is idle again (the set-up after
 * each registration outlasts the herd). The fleet runs with `--no-drift`: values that wander
 * would add a stream of notifications to what is measured.
 *
 * The peers, in the same run: N plain mqtt.js clients (on each connection SUBSCRIBE + one QoS 1
 * PUBLISH, the bare MQTT part of a registration) in W processes against a bare aedes in its own
 * process (no authentication, ACL, registry or rate limit), killed and restarted the same way;
 * once with mqtt.js' reconnect as shipped (every 1 s, no jitter: `mqttjs`), once with the
 * agent's backoff (0.5–30 s, full jitter: `agent`), so the second differs from edgedm only on
 * the broker side. Ratio = edgedm ÷ peer time to all online.
 *
 *   npm run build && node --import tsx bench/herd.ts [--count 10000] [--runs 3] [--workers 4]
 *     [--rate 500] [--ramp 1000] [--signal SIGKILL] [--no-peer] [--timeout-s 900] [--settle-s 300] [--fleet-dir /dev/shm]
 */
import type { ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../test/support/ports.js';
import { health, loadAverage, median, peakRate, sleep, spawnRaised, stopChild, waitForLine } from './support/herd-process.js';
import { cpuSeconds, ProcSampler } from './support/proc.js';
import { benchArgs } from './support/args.js';
import { cliAuthEnv, forgetLogin, gatewayAuthEnv } from './support/bench-auth.js';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback);
const count = num('count', 10_000);
const runs = num('runs', 3);
const workers = num('workers', Math.max(1, Math.ceil(count / 2500)));
const rate = num('rate', 500);
const ramp = num('ramp', 1000);
const killSignal = (flag('signal') ?? 'SIGKILL') as NodeJS.Signals;
const peerPolicies = args.has('no-peer') ? [] : (flag('peers') ?? 'mqttjs,agent').split(',');
const timeoutMs = num('timeout-s', 900) * 1000;
/** How long to wait at most, once every device is back, for the gateway to go idle. */
const settleMs = num('settle-s', 300) * 1000;
/** The devices' state directories: tmpfs by default, as 10,000 real devices each have their own flash. */
const fleetDir = flag('fleet-dir') ?? '/dev/shm';
const root = join(import.meta.dirname, '..');
const cli = join(root, 'dist/cli/main.js');

const loads: number[] = [];
const loadTimer = setInterval(() => loads.push(loadAverage()), 5000);
loads.push(loadAverage());

interface HerdResult {
  /** From the new process's spawn until every device is online. */
  allOnlineMs: number;
  /** From the kill until every device is online. */
  fromKillMs: number;
  /** From the spawn until the gateway (broker) answers. */
  upMs: number;
  peakConnectsPerS: number;
  peakOnlinePerS: number;
  connectsAdmitted: number;
  refused: number;
  peakRssMiB: number;
  steadyRssMiB: number;
  cpuSeconds: number;
  /**
   * From the spawn until the gateway is idle again (under 5 % of a core over 2 s): the work that
   * follows each registration (the Device object read, the monitoring observations, set up 20
   * devices at a time) goes on after the last device is back online.
   */
  settledMs: number;
  /** Gateway CPU from the spawn until settled. */
  settledCpuSeconds: number;
  /** Before the kill: from all online at first until the first gateway was idle (its set-up of the fleet done). */
  firstSetUpMs: number;
  initialOnlineMs: number;
  /** The gateway's warnings and errors over the whole run, by message. */
  gatewayLog?: Record<string, number>;
}

let logSummary: Record<string, number> = {};

/** Counts of the gateway's log lines by message (warn and above: it runs at --log-level warn). */
function summariseLog(file: string): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    let msg = line.slice(0, 80);
    try {
      msg = (JSON.parse(line) as { msg?: string }).msg ?? msg;
    } catch {
      /* not a JSON line (a crash trace) */
    }
    if (msg) counts[msg] = (counts[msg] ?? 0) + 1;
  }
  return counts;
}

async function edgedmRun(run: number): Promise<HerdResult> {
  const dir = mkdtempSync(join(tmpdir(), 'edgedm-herd-'));
  const devicesDir = mkdtempSync(join(fleetDir, 'edgedm-herd-fleet-'));
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const api = `http://127.0.0.1:${apiPort}`;
  const logFd = openSync(join(dir, 'gateway.log'), 'a');
  const startGateway = () =>
    spawnRaised(process.execPath, [cli, 'gateway', '--data', join(dir, 'gw'), '--mqtt-port', String(mqttPort), '--api-port', String(apiPort), '--no-coap', '--log-level', 'warn'], {
      stdio: ['ignore', logFd, logFd],
      env: { ...process.env, ...gatewayAuthEnv(), EDGEDM_MQTT_MAX_CONNECTS_PER_SECOND: String(rate), EDGEDM_LWM2M_ENABLED: 'false' },
    });
  let gateway: ChildProcess | undefined = startGateway();
  let sim: ChildProcess | undefined;
  try {
    await until('the gateway answers', async () => (await health(api)) !== undefined, 60_000);
    // `edgedm sim` imports its identities through the API: the bench admin's token (the login, before anything is timed).
    const simEnv = { ...process.env, ...(await cliAuthEnv(api)) };
    const began = Date.now();
    sim = spawnRaised(process.execPath, [cli, '--api', api, 'sim', '--count', String(count), '--workers', String(workers), '--prefix', `h${run}`, '--server', `mqtt://127.0.0.1:${mqttPort}`, '--state', devicesDir, '--ramp', String(ramp), '--keepalive', '120', '--no-drift', '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', logFd],
      env: simEnv,
    });
    await waitForLine(sim, new RegExp(`all ${count} devices registered`), timeoutMs);
    await until(`${count} online`, async () => (await health(api))?.devices.online === count, timeoutMs);
    const initialOnlineMs = Date.now() - began;
    // Settled: the Device object reads and monitoring observations of the first registrations are
    // done (otherwise the restarted gateway finishes the first gateway's set-up, not its own).
    await sleep(3000);
    const firstSettled = await untilIdle(gateway.pid!, Date.now(), settleMs);
    const steadyRssMiB = rssMiB(gateway.pid!);

    const killed = Date.now();
    await stopChild(gateway, killSignal);
    gateway = startGateway();
    const spawned = Date.now();
    const usage = new ProcSampler(gateway.pid!, 100);
    const admitted: { t: number; value: number }[] = [];
    const online: { t: number; value: number }[] = [];
    let upMs = 0;
    let last: Awaited<ReturnType<typeof health>>;
    const deadline = spawned + timeoutMs;
    for (;;) {
      last = await health(api);
      const t = Date.now();
      if (last?.mqtt) {
        upMs ||= t - spawned;
        admitted.push({ t, value: last.mqtt.connectsAdmitted });
        online.push({ t, value: last.devices.online ?? 0 });
        if ((last.devices.online ?? 0) === count) break;
      }
      if (t > deadline) throw new Error(`only ${last?.devices.online ?? 0} of ${count} online ${timeoutMs} ms after the restart`);
      await sleep(100);
    }
    const allOnline = Date.now();
    const used = usage.stop();
    const settled = await untilIdle(gateway.pid!, spawned, settleMs);
    return {
      firstSetUpMs: firstSettled.ms + 3000,
      allOnlineMs: allOnline - spawned,
      fromKillMs: allOnline - killed,
      upMs,
      peakConnectsPerS: peakRate(admitted),
      peakOnlinePerS: peakRate(online),
      connectsAdmitted: last!.mqtt!.connectsAdmitted,
      refused: last!.mqtt!.connectsRefused,
      peakRssMiB: used.peakRssKiB / 1024,
      steadyRssMiB,
      cpuSeconds: used.cpuSeconds,
      settledMs: settled.ms,
      settledCpuSeconds: settled.cpuSeconds,
      initialOnlineMs,
    };
  } finally {
    forgetLogin(api);
    await stopChild(gateway, 'SIGKILL');
    await stopChild(sim, 'SIGTERM');
    closeSync(logFd);
    logSummary = summariseLog(join(dir, 'gateway.log'));
    rmSync(dir, { recursive: true, force: true });
    rmSync(devicesDir, { recursive: true, force: true });
  }
}

interface PeerResult {
  allOnlineMs: number;
  upMs: number;
  peakConnectsPerS: number;
  peakRssMiB: number;
  cpuSeconds: number;
}

async function peerRun(run: number, policy: string): Promise<PeerResult> {
  const port = await freePort();
  const startBroker = () => spawnRaised(process.execPath, ['--import', 'tsx', join(root, 'bench/support/herd-bare-broker.ts'), String(port)], { stdio: ['ignore', 'pipe', 'inherit'] });
  let broker: ChildProcess | undefined = startBroker();
  const children: ChildProcess[] = [];
  const reports = new Map<number, { online: number; connects: number }>();
  const total = () => [...reports.values()].reduce((s, r) => ({ online: s.online + r.online, connects: s.connects + r.connects }), { online: 0, connects: 0 });
  try {
    await waitForLine(broker, /listening/, 30_000);
    const per = Math.ceil(count / workers);
    for (let w = 0; w < workers; w++) {
      const child = spawnRaised(process.execPath, ['--import', 'tsx', join(root, 'bench/support/herd-peer-clients.ts'), `mqtt://127.0.0.1:${port}`, `p${run}`, String(w * per), String(Math.min(count, (w + 1) * per)), policy], {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      });
      child.on('message', (m: { online: number; connects: number }) => reports.set(w, m));
      children.push(child);
    }
    await until(`${count} peer clients online`, () => total().online === count, timeoutMs);
    await sleep(3000);
    await stopChild(broker, killSignal);
    await until('the peer clients to notice', () => total().online === 0, 60_000);
    const before = total().connects;
    broker = startBroker();
    const spawned = Date.now();
    const usage = new ProcSampler(broker.pid!, 100);
    await waitForLine(broker, /listening/, 30_000);
    const upMs = Date.now() - spawned;
    const connects: { t: number; value: number }[] = [];
    const deadline = spawned + timeoutMs;
    while (total().online < count) {
      connects.push({ t: Date.now(), value: total().connects - before });
      if (Date.now() > deadline) throw new Error(`only ${total().online} of ${count} peer clients back`);
      await sleep(100);
    }
    const allOnlineMs = Date.now() - spawned;
    connects.push({ t: Date.now(), value: total().connects - before });
    const used = usage.stop();
    return { allOnlineMs, upMs, peakConnectsPerS: peakRate(connects), peakRssMiB: used.peakRssKiB / 1024, cpuSeconds: used.cpuSeconds };
  } finally {
    await Promise.all(children.map((c) => stopChild(c, 'SIGTERM')));
    await stopChild(broker, 'SIGTERM');
  }
}

/** Waits until the process used under 5 % of a core over the last 2 s (at most `maxMs`); its CPU since the spawn. */
async function untilIdle(pid: number, spawned: number, maxMs: number): Promise<{ ms: number; cpuSeconds: number }> {
  const samples: { t: number; cpu: number }[] = [];
  const deadline = Date.now() + maxMs;
  for (;;) {
    const t = Date.now();
    samples.push({ t, cpu: cpuSeconds(pid) });
    const ago = samples.find((s) => s.t >= t - 2000 - 50);
    if (ago && t - ago.t >= 1900 && samples.at(-1)!.cpu - ago.cpu < 0.05 * ((t - ago.t) / 1000)) return { ms: ago.t - spawned, cpuSeconds: ago.cpu };
    if (t > deadline) return { ms: t - spawned, cpuSeconds: samples.at(-1)!.cpu };
    await sleep(250);
  }
}

async function until(what: string, check: () => boolean | Promise<boolean>, ms: number): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

function rssMiB(pid: number): number {
  return Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;
}

const s = (ms: number) => (ms / 1000).toFixed(1);
console.log(
  `thundering herd: ${count} MQTT devices in ${workers} sim workers, gateway maxConnectsPerSecond ${rate}, restart by ${killSignal}; ${runs} run(s); ` +
    `${cpus().length} CPUs, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load ${loadAverage()}`,
);
const results: { edgedm: HerdResult; peers: Record<string, PeerResult>; load: number }[] = [];
for (let run = 1; run <= runs; run++) {
  const peers: Record<string, PeerResult> = {};
  for (const policy of peerPolicies) peers[policy] = await peerRun(run, policy);
  const edgedm = { ...(await edgedmRun(run)), gatewayLog: logSummary };
  const load = loadAverage();
  results.push({ edgedm, peers, load });
  const e = edgedm;
  console.log(
    `run ${run}: all ${count} back online ${s(e.allOnlineMs)} s after the restart (${s(e.fromKillMs)} s after the kill; gateway up in ${s(e.upMs)} s), ` +
      `peak ${Math.round(e.peakConnectsPerS)} CONNECTs/s accepted, ${Math.round(e.peakOnlinePerS)} devices/s online, ${e.refused} refused (CONNACK 3) of ${e.connectsAdmitted + e.refused}, ` +
      `gateway RSS ${Math.round(e.steadyRssMiB)} MiB steady → peak ${Math.round(e.peakRssMiB)} MiB, CPU ${e.cpuSeconds.toFixed(1)} s; ` +
      `idle again ${s(e.settledMs)} s after the restart, CPU until then ${e.settledCpuSeconds.toFixed(1)} s; ` +
      `first bootstrap of the fleet ${s(e.initialOnlineMs)} s, its set-up done ${s(e.firstSetUpMs)} s later` +
      Object.entries(peers)
        .map(([policy, peer]) => `; peer ${policy} (bare aedes + mqtt.js) ${s(peer.allOnlineMs)} s, peak ${Math.round(peer.peakConnectsPerS)} CONNACKs/s, RSS ${Math.round(peer.peakRssMiB)} MiB, ratio ${(e.allOnlineMs / peer.allOnlineMs).toFixed(2)}`)
        .join('') +
      `; load ${load}`,
  );
  console.log(`  gateway log (warn+): ${JSON.stringify(edgedm.gatewayLog)}`);
}
clearInterval(loadTimer);
const m = (f: (r: (typeof results)[number]) => number) => median(results.map(f));
console.log(
  `median of ${runs}: ${count} devices back online in ${s(m((r) => r.edgedm.allOnlineMs))} s, peak ${Math.round(m((r) => r.edgedm.peakConnectsPerS))} CONNECTs/s accepted, ` +
    `${Math.round(m((r) => r.edgedm.refused))} refused, gateway peak RSS ${Math.round(m((r) => r.edgedm.peakRssMiB))} MiB` +
    peerPolicies.map((p) => `; peer ${p} ${s(m((r) => r.peers[p]!.allOnlineMs))} s (peak ${Math.round(m((r) => r.peers[p]!.peakConnectsPerS))}/s), ratio ${m((r) => r.edgedm.allOnlineMs / r.peers[p]!.allOnlineMs).toFixed(2)}`).join('') +
    `; load average (1 min) over the bench ${Math.min(...loads)}–${Math.max(...loads)}, median ${median(loads)}`,
);
mkdirSync(join(root, 'bench/out'), { recursive: true });
const out = join(root, 'bench/out', `herd-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ args, count, workers, rate, ramp, killSignal, results, loads }, null, 2));
console.log(`results in ${out}`);
