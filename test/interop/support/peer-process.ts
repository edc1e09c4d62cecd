import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { join } from 'node:path';
import { repoRoot } from '../../support/cli.js';
import { waitFor } from '../../support/wait.js';

export type PeerEvent = { event: string; [k: string]: unknown };

/**
 * An interop peer in its own process (lwm2m-node-lib keeps one client and one server per
 * process) that reports what happens as JSON lines on stdout and takes commands on stdin.
 */
export class PeerProcess {
  readonly events: PeerEvent[] = [];

  private constructor(readonly child: ChildProcess) {
    let buffer = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      buffer += d;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        if (line.startsWith('{')) this.events.push(JSON.parse(line) as PeerEvent);
      }
    });
  }

  /** Runs `test/interop/{peer}/{script}` with `args`. */
  static start(peer: string, script: string, args: string[]): PeerProcess {
    const dir = join(repoRoot, 'test', 'interop', peer);
    return new PeerProcess(spawn(process.execPath, [join(dir, script), ...args], { cwd: dir, stdio: ['pipe', 'pipe', 'pipe'] }));
  }

  send(line: string): void {
    this.child.stdin!.write(`${line}\n`);
  }

  /** The first event of that name (and matching `predicate`), waiting for it. */
  event(name: string, predicate: (e: PeerEvent) => boolean = () => true, timeoutMs = 15_000): Promise<PeerEvent> {
    return waitFor(`peer event ${name}`, () => this.events.find((e) => e.event === name && predicate(e)), timeoutMs, 20);
  }

  /** Sends a command and waits for its answer: the next event named like the command. */
  async run(line: string, timeoutMs = 15_000): Promise<PeerEvent> {
    const name = line.split(' ')[0]!;
    const seen = this.events.filter((e) => e.event === name).length;
    this.send(line);
    return waitFor(`peer answer to ${line}`, () => this.events.filter((e) => e.event === name)[seen], timeoutMs, 20);
  }

  /** SIGTERM (the peer de-registers or stops cleanly), SIGKILL if it lingers. */
  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 3000))]);
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}

export async function freeUdpPort(): Promise<number> {
  const s = createSocket('udp4');
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', resolve));
  const port = s.address().port;
  await new Promise<void>((resolve) => s.close(() => resolve()));
  return port;
}
