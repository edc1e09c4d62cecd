/**
 * Agent footprint: one agent process (`node dist/cli/main.js agent …`, the Linux host adapter,
 * DM over MQTT) against a gateway process, next to a bare `node -e "setInterval(()=>{},1000)"`
 * measured in the same run.
 *
 * Per run (default 5): a fresh state directory and identity; the bare node process starts first
 * (time from spawn to its first line of output), then the agent (time from spawn to its
 * `registered` log line: process start, module loading, bootstrap with the factory identity,
 * reconnect with the operational credential, Register). Both then idle side by side; their RSS
 * (VmRSS) is read 2 s and 30 s after the agent registered. Finally the agent is stopped and
 * started again on the same state (already bootstrapped): the warm start-to-registered time.
 *
 *   npm run bench:footprint [-- --runs 5 --idle-s 30]
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { simulatedIdentities } from '../simulators/identities.js';
import { importIdentities, sleep, startGateway, stopChild, tempDir, track } from './support/fanout-fleet.js';
import { rssKiB } from './support/proc.js';
import { benchArgs } from './support/args.js';

const args = benchArgs();
const runs = args.num('runs', 5, 'positive-integer');
const idleS = args.num('idle-s', 30);
const root = join(import.meta.dirname, '..');

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Spawns a process and resolves with the ms from spawn to the first stdout line `match` accepts. */
async function startUntil(cmd: string, argv: string[], match: (line: string) => boolean, env?: NodeJS.ProcessEnv): Promise<{ child: ChildProcess; ms: number }> {
  const t0 = performance.now();
  const child = track(spawn(cmd, argv, { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, ...env } }));
  const lines = createInterface({ input: child.stdout! });
  const ms = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${argv.join(' ')}: no matching line within 60 s`)), 60_000);
    lines.on('line', (line) => {
      if (match(line)) {
        clearTimeout(timer);
        resolve(performance.now() - t0);
      }
    });
    child.once('exit', (code) => reject(new Error(`${argv.join(' ')} exited with ${code}`)));
  });
  child.removeAllListeners('exit');
  return { child, ms };
}

const registered = (line: string) => {
  try {
    return (JSON.parse(line) as { msg?: string }).msg === 'registered';
  } catch {
    return false;
  }
};

const dir = tempDir(mkdtempSync(join(tmpdir(), 'edgedm-bench-footprint-')));
const gateway = await startGateway(join(dir, 'gw'));
const identities = simulatedIdentities({ count: runs, prefix: 'fp', fleetSecret: 'bench-footprint-secret' });
await importIdentities(gateway.api, identities);

interface Run {
  run: number;
  bareStartMs: number;
  bareRss2sMiB: number;
  bareRssIdleMiB: number;
  agentRegisteredMs: number;
  agentRss2sMiB: number;
  agentRssIdleMiB: number;
  agentWarmRegisteredMs: number;
  load1: number;
}
const results: Run[] = [];
try {
  for (let run = 1; run <= runs; run++) {
    const id = identities[run - 1]!;
    const load1 = loadavg()[0]!;
    const bare = await startUntil(process.execPath, ['-e', "process.stdout.write('up\\n'); setInterval(() => {}, 1000)"], (l) => l === 'up');
    const agentArgs = [
      '--enable-source-maps',
      join(root, 'dist/cli/main.js'),
      'agent',
      '--endpoint',
      id.endpoint,
      '--server',
      `mqtt://127.0.0.1:${gateway.mqttPort}`,
      '--state',
      join(dir, `agent-${run}`),
      '--log-level',
      'info',
    ];
    const env = { EDGEDM_FACTORY_SECRET: id.secret };
    const agent = await startUntil(process.execPath, agentArgs, registered, env);
    await sleep(2000);
    const bareRss2s = rssKiB(bare.child.pid!);
    const agentRss2s = rssKiB(agent.child.pid!);
    await sleep(Math.max(0, idleS - 2) * 1000);
    const bareRssIdle = rssKiB(bare.child.pid!);
    const agentRssIdle = rssKiB(agent.child.pid!);
    await stopChild(bare.child);
    await stopChild(agent.child);
    const warm = await startUntil(process.execPath, agentArgs, registered, env);
    await stopChild(warm.child);
    const r: Run = {
      run,
      bareStartMs: bare.ms,
      bareRss2sMiB: bareRss2s / 1024,
      bareRssIdleMiB: bareRssIdle / 1024,
      agentRegisteredMs: agent.ms,
      agentRss2sMiB: agentRss2s / 1024,
      agentRssIdleMiB: agentRssIdle / 1024,
      agentWarmRegisteredMs: warm.ms,
      load1,
    };
    results.push(r);
    console.log(
      `run ${run}: bare node up in ${r.bareStartMs.toFixed(0)} ms, RSS ${r.bareRss2sMiB.toFixed(1)} / ${r.bareRssIdleMiB.toFixed(1)} MiB (2 s / ${idleS} s); ` +
        `agent registered in ${r.agentRegisteredMs.toFixed(0)} ms (first boot, bootstrap included; warm restart ${r.agentWarmRegisteredMs.toFixed(0)} ms), ` +
        `RSS ${r.agentRss2sMiB.toFixed(1)} / ${r.agentRssIdleMiB.toFixed(1)} MiB; load ${load1.toFixed(2)}`,
    );
  }
} finally {
  await gateway.stop();
  rmSync(dir, { recursive: true, force: true });
}

const m = (f: (r: Run) => number) => median(results.map(f));
console.log(`\nmedians of ${runs} runs (ratio = agent ÷ bare node, median of per-run ratios):`);
console.log(`| process | start → ready ms | RSS 2 s after MiB | RSS after ${idleS} s idle MiB |`);
console.log('|---|---:|---:|---:|');
console.log(`| bare \`node -e "setInterval(()=>{},1000)"\` | ${m((r) => r.bareStartMs).toFixed(0)} (first output) | ${m((r) => r.bareRss2sMiB).toFixed(1)} | ${m((r) => r.bareRssIdleMiB).toFixed(1)} |`);
console.log(
  `| agent, first boot (bootstrap + register) | ${m((r) => r.agentRegisteredMs).toFixed(0)} (registered) | ${m((r) => r.agentRss2sMiB).toFixed(1)} | ${m((r) => r.agentRssIdleMiB).toFixed(1)} |`,
);
console.log(`| agent, warm restart (register) | ${m((r) => r.agentWarmRegisteredMs).toFixed(0)} (registered) | | |`);
console.log(
  `| ratio agent ÷ bare | ×${m((r) => r.agentRegisteredMs / r.bareStartMs).toFixed(1)} (warm ×${m((r) => r.agentWarmRegisteredMs / r.bareStartMs).toFixed(1)}) | ` +
    `×${m((r) => r.agentRss2sMiB / r.bareRss2sMiB).toFixed(2)} | ×${m((r) => r.agentRssIdleMiB / r.bareRssIdleMiB).toFixed(2)} |`,
);
console.log(
  `agent − bare RSS after idle: ${m((r) => r.agentRssIdleMiB - r.bareRssIdleMiB).toFixed(1)} MiB; load average (1 min) at each run: ${results.map((r) => r.load1.toFixed(2)).join(', ')}; ` +
    `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`,
);
mkdirSync(join(root, 'bench/out'), { recursive: true });
const file = join(root, 'bench/out', `footprint-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(file, JSON.stringify({ args, results }, null, 2));
console.log(`raw results: ${file}`);
process.exit(0);
