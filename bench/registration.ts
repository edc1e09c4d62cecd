/**
 * Bootstrap + registration of N simulated devices against a gateway running in its own process
 * (built dist/, as users run it). Reports the median of several runs: time until every agent is
 * registered, time until the gateway's registry shows them all online, and the gateway's RSS.
 *
 *   npm run build && node --import tsx bench/registration.ts [--count 1000] [--runs 3]
 */
import { spawn } from 'node:child_process';
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
    await fleet.stop();
    return { agentsRegistered, allOnline, rssBefore, rssAfter };
  } finally {
    gateway.kill('SIGTERM');
    await new Promise((r) => gateway.once('exit', r));
    rmSync(dir, { recursive: true, force: true });
  }
}

const results = [];
for (let run = 1; run <= runs; run++) {
  const r = await once(run);
  results.push(r);
  console.log(`run ${run}: all ${count} registered (agent side) in ${(r.agentsRegistered / 1000).toFixed(2)} s, all online in the registry in ${(r.allOnline / 1000).toFixed(2)} s, gateway RSS ${Math.round(r.rssBefore / 1024)} → ${Math.round(r.rssAfter / 1024)} MiB`);
}
const m = median(results.map((r) => r.allOnline));
const rss = median(results.map((r) => r.rssAfter - r.rssBefore));
console.log(
  `median over ${runs} runs: ${count} devices bootstrapped and online in ${(m / 1000).toFixed(2)} s (${Math.round(count / (m / 1000))} devices/s); gateway RSS growth ${Math.round(rss / 1024)} MiB (${(rss / count).toFixed(1)} KiB per device)`,
);
