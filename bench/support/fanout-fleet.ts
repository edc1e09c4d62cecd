/**
 * What bench/registration.ts and bench/fanout.ts share: a gateway in its own process (built
 * dist/, as users run it), a simulated fleet split over child processes
 * (bench/support/fleet-child.ts), and waiting for the gateway's registry to show them online.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { formatFactoryCsv } from '../../gateway/fleet/factory-import.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { freePort } from '../../test/support/ports.js';
import { apiFetch, apiJson, forgetLogin, gatewayAuthEnv, login } from './bench-auth.js';

const root = join(import.meta.dirname, '../..');

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));

export function track<T extends ChildProcess>(c: T): T {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

/** A directory removed however the bench ends. */
export function tempDir(dir: string): string {
  dirs.add(dir);
  return dir;
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function stopChild(child: ChildProcess, graceMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await once(child, 'exit');
  clearTimeout(timer);
}

/** A JSON call to the gateway's API, authenticated as the bench admin on `/api/` paths (bench/support/bench-auth.ts). */
export const api = apiJson;

export interface GatewayProcess {
  child: ChildProcess;
  pid: number;
  api: string;
  mqttPort: number;
  stop(): Promise<void>;
}

export async function startGateway(dataDir: string, opts: { logLevel?: string; env?: Record<string, string>; nodeArgs?: string[] } = {}): Promise<GatewayProcess> {
  const [mqttPort, apiPort, coapPort] = [await freePort(), await freePort(), await freePort()];
  const child = track(
    spawn(
      process.execPath,
      [
        ...(opts.nodeArgs ?? []),
        join(root, 'dist/cli/main.js'),
        'gateway',
        '--data',
        dataDir,
        '--mqtt-port',
        String(mqttPort),
        '--api-port',
        String(apiPort),
        '--log-level',
        opts.logLevel ?? 'warn',
      ],
      { stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, ...gatewayAuthEnv(), EDGEDM_COAP_PORT: String(coapPort), ...opts.env } },
    ),
  );
  const base = `http://127.0.0.1:${apiPort}`;
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(`${base}/healthz`)).ok) break;
    } catch {
      /* not up yet */
    }
    if (child.exitCode !== null) throw new Error(`the gateway exited with ${child.exitCode}`);
    if (i > 600) throw new Error('the gateway did not come up');
    await sleep(50);
  }
  await login(base); // once, here: never inside a timed section
  return {
    child,
    pid: child.pid!,
    api: base,
    mqttPort,
    stop: async () => {
      forgetLogin(base);
      await stopChild(child, 10_000);
    },
  };
}

export async function importIdentities(base: string, identities: SimulatedIdentity[]): Promise<void> {
  const res = await apiFetch(base, '/api/v1/devices/import', { method: 'POST', headers: { 'content-type': 'text/csv' }, body: formatFactoryCsv(identities) });
  if (!res.ok) throw new Error(`import failed: HTTP ${res.status} ${await res.text()}`);
}

export interface Health {
  devices: Record<string, number>;
  mqtt?: { connections: number; connectsAdmitted: number; connectsRefused: number };
}

export const health = (base: string) => api<Health>(base, 'GET', '/healthz');

export interface FleetProcesses {
  pids: number[];
  /** ms (performance.now()) at which each process reported its whole slice registered, or null. */
  registeredAt: (number | null)[];
  /** Resolves when every process has reported `registered` (rejects if one exits first). */
  allRegistered: Promise<void>;
  stop(): Promise<void>;
}

/**
 * The fleet split over `procs` child processes (bench/support/fleet-child.ts), all devices
 * started at once (ramp 100,000/s). Returns at once; `allRegistered` follows the children.
 */
export function startFleetProcesses(identities: SimulatedIdentity[], server: string, stateDir: string, procs: number, logLevel = 'silent'): FleetProcesses {
  const file = join(stateDir, 'identities.json');
  writeFileSync(file, JSON.stringify(identities), { mode: 0o600 });
  const per = Math.ceil(identities.length / procs);
  const registeredAt: (number | null)[] = Array.from({ length: procs }, () => null);
  const kids = Array.from({ length: procs }, (_, k) =>
    track(
      spawn(
        process.execPath,
        ['--import', 'tsx', join(root, 'bench/support/fleet-child.ts'), file, String(k * per), String(Math.min(identities.length, (k + 1) * per)), server, stateDir],
        { stdio: ['pipe', 'pipe', 'inherit'], env: { ...process.env, BENCH_FLEET_LOG_LEVEL: logLevel } },
      ),
    ),
  );
  const allRegistered = Promise.all(
    kids.map(
      (child, k) =>
        new Promise<void>((resolve, reject) => {
          const lines = createInterface({ input: child.stdout! });
          lines.on('line', (line) => {
            if (line.trim() === 'registered') {
              registeredAt[k] = performance.now();
              resolve();
            }
          });
          child.once('exit', (code, signal) => reject(new Error(`fleet process ${k} exited (${code ?? signal}) before its devices registered`)));
        }),
    ),
  ).then(() => undefined);
  allRegistered.catch(() => {}); // observed by whoever awaits it
  return {
    pids: kids.map((c) => c.pid!),
    registeredAt,
    allRegistered,
    stop: async () => {
      await Promise.all(kids.map((c) => stopChild(c, 30_000)));
    },
  };
}

/**
 * Polls the gateway's /healthz until `count` devices are online or the deadline passes.
 * Returns when that happened (ms since `since`), or null, and the last count online.
 */
export async function waitOnline(base: string, count: number, since: number, timeoutMs: number, pollMs = 250): Promise<{ allOnlineMs: number | null; online: number; last: Health }> {
  let last: Health = { devices: {} };
  for (;;) {
    try {
      last = await health(base);
    } catch {
      /* a slow answer under load: ask again */
    }
    const online = last.devices.online ?? 0;
    const now = performance.now();
    if (online >= count) return { allOnlineMs: now - since, online, last };
    if (now - since > timeoutMs) return { allOnlineMs: null, online, last };
    await sleep(pollMs);
  }
}
