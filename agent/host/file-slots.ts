import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync, fsyncSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { BootOutcome, FirmwareSlots, RunningFirmware, SlotName } from './firmware-slots.js';

interface BootRecord {
  /** The confirmed slot. */
  active: SlotName;
  slots: Record<SlotName, { version: string; sha256: string } | null>;
  /** A slot armed for a trial boot; `attempts` counts boots into it. */
  trial: { slot: SlotName; attempts: number } | null;
  lastBoot: BootOutcome;
}

const BOOT_FILE = 'boot.json';
const other = (slot: SlotName): SlotName => (slot === 'a' ? 'b' : 'a');

export interface FileSlotsOptions {
  dir: string;
  /** The version in slot A when the flash is blank (first power-on). */
  factoryVersion: string;
  capacityBytes?: number;
  /** Trial boots of these versions fail their self test (simulated bad image). */
  failingSelfTest?: (version: string) => boolean;
  /** Answer of the device's user when asked to install. */
  acceptUpdate?: () => 'accept' | 'defer';
  /** Flash write speed in bytes per second (simulated slow flash); unlimited when absent. */
  writeBytesPerSecond?: number;
  /** How long the self test of a trial boot takes (simulated hardware checks). */
  selfTestMs?: number;
  /** Told how far a slot write has got, piece by piece (simulated hardware watches it to cut the power mid-write). */
  onWriteProgress?: (written: number, total: number) => void;
}

/**
 * A/B slots as files: `slot-a.bin`, `slot-b.bin` and `boot.json` (the bootloader's record,
 * replaced atomically). Serves simulated devices, and Linux devices whose update is a file
 * the next boot picks up. `boot()` is the bootloader; call it at power-on and at each reboot.
 */
export class FileSlots implements FirmwareSlots {
  private record: BootRecord;
  private booted: RunningFirmware;
  /** Set by a power cut: nothing more reaches the files. */
  private dead = false;
  private readonly writing = new AbortController();

  constructor(private readonly opts: FileSlotsOptions) {
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    this.record = this.load();
    this.booted = this.boot();
  }

  /** The bootloader: chooses the slot to run, consuming a trial attempt. */
  boot(): RunningFirmware {
    const r = this.record;
    if (r.trial && r.trial.attempts === 0 && r.slots[r.trial.slot]) {
      r.trial.attempts = 1;
      r.lastBoot = 'trial';
      this.save();
      this.booted = { slot: r.trial.slot, version: r.slots[r.trial.slot]!.version, trial: true };
    } else {
      r.lastBoot = r.trial ? 'rolled-back' : 'normal';
      r.trial = null;
      this.save();
      this.booted = { slot: r.active, version: r.slots[r.active]!.version, trial: false };
    }
    return this.booted;
  }

  running(): RunningFirmware {
    return { ...this.booted };
  }

  lastBoot(): BootOutcome {
    return this.record.lastBoot;
  }

  capacityBytes(): number {
    return this.opts.capacityBytes ?? 64 * 1024 * 1024;
  }

  async writeInactive(imageFile: string, version: string, sha256: string): Promise<void> {
    const target = other(this.booted.slot);
    // Invalidate first: a power cut mid-write must never leave a slot that claims a version.
    this.record.slots[target] = null;
    if (this.record.trial?.slot === target) this.record.trial = null;
    this.save();
    const path = this.slotFile(target);
    const hash = createHash('sha256');
    const out = createWriteStream(path, { mode: 0o600 });
    const input = createReadStream(imageFile);
    input.on('data', (chunk) => hash.update(chunk));
    const total = statSync(imageFile).size;
    try {
      await pipeline(input, pieces(this.opts.writeBytesPerSecond, total, this.opts.onWriteProgress), out, { signal: this.writing.signal });
    } catch (err) {
      // The power failed mid-write: nothing runs on after it (the next power-on is a new instance).
      if (this.dead) await new Promise<never>(() => {});
      throw err;
    }
    if (this.dead) await new Promise<never>(() => {});
    fsyncFile(path);
    const written = hash.digest('hex');
    if (written !== sha256) throw new Error(`slot ${target} verification failed after write`);
    this.record.slots[target] = { version, sha256 };
    this.save();
  }

  armTrial(): void {
    const target = other(this.booted.slot);
    if (!this.record.slots[target]) throw new Error(`slot ${target} holds no image`);
    this.record.trial = { slot: target, attempts: 0 };
    this.save();
  }

  confirm(): void {
    if (!this.booted.trial) return;
    this.record.active = this.booted.slot;
    this.record.trial = null;
    this.record.lastBoot = 'normal';
    this.booted = { ...this.booted, trial: false };
    this.save();
  }

  abandonTrial(): void {
    this.record.trial = this.record.trial ? { ...this.record.trial, attempts: Math.max(1, this.record.trial.attempts) } : null;
    this.save();
  }

  async selfTest(): Promise<boolean> {
    if (this.opts.selfTestMs) await new Promise((resolve) => setTimeout(resolve, this.opts.selfTestMs));
    return !(this.opts.failingSelfTest?.(this.booted.version) ?? false);
  }

  /**
   * Simulated power loss: a slot write under way stops where it is (its promise never settles,
   * as no code runs on a device without power) and nothing more reaches the files. The
   * instance is dead; the next power-on is a new one, whose bootloader reads what is on disk.
   */
  powerCut(): void {
    this.dead = true;
    this.writing.abort();
  }

  acceptUpdate(): 'accept' | 'defer' {
    return this.opts.acceptUpdate?.() ?? 'accept';
  }

  private slotFile(slot: SlotName): string {
    return join(this.opts.dir, `slot-${slot}.bin`);
  }

  private load(): BootRecord {
    try {
      const r = JSON.parse(readFileSync(join(this.opts.dir, BOOT_FILE), 'utf8')) as BootRecord;
      if ((r.active === 'a' || r.active === 'b') && r.slots?.[r.active]) return r;
    } catch {
      // blank or unreadable flash: factory state below
    }
    const factory = Buffer.from(`factory image ${this.opts.factoryVersion}\n`);
    writeFileSync(this.slotFile('a'), factory, { mode: 0o600 });
    return {
      active: 'a',
      slots: { a: { version: this.opts.factoryVersion, sha256: createHash('sha256').update(factory).digest('hex') }, b: null },
      trial: null,
      lastBoot: 'normal',
    };
  }

  private save(): void {
    if (this.dead) return;
    const file = join(this.opts.dir, BOOT_FILE);
    const tmp = `${file}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.record), { mode: 0o600 });
    fsyncFile(tmp);
    renameSync(tmp, file);
  }
}

/**
 * Passes bytes on in small pieces, at `bytesPerSecond` when given (a slow flash), reporting
 * progress after each: a power cut can catch the write half way.
 */
function pieces(bytesPerSecond: number | undefined, total: number, progress: ((written: number, total: number) => void) | undefined) {
  const rate = bytesPerSecond !== undefined && bytesPerSecond > 0 ? bytesPerSecond : undefined;
  const piece = rate ? Math.max(1, Math.min(4096, Math.floor(rate / 10))) : 16 * 1024;
  let written = 0;
  return async function* (source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      for (let i = 0; i < chunk.length; i += piece) {
        const part = chunk.subarray(i, i + piece);
        yield part;
        written += part.length;
        progress?.(written, total);
        if (rate) await new Promise((resolve) => setTimeout(resolve, (part.length / rate) * 1000));
      }
    }
  };
}

function fsyncFile(path: string): void {
  const fd = openSync(path, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
