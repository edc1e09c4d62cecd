/**
 * Process plumbing for bench/herd.ts: children started with their soft open-file limit raised
 * to the hard one (10,000 connections need more than the usual 1,024), lines awaited on a
 * child's stdout, /healthz polled, the load average sampled.
 */
import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { readFileSync } from 'node:fs';

const RAISE_AND_EXEC = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$0" "$@"';

/** `command args…` through `sh -c 'ulimit -n $(ulimit -Hn); exec …'`: the child's pid is the command's. */
export function spawnRaised(command: string, args: string[], options: SpawnOptions): ChildProcess {
  return spawn('/bin/sh', ['-c', RAISE_AND_EXEC, command, ...args], options);
}

export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once('exit', () => resolve()));
}

/** Kills a child and waits for it to be gone. */
export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM', graceMs = 60_000): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Resolves when the child's stdout has printed a line matching `pattern`. */
export function waitForLine(child: ChildProcess, pattern: RegExp, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const timer = setTimeout(() => done(new Error(`no line matching ${pattern} within ${timeoutMs} ms; last output: ${buffered.slice(-500)}`)), timeoutMs);
    const onData = (chunk: Buffer) => {
      buffered = (buffered + String(chunk)).slice(-8192);
      const line = buffered.split('\n').find((l) => pattern.test(l));
      if (line) done(undefined, line);
    };
    const onExit = () => done(new Error(`exited before printing ${pattern}; last output: ${buffered.slice(-500)}`));
    function done(err?: Error, line?: string) {
      clearTimeout(timer);
      child.stdout!.off('data', onData);
      child.off('exit', onExit);
      if (err) reject(err);
      else resolve(line!);
    }
    child.stdout!.on('data', onData);
    child.once('exit', onExit);
  });
}

export interface Health {
  devices: Record<string, number>;
  mqtt?: { connections: number; connectsAdmitted: number; connectsRefused: number };
}

/** /healthz, or undefined while the gateway does not answer. */
export async function health(api: string): Promise<Health | undefined> {
  try {
    const response = await fetch(`${api}/healthz`, { signal: AbortSignal.timeout(5000) });
    return response.ok ? ((await response.json()) as Health) : undefined;
  } catch {
    return undefined;
  }
}

/** The 1-minute load average. */
export function loadAverage(): number {
  return Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0]);
}

/** Largest increase of a cumulative counter over any `windowMs` span of its samples. */
export function peakRate(samples: { t: number; value: number }[], windowMs = 1000): number {
  let peak = 0;
  let start = 0;
  for (let end = 0; end < samples.length; end++) {
    while (samples[end]!.t - samples[start]!.t > windowMs) start++;
    peak = Math.max(peak, ((samples[end]!.value - samples[start]!.value) * 1000) / windowMs);
  }
  return peak;
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
