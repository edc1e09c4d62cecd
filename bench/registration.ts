/**
 * Bootstrap + registration of N simulated devices against a gateway running in its own process
 * (built dist/, as users run it). Reports the median of several runs: time until every agent is
 * registered, time until the gateway's registry shows them all online, and the gateway's RSS.
 *
 * The peer, measured in the same run: the same number of plain mqtt.js clients doing the bare
 * MQTT part of that work (connect, subscribe, one QoS 1 round trip, disconnect, connect again,
 * subscribe, one QoS 1 publish) against a bare aedes broker in its own process. The ratio is what
 * bootstrap, authentication, ACLs, the registry and the agent's object tree cost on top of MQTT.
 *
 *   npm run build && node --import tsx bench/registration.ts [--count 1000] [--runs 3]
 */
import { spawn } from 'node:child_process';
import { once as onceEvent } from 'node:events';
import { connectAsync } from 'mqtt';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../common/logger.js';
import { SimulatedFleet } from '../simulators/fleet.js';
import { simulatedIdentities } from '../simulators/identities.js';
import { formatFactoryCsv } from '../gateway/fleet/factory-import.js';
import { freePort } from '../test/support/ports.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};
const count = flag('count', 1000);
const runs = flag('runs', 3);
const root = join(import.meta.dirname, '..');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** User + system CPU seconds a process has used so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
}

async function waitForHttp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      /* not up yet */
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`${url} did not come up`);
}

async function once(run: number) {
  const dir = mkdtempSync(join(tmpdir(), 'edgedm-bench-'));
  const [mqttPort, apiPort] = [await freePort(), await freePort()];
  const gateway = spawn(
    process.execPath,
    [join(root, 'dist/cli/main.js'), 'gateway', '--data', join(dir, 'gw'), '--mqtt-port', String(mqttPort), '--api-port', String(apiPort), '--log-level', 'warn'],
    { stdio: ['ignore', 'inherit', 'inherit'] },
  );
  const api = `http://127.0.0.1:${apiPort}`;
  try {
    await waitForHttp(`${api}/healthz`);
    const identities = simulatedIdentities({ count, prefix: `b${run}`, fleetSecret: 'bench-fleet-secret' });
    const imported = await fetch(`${api}/api/v1/devices/import`, { method: 'POST', headers: { 'content-type': 'text/csv' }, body: formatFactoryCsv(identities) });
    if (!imported.ok) throw new Error(`import failed: ${await imported.text()}`);
    const rssBefore = rssKiB(gateway.pid!);
    const gatewayCpuBefore = cpuSeconds(gateway.pid!);
    const fleetCpuBefore = process.cpuUsage();
    const started = performance.now();
    const fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: `mqtt://127.0.0.1:${mqttPort}`,
      stateDir: join(dir, 'devices'),
      rampPerSecond: 100_000,
      log: createLogger({ level: 'silent' }),
    });
    await fleet.whenAllRegistered(300_000);
    const agentsRegistered = performance.now() - started;
    let online = 0;
    while (online < count) {
      const health = (await (await fetch(`${api}/healthz`)).json()) as { devices: { online: number } };
      online = health.devices.online;
      if (online < count) await new Promise((r) => setTimeout(r, 20));
    }
    const allOnline = performance.now() - started;
    const rssAfter = rssKiB(gateway.pid!);
    const gatewayCpu = cpuSeconds(gateway.pid!) - gatewayCpuBefore;
    const fleetUsage = process.cpuUsage(fleetCpuBefore);
    const fleetCpu = (fleetUsage.user + fleetUsage.system) / 1e6;
    await fleet.stop();
    return { agentsRegistered, allOnline, rssBefore, rssAfter, gatewayCpu, fleetCpu };
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

/** The peer: bare MQTT work of the same shape against a bare aedes in its own process. */
async function bareMqtt(run: number): Promise<number> {
  const broker = spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/bare-broker.ts')], { stdio: ['ignore', 'pipe', 'inherit'] });
  try {
    const [line] = (await onceEvent(broker.stdout!, 'data')) as [Buffer];
    const url = `mqtt://127.0.0.1:${Number(String(line).trim())}`;
    const started = performance.now();
    const clients = await Promise.all(
      Array.from({ length: count }, async (_, i) => {
        const id = `p${run}-${i}`;
        const first = await connectAsync(url, { clientId: id, reconnectPeriod: 0 });
        await first.subscribeAsync(`peer/${id}/res`, { qos: 1 });
        const echoed = new Promise((resolve) => first.once('message', resolve));
        await first.publishAsync(`peer/${id}/res`, Buffer.alloc(200), { qos: 1 });
        await echoed;
        await first.endAsync();
        const second = await connectAsync(url, { clientId: id, reconnectPeriod: 0 });
        await second.subscribeAsync(`peer/${id}/req`, { qos: 1 });
        await second.publishAsync(`peer/${id}/register`, Buffer.alloc(100), { qos: 1 });
        return second;
      }),
    );
    const elapsed = performance.now() - started;
    await Promise.all(clients.map((c) => c.endAsync()));
    return elapsed;
  } finally {
    broker.kill('SIGTERM');
    await onceEvent(broker, 'exit');
  }
}

const results = [];
for (let run = 1; run <= runs; run++) {
  const peer = await bareMqtt(run);
  const r = { ...(await once(run)), peer };
  results.push(r);
  console.log(
    `run ${run}: all ${count} registered (agent side) in ${(r.agentsRegistered / 1000).toFixed(2)} s, all online in the registry in ${(r.allOnline / 1000).toFixed(2)} s ` +
      `(bare MQTT peer ${(peer / 1000).toFixed(2)} s, ratio ${(r.allOnline / peer).toFixed(2)}), gateway RSS ${Math.round(r.rssBefore / 1024)} → ${Math.round(r.rssAfter / 1024)} MiB, ` +
      `CPU gateway ${r.gatewayCpu.toFixed(2)} s / fleet ${r.fleetCpu.toFixed(2)} s`,
  );
}
const m = median(results.map((r) => r.allOnline));
const ratio = median(results.map((r) => r.allOnline / r.peer));
const rss = median(results.map((r) => r.rssAfter - r.rssBefore));
console.log(
  `median over ${runs} runs: ${count} devices bootstrapped and online in ${(m / 1000).toFixed(2)} s (${Math.round(count / (m / 1000))} devices/s), ` +
    `${ratio.toFixed(2)}× the bare MQTT peer; gateway RSS growth ${Math.round(rss / 1024)} MiB (${(rss / count).toFixed(1)} KiB per device)`,
);
