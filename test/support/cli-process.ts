import type { ChildProcess } from 'node:child_process';
import { spawnCli } from './cli.js';

/**
 * A long-running `edgedm …` child (gateway, sim) whose output is kept for diagnosis and which
 * can be killed like a power cut. `kill()` always waits for the exit, so an `after` hook that
 * calls it leaves no process behind.
 */
export class CliProcess {
  private output = '';
  private readonly exit: Promise<void>;
  private exited = false;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    const keep = (d: string) => {
      this.output = (this.output + d).slice(-64 * 1024);
    };
    child.stdout!.setEncoding('utf8').on('data', keep);
    child.stderr!.setEncoding('utf8').on('data', keep);
    this.exit = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        resolve();
      }),
    );
  }

  static start(name: string, args: string[], env: Record<string, string> = {}): CliProcess {
    return new CliProcess(name, spawnCli(args, env));
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  get running(): boolean {
    return !this.exited;
  }

  /** The last 64 KiB the process printed. */
  get log(): string {
    return this.output;
  }

  /** SIGKILL by default: no handler runs, nothing is flushed, as at a power cut. */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (this.exited) return;
    this.child.kill(signal);
    await this.exit;
  }

  async waitForOutput(pattern: RegExp, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(this.output)) {
      if (this.exited) throw new Error(`${this.name} exited before printing ${pattern}:\n${this.output.slice(-4000)}`);
      if (Date.now() > deadline) throw new Error(`${this.name} did not print ${pattern} within ${timeoutMs} ms:\n${this.output.slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
}
