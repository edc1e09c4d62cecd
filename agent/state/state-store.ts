import { chmodSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';

export const STATE_FILE = 'state.json';

/**
 * The agent's persistent state (credentials, server settings, event log) in one JSON file.
 * The directory is 0700 and the file 0600: it holds secrets. Writes go to a temporary file
 * that is renamed over the old one, so a power cut leaves either the old or the new state.
 */
export class StateStore {
  private state: Record<string, unknown>;
  private readonly file: string;

  constructor(
    readonly dir: string,
    private readonly log: Logger,
    /** Another file in the same directory, for state a factory reset keeps (`wipe` removes only this file). */
    fileName = STATE_FILE,
  ) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    chmodSync(dir, 0o700);
    this.file = join(dir, fileName);
    this.state = this.load();
  }

  read<T>(key: string): T | undefined {
    return this.state[key] as T | undefined;
  }

  write(key: string, value: unknown): void {
    this.state[key] = value;
    this.flush();
  }

  delete(key: string): void {
    if (!(key in this.state)) return;
    delete this.state[key];
    this.flush();
  }

  /** Factory reset: forget everything. */
  wipe(): void {
    this.state = {};
    rmSync(this.file, { force: true });
  }

  private load(): Record<string, unknown> {
    let text: string;
    try {
      text = readFileSync(this.file, 'utf8');
    } catch {
      return {};
    }
    try {
      const parsed = JSON.parse(text) as unknown;
      if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return parsed as Record<string, unknown>;
    } catch {
      // fall through
    }
    // A corrupt state file must not brick the device: start over, which means bootstrapping again.
    this.log.error({ file: this.file }, 'agent state file is corrupt; starting from factory state');
    renameSync(this.file, `${this.file}.corrupt-${Date.now()}`);
    return {};
  }

  private flush(): void {
    const tmp = `${this.file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state), { mode: 0o600 });
    chmodSync(tmp, 0o600);
    renameSync(tmp, this.file);
  }
}
