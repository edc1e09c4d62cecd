/**
 * What a benchmark reads of a process from /proc: CPU seconds (user + system) and resident
 * memory, sampled every 200 ms for the peak, and cross-checked with the kernel's own
 * high-water mark (VmHWM, reset at the start of the phase when the kernel allows it).
 */
import { readFileSync, writeFileSync } from 'node:fs';

/** User + system CPU seconds a process has used so far. */
export function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
}

function status(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    return Number(new RegExp(`${field}:\\s+(\\d+)`).exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return 0; // the process is gone
  }
}

export function rssKiB(pid: number): number {
  return status(pid, 'VmRSS');
}

export interface ProcUsage {
  cpuSeconds: number;
  /** Peak resident set during the phase, KiB. */
  peakRssKiB: number;
  /** Resident set when the phase started, KiB. */
  startRssKiB: number;
}

/** CPU and peak RSS of one process over one phase of a benchmark. */
export class ProcSampler {
  private readonly cpuStart: number;
  private readonly startRss: number;
  private peak: number;
  private readonly timer: NodeJS.Timeout;
  /** VmHWM counts from the start of this phase only when it could be reset. */
  private hwmReset = false;

  constructor(
    private readonly pid: number,
    intervalMs = 200,
  ) {
    try {
      writeFileSync(`/proc/${pid}/clear_refs`, '5'); // resets VmHWM to the current RSS
      this.hwmReset = true;
    } catch {
      /* not allowed here: the samples alone give the peak */
    }
    this.cpuStart = cpuSeconds(pid);
    this.startRss = rssKiB(pid);
    this.peak = this.startRss;
    this.timer = setInterval(() => {
      this.peak = Math.max(this.peak, rssKiB(pid));
    }, intervalMs);
  }

  stop(): ProcUsage {
    clearInterval(this.timer);
    const peakRssKiB = Math.max(this.peak, rssKiB(this.pid), this.hwmReset ? status(this.pid, 'VmHWM') : 0);
    return { cpuSeconds: cpuSeconds(this.pid) - this.cpuStart, peakRssKiB, startRssKiB: this.startRss };
  }
}

/** CPU seconds and peak RSS of this process over one phase (the simulated fleet, the peers' clients). */
export class SelfSampler {
  private readonly cpuStart = process.cpuUsage();
  private peak = process.memoryUsage.rss();
  private readonly timer = setInterval(() => {
    this.peak = Math.max(this.peak, process.memoryUsage.rss());
  }, 200);

  stop(): { cpuSeconds: number; peakRssKiB: number } {
    clearInterval(this.timer);
    const used = process.cpuUsage(this.cpuStart);
    return { cpuSeconds: (used.user + used.system) / 1e6, peakRssKiB: Math.max(this.peak, process.memoryUsage.rss()) / 1024 };
  }
}
