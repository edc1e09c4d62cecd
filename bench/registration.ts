/**
 * Bootstrap + registration of N simulated devices (default 10,000) against a gateway running in
 * its own process (built dist/, as users run it), the fleet split over child processes
 * (bench/support/fleet-child.ts), every device started at once. Reports, per run and as medians:
 * time until the gateway's registry shows every device online (polling /healthz), how many came
 * online (if not all within --timeout-s), the gateway's peak RSS (VmRSS sampled every 200 ms and
 * VmHWM) and its growth per device, the gateway's CPU, the fleet's CPU, and the gateway's
 * connection counters (CONNECTs admitted and refused by its connection rate limit).
 *
 * The peer, measured in the same run: the same number of plain mqtt.js clients doing the bare
 * MQTT part of that work (connect, subscribe, one QoS 1 round trip, disconnect, connect again,
 * subscribe, one QoS 1 publish) against a bare aedes broker in its own process, the clients split
 * over the same number of processes (bench/support/fanout-peer.ts). The ratio is what bootstrap,
 * authentication, ACLs, the registry and the agent's object tree cost on top of MQTT.
 *
 *   npm run bench:registration [-- --count 10000 --runs 3 --fleet-procs 4 --timeout-s 900 --no-peer --max-connects N]
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { simulatedIdentities } from '../simulators/identities.js';
import { health, importIdentities, sleep, startFleetProcesses, startGateway, stopChild, tempDir, track, waitOnline } from './support/fanout-fleet.js';
import { ProcSampler } from './support/proc.js';
import { benchArgs } from './support/args.js';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback);
const count = num('count', 10_000);
const runs = num('runs', 3);
const fleetProcs = num('fleet-procs', 4);
const timeoutS = num('timeout-s', 900);
const withPeer = !args.has('no-peer');
/** The gateway's mqtt.maxConnectsPerSecond (default: the gateway's own default, 500; 0 = no limit). */
const maxConnects = flag('max-connects');
const fleetRoot = flag('fleet-dir') ?? (existsSync('/dev/shm') ? '/dev/shm' : tmpdir());
const root = join(import.meta.dirname, '..');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

interface GatewayRun {
  allOnlineMs: number | null;
  online: number;
  fleetRegisteredMs: number | null;
  gatewayRssBeforeMiB: number;
  gatewayPeakRssMiB: number;
  rssPerDeviceKiB: number;
  gatewayCpuS: number;
  fleetCpuS: number;
  fleetPeakRssMiB: number;
  connectsAdmitted: number | null;
  connectsRefused: number | null;
  load1: number;
}

async function gatewayRun(run: number): Promise<GatewayRun> {
  const dir = tempDir(mkdtempSync(join(tmpdir(), 'edgedm-bench-reg-')));
  const fleetDir = tempDir(mkdtempSync(join(fleetRoot, 'edgedm-bench-reg-fleet-')));
  const gateway = await startGateway(join(dir, 'gw'), maxConnects !== undefined ? { env: { EDGEDM_MQTT_MAX_CONNECTS_PER_SECOND: maxConnects } } : {});
  let fleet: ReturnType<typeof startFleetProcesses> | undefined;
  try {
    const identities = simulatedIdentities({ count, prefix: `r${run}`, fleetSecret: 'bench-fleet-secret' });
    await importIdentities(gateway.api, identities);
    await sleep(500);
    const load1 = loadavg()[0]!;
    const gw = new ProcSampler(gateway.pid);
    const started = performance.now();
    fleet = startFleetProcesses(identities, `mqtt://127.0.0.1:${gateway.mqttPort}`, fleetDir, fleetProcs);
    const fleetSamplers = fleet.pids.map((pid) => new ProcSampler(pid));
    const waited = await waitOnline(gateway.api, count, started, timeoutS * 1000);
    const gwUsage = gw.stop();
    const fleetUsage = fleetSamplers.map((s) => s.stop());
    const done = fleet.registeredAt.every((t) => t !== null) ? Math.max(...(fleet.registeredAt as number[])) - started : null;
    const last = await health(gateway.api).catch(() => waited.last);
    return {
      allOnlineMs: waited.allOnlineMs,
      online: waited.online,
      fleetRegisteredMs: done,
      gatewayRssBeforeMiB: gwUsage.startRssKiB / 1024,
      gatewayPeakRssMiB: gwUsage.peakRssKiB / 1024,
      rssPerDeviceKiB: (gwUsage.peakRssKiB - gwUsage.startRssKiB) / count,
      gatewayCpuS: gwUsage.cpuSeconds,
      fleetCpuS: fleetUsage.reduce((n, u) => n + u.cpuSeconds, 0),
      fleetPeakRssMiB: fleetUsage.reduce((n, u) => n + u.peakRssKiB, 0) / 1024,
      connectsAdmitted: last.mqtt?.connectsAdmitted ?? null,
      connectsRefused: last.mqtt?.connectsRefused ?? null,
      load1,
    };
  } finally {
    await fleet?.stop();
    await gateway.stop();
    rmSync(dir, { recursive: true, force: true });
    rmSync(fleetDir, { recursive: true, force: true });
  }
}

interface PeerRun {
  ms: number;
  brokerPeakRssMiB: number;
  brokerRssPerClientKiB: number;
  brokerCpuS: number;
}

/** The peer: bare MQTT work of the same shape against a bare aedes in its own process. */
async function peerRun(run: number): Promise<PeerRun> {
  const broker = track(spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/bare-broker.ts')], { stdio: ['ignore', 'pipe', 'inherit'] }));
  try {
    const port = Number(String((await createInterface({ input: broker.stdout! })[Symbol.asyncIterator]().next()).value).trim());
    const sampler = new ProcSampler(broker.pid!);
    const per = Math.ceil(count / fleetProcs);
    const started = performance.now();
    const kids = Array.from({ length: fleetProcs }, (_, k) =>
      track(
        spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/fanout-peer.ts'), 'register', `mqtt://127.0.0.1:${port}`, `p${run}-${k}`, String(Math.min(per, count - k * per))], {
          stdio: ['pipe', 'pipe', 'inherit'],
        }),
      ),
    );
    await Promise.all(
      kids.map(async (kid, k) => {
        for await (const line of createInterface({ input: kid.stdout! })) if (line === 'ready') return;
        throw new Error(`peer process ${k} ended before its clients were done`);
      }),
    );
    const ms = performance.now() - started;
    const usage = sampler.stop();
    await Promise.all(kids.map((k) => stopChild(k)));
    return { ms, brokerPeakRssMiB: usage.peakRssKiB / 1024, brokerRssPerClientKiB: (usage.peakRssKiB - usage.startRssKiB) / count, brokerCpuS: usage.cpuSeconds };
  } finally {
    await stopChild(broker);
  }
}

const startedAt = new Date();
const results: { run: number; gateway: GatewayRun; peer: PeerRun | null }[] = [];
for (let run = 1; run <= runs; run++) {
  const peer = withPeer ? await peerRun(run) : null;
  const g = await gatewayRun(run);
  results.push({ run, gateway: g, peer });
  const s = (ms: number | null) => (ms === null ? 'not reached' : `${(ms / 1000).toFixed(2)} s`);
  console.log(
    `run ${run}: ${g.online}/${count} online in the registry; all online after ${s(g.allOnlineMs)} (fleet processes all registered after ${s(g.fleetRegisteredMs)}); ` +
      `gateway RSS ${g.gatewayRssBeforeMiB.toFixed(0)} → peak ${g.gatewayPeakRssMiB.toFixed(0)} MiB (${g.rssPerDeviceKiB.toFixed(1)} KiB/device), CPU gateway ${g.gatewayCpuS.toFixed(1)} s / ` +
      `fleet ${g.fleetCpuS.toFixed(1)} s (${fleetProcs} procs, peak RSS ${g.fleetPeakRssMiB.toFixed(0)} MiB); CONNECTs admitted ${g.connectsAdmitted ?? '?'} refused ${g.connectsRefused ?? '?'}; load ${g.load1.toFixed(2)}` +
      (peer
        ? `\n       peer (bare aedes + mqtt.js, ${fleetProcs} procs): ${(peer.ms / 1000).toFixed(2)} s, broker peak RSS ${peer.brokerPeakRssMiB.toFixed(0)} MiB (${peer.brokerRssPerClientKiB.toFixed(1)} KiB/client), CPU ${peer.brokerCpuS.toFixed(1)} s` +
          (g.allOnlineMs !== null ? `; ratio ${(g.allOnlineMs / peer.ms).toFixed(2)}` : '')
        : ''),
  );
}

const gs = results.map((r) => r.gateway);
const complete = gs.filter((g) => g.allOnlineMs !== null);
const ratios = results.filter((r) => r.peer && r.gateway.allOnlineMs !== null).map((r) => r.gateway.allOnlineMs! / r.peer!.ms);
console.log(
  `\nmedian over ${runs} run(s), ${count} devices, fleet in ${fleetProcs} processes: all online in ${complete.length ? (median(complete.map((g) => g.allOnlineMs!)) / 1000).toFixed(2) : '—'} s ` +
    `(${complete.length}/${runs} runs got every device online within ${timeoutS} s; online at the end: ${gs.map((g) => g.online).join(', ')}), ` +
    `${complete.length ? Math.round(count / (median(complete.map((g) => g.allOnlineMs!)) / 1000)) : '—'} devices/s; gateway peak RSS ${median(gs.map((g) => g.gatewayPeakRssMiB)).toFixed(0)} MiB, ` +
    `${median(gs.map((g) => g.rssPerDeviceKiB)).toFixed(1)} KiB per device; gateway CPU ${median(gs.map((g) => g.gatewayCpuS)).toFixed(1)} s` +
    (ratios.length ? `; ${median(ratios).toFixed(2)}× the bare MQTT peer (${median(results.map((r) => r.peer!.ms)).toFixed(0)} ms; per run ${ratios.map((x) => x.toFixed(2)).join(', ')})` : ''),
);
console.log(`${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`);
mkdirSync(join(root, 'bench/out'), { recursive: true });
const file = join(root, 'bench/out', `registration-${startedAt.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ startedAt, args, count, fleetProcs, results }, null, 2));
console.log(`raw results: ${file}`);
