import { createHash } from 'node:crypto';
import { appendFileSync, createReadStream, existsSync, mkdirSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../common/logger.js';
import {
  compareVersions,
  FirmwareState,
  manifestSignatureValid,
  MANIFEST_SUFFIX,
  MAX_MANIFEST_BYTES,
  parsePackageHeader,
  parseSignedManifest,
  publicKeyFromTrustAnchor,
  UpdateResult,
  type FirmwareManifest,
} from '../../protocol/firmware/index.js';
import { ResultCode, type BlockInfo, type OperationResult } from '../../protocol/model/index.js';
import type { FirmwareSlots } from '../host/firmware-slots.js';
import { OperationError } from '../objects/instance.js';
import type { StateStore } from '../state/state-store.js';
import { DownloadRefused, type PackageSource } from './package-source.js';
import { defaultPackageSources, type SchemeSource } from './sources.js';

/** What Object 5 keeps across restarts and power cuts. */
interface FirmwareRecord {
  state: FirmwareState;
  result: UpdateResult;
  packageUri: string;
  pkgName?: string;
  pkgVersion?: string;
  lastStateChange: number;
  severity: number;
  maxDeferSeconds: number;
  autoUpgrade: boolean;
  /** The download in progress or done: its validator, to resume safely. */
  etag?: string;
  /** Verified, set when State becomes Downloaded. */
  manifest?: FirmwareManifest;
  deferredUntil?: number;
  /** A Package being pushed in blocks: its manifest (verified at the end) and framing. */
  push?: PushRecord;
  /** An update between Execute and confirmation. */
  update?: { fromVersion: string; toVersion: string; phase: 'installing' | 'trial' };
}

interface PushRecord {
  /** The signed manifest from the package header, base64. */
  manifest: string;
  sha256: string;
  /** Where the image starts in the package, and the whole package's size. */
  headerBytes: number;
  totalBytes: number;
}

const STATE_KEY = 'firmware';
const PART_FILE = 'download.part';
const IMAGE_FILE = 'image.bin';

export interface FirmwareUpdaterOptions {
  slots: FirmwareSlots;
  state: StateStore;
  /** Staging directory for downloads (inside the agent's state directory). */
  dir: string;
  model: () => string;
  trustAnchor: () => Uint8Array | undefined;
  now: () => Date;
  log: Logger;
  /** Reboots the device (the agent's reboot). */
  reboot: () => void;
  /** Tells observers which Object 5 resources changed. */
  changed: (resourceIds: number[]) => void;
  /** A trial boot must reach its server and pass its self test within this. */
  healthDeadlineMs?: number;
  /** Transient download failures are retried this often before Update Result 4. */
  downloadAttempts?: number;
  retryDelayMs?: number;
  /** A pushed download with no block for this long is given up (Update Result 4; the bytes are kept). */
  pushIdleMs?: number;
  /** Pull protocols by URL scheme; defaults to all this agent speaks. */
  sources?: ReadonlyMap<string, SchemeSource>;
}

const RES = { STATE: 3, RESULT: 5, PKG_NAME: 6, PKG_VERSION: 7, URI: 1, LAST_CHANGE: 12 } as const;

/**
 * The Object 5 state machine of 5.xml and the work behind it: pull download with resume,
 * manifest verification before Downloaded, install into the inactive slot, trial boot,
 * confirmation after a health check, rollback otherwise. Every step is persisted before it is
 * acted on, so a power cut at any point resumes into a truthful state.
 */
export class FirmwareUpdater {
  private record: FirmwareRecord;
  private download: AbortController | undefined;
  private timers = new Set<NodeJS.Timeout>();
  private closed = false;
  /** Block writes are applied one at a time, in arrival order. */
  private blockQueue: Promise<unknown> = Promise.resolve();
  private pushIdle: NodeJS.Timeout | undefined;
  private readonly sources: ReadonlyMap<string, SchemeSource>;

  constructor(private readonly opts: FirmwareUpdaterOptions) {
    this.sources = opts.sources ?? defaultPackageSources;
    mkdirSync(opts.dir, { recursive: true, mode: 0o700 });
    this.record = opts.state.read<FirmwareRecord>(STATE_KEY) ?? {
      state: FirmwareState.IDLE,
      result: UpdateResult.INITIAL,
      packageUri: '',
      lastStateChange: opts.now().getTime(),
      severity: 1,
      maxDeferSeconds: 0,
      autoUpgrade: false,
    };
  }

  // ---- reads -------------------------------------------------------------------------------

  get state(): FirmwareState {
    return this.record.state;
  }
  get result(): UpdateResult {
    return this.record.result;
  }
  get packageUri(): string {
    return this.record.packageUri;
  }
  get pkgName(): string | undefined {
    return this.record.pkgName;
  }
  get pkgVersion(): string | undefined {
    return this.record.pkgVersion;
  }
  get lastStateChange(): Date {
    return new Date(this.record.lastStateChange);
  }
  get severity(): number {
    return this.record.severity;
  }
  get maxDeferSeconds(): number {
    return this.record.maxDeferSeconds;
  }
  get autoUpgrade(): boolean {
    return this.record.autoUpgrade;
  }
  /** /5/0/8: the pull protocols, in the order they are preferred. */
  get supportedProtocols(): number[] {
    return [...this.sources.values()].map((s) => s.protocol);
  }

  // ---- boot --------------------------------------------------------------------------------

  /** Picks up where the last run stopped. Call once the agent's objects exist. */
  resume(): void {
    const r = this.record;
    const running = this.opts.slots.running();
    if (r.state === FirmwareState.UPDATING || r.update || running.trial) {
      const update = r.update;
      // Trial even if the power failed between arming the slot and recording it.
      if (update && running.trial && running.version === update.toVersion) {
        if (update.phase !== 'trial') this.set({ update: { ...update, phase: 'trial' } }, []);
        this.opts.log.info({ version: running.version }, 'trial boot of new firmware: waiting for the health check');
        this.after(this.opts.healthDeadlineMs ?? 60_000, () => {
          if (this.record.update?.phase === 'trial') void this.failTrial('no registration within the health-check deadline');
        });
        return;
      }
      if (running.trial) {
        // A trial nobody asked for (state lost): back to the confirmed image.
        void this.failTrial('trial boot without a matching update record');
        return;
      }
      if (update?.phase === 'trial' && running.version === update.toVersion && running.version !== update.fromVersion) {
        // The power failed between the bootloader's confirmation and this record: the new image is the confirmed one.
        this.opts.log.info({ version: running.version, from: update.fromVersion }, 'firmware update confirmed before the power failed');
        this.finishUpdate(UpdateResult.SUCCESS, this.record.manifest);
        return;
      }
      // Rolled back, never switched, or the power failed mid-write: the old image runs.
      this.opts.log.warn({ running: running.version, wanted: update?.toVersion, phase: update?.phase }, 'firmware update did not take; running the previous image');
      this.finishUpdate(UpdateResult.UPDATE_FAILED);
      return;
    }
    if (r.state === FirmwareState.DOWNLOADING && r.push) {
      this.opts.log.info({ received: this.pushReceived() }, 'waiting for the rest of the pushed firmware package');
      this.armPushIdle();
      return;
    }
    if (r.state === FirmwareState.DOWNLOADING) {
      this.opts.log.info({ uri: r.packageUri }, 'resuming the firmware download');
      this.startDownload();
      return;
    }
    if (r.state === FirmwareState.DOWNLOADED) {
      void this.checkStagedImage();
      if (r.deferredUntil !== undefined) this.scheduleDeferred();
    }
  }

  /** The agent registered with its server: the health check of a trial boot. */
  async registered(): Promise<void> {
    const update = this.record.update;
    const running = this.opts.slots.running();
    if (update?.phase !== 'trial' || !running.trial || running.version !== update.toVersion) return;
    if (!(await this.opts.slots.selfTest())) return this.failTrial('self test failed');
    this.opts.slots.confirm();
    this.opts.log.info({ version: running.version, from: update.fromVersion }, 'firmware update confirmed');
    this.finishUpdate(UpdateResult.SUCCESS, this.record.manifest);
  }

  close(): void {
    this.closed = true;
    this.clearPushIdle();
    this.download?.abort();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
  }

  // ---- operations (LwM2M semantics of 5.xml) -----------------------------------------------

  writePackageUri(uri: string): void {
    const r = this.record;
    if (r.state === FirmwareState.UPDATING) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, 'an update is being installed');
    if (uri === '') {
      this.reset(UpdateResult.INITIAL);
      return;
    }
    if (r.state !== FirmwareState.IDLE) {
      throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, `Package URI can only be set in state Idle (state is ${r.state}); write an empty URI to reset`);
    }
    this.set({ packageUri: uri, etag: undefined, push: undefined }, [RES.URI]);
    let parsed: URL;
    try {
      parsed = new URL(uri);
    } catch {
      return this.setResult(UpdateResult.INVALID_URI);
    }
    if (!this.sources.has(parsed.protocol)) return this.setResult(UpdateResult.UNSUPPORTED_PROTOCOL);
    rmSync(join(this.opts.dir, PART_FILE), { force: true });
    this.setState(FirmwareState.DOWNLOADING, UpdateResult.INITIAL);
    this.startDownload();
  }

  /**
   * One block of a pushed Package (the whole Package is one last block at offset 0). Block 0
   * carries the signed manifest in front of the image; a repeated block 0 of the same image
   * while its download is open answers with the offset already held, so a push resumes.
   */
  writePackageBlock(chunk: Uint8Array, block: BlockInfo): Promise<OperationResult> {
    const next = this.blockQueue.then(() => this.applyBlock(chunk, block));
    this.blockQueue = next.catch(() => undefined);
    return next;
  }

  private async applyBlock(chunk: Uint8Array, block: BlockInfo): Promise<OperationResult> {
    const r = this.record;
    if (r.state === FirmwareState.UPDATING) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, 'an update is being installed');
    const offset = block.num * block.size;
    if (offset === 0 && !block.more && (chunk.length === 0 || (chunk.length === 1 && chunk[0] === 0))) {
      this.reset(UpdateResult.INITIAL); // 5.xml: writing NULL to Package resets the state machine
      return { code: ResultCode.CHANGED };
    }
    const part = join(this.opts.dir, PART_FILE);
    let push: PushRecord;
    if (offset === 0) {
      const started = this.startPush(chunk, block, part);
      if ('code' in started) return started;
      push = started;
    } else {
      if (r.state !== FirmwareState.DOWNLOADING || !r.push) {
        return { code: ResultCode.REQUEST_ENTITY_INCOMPLETE, message: 'no pushed Package in progress: start at block 0', nextOffset: 0 };
      }
      push = r.push;
      const have = this.pushReceived();
      if (offset > have) return { code: ResultCode.REQUEST_ENTITY_INCOMPLETE, message: `expected the block at byte ${have}`, nextOffset: have };
      const skip = have - offset; // a repeated block: keep only what is new
      if (skip < chunk.length) appendFileSync(part, chunk.subarray(skip), { mode: 0o600 });
    }
    const received = this.pushReceived();
    if (received > push.totalBytes) {
      this.opts.log.warn({ received, expected: push.totalBytes }, 'pushed package longer than its manifest says');
      this.reset(UpdateResult.INTEGRITY_CHECK_FAILURE);
      return { code: ResultCode.REQUEST_ENTITY_TOO_LARGE, message: `package longer than the ${push.totalBytes} bytes its manifest announces` };
    }
    if (block.more) {
      this.armPushIdle();
      return { code: ResultCode.CONTINUE, nextOffset: received };
    }
    this.clearPushIdle();
    this.opts.log.info({ size: received - push.headerBytes }, 'pushed firmware package received');
    await this.completeDownload(part, Buffer.from(push.manifest, 'base64'));
    return { code: ResultCode.CHANGED };
  }

  /** Block 0: a new push, or the same image again (resume). Returns the push, or the answer. */
  private startPush(chunk: Uint8Array, block: BlockInfo, part: string): PushRecord | OperationResult {
    const r = this.record;
    let header, manifest;
    try {
      header = parsePackageHeader(chunk);
      manifest = parseSignedManifest(header.manifest).manifest;
    } catch (err) {
      if (r.state !== FirmwareState.IDLE) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, `a download is under way (state ${r.state}); write an empty Package or Package URI to reset`);
      this.opts.log.warn({ reason: (err as Error).message }, 'pushed firmware package rejected');
      this.reset(UpdateResult.INTEGRITY_CHECK_FAILURE);
      return { code: ResultCode.BAD_REQUEST, message: (err as Error).message };
    }
    const push: PushRecord = { manifest: Buffer.from(header.manifest).toString('base64'), sha256: manifest.sha256, headerBytes: header.headerBytes, totalBytes: header.headerBytes + manifest.size };
    const resumable = r.push && r.push.sha256 === push.sha256 && r.push.headerBytes === push.headerBytes && existsSync(part);
    if (resumable && block.more && (r.state === FirmwareState.DOWNLOADING || r.state === FirmwareState.IDLE)) {
      if (r.state === FirmwareState.IDLE) this.setState(FirmwareState.DOWNLOADING, UpdateResult.INITIAL);
      this.armPushIdle();
      this.opts.log.info({ have: this.pushReceived() }, 'resuming a pushed firmware package');
      return { code: ResultCode.CONTINUE, nextOffset: this.pushReceived() };
    }
    if (r.state !== FirmwareState.IDLE) {
      throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, `Package can only be written in state Idle (state is ${r.state}); write an empty Package or Package URI to reset`);
    }
    if (manifest.size > this.opts.slots.capacityBytes()) {
      this.reset(UpdateResult.NOT_ENOUGH_FLASH);
      return { code: ResultCode.REQUEST_ENTITY_TOO_LARGE, message: `image of ${manifest.size} bytes exceeds the slot` };
    }
    writeFileSync(part, chunk.subarray(header.headerBytes), { mode: 0o600 });
    this.set({ push, packageUri: '', etag: undefined }, [RES.URI]);
    this.setState(FirmwareState.DOWNLOADING, UpdateResult.INITIAL);
    return push;
  }

  /** Package bytes held so far: the header and what of the image is on disk. */
  private pushReceived(): number {
    const push = this.record.push;
    if (!push) return 0;
    try {
      return push.headerBytes + statSync(join(this.opts.dir, PART_FILE)).size;
    } catch {
      return push.headerBytes;
    }
  }

  private armPushIdle(): void {
    this.clearPushIdle();
    this.pushIdle = setTimeout(() => {
      this.pushIdle = undefined;
      if (this.closed || this.record.state !== FirmwareState.DOWNLOADING || !this.record.push) return;
      this.opts.log.warn('no block of the pushed firmware package arrived in time; the bytes so far are kept for a resume');
      this.setState(FirmwareState.IDLE, UpdateResult.CONNECTION_LOST);
    }, this.opts.pushIdleMs ?? 300_000);
  }

  private clearPushIdle(): void {
    if (this.pushIdle) clearTimeout(this.pushIdle);
    this.pushIdle = undefined;
  }

  executeUpdate(): void {
    const r = this.record;
    if (r.state !== FirmwareState.DOWNLOADED) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, 'Update is executable only in state Downloaded');
    if (r.maxDeferSeconds > 0 && r.deferredUntil === undefined && this.opts.slots.acceptUpdate() === 'defer') {
      this.set({ deferredUntil: this.opts.now().getTime() + r.maxDeferSeconds * 1000 }, []);
      this.setResult(UpdateResult.DEFERRED);
      this.scheduleDeferred();
      return;
    }
    // Answer the Execute first; install afterwards, as LwM2M expects.
    this.after(0, () => void this.install());
  }

  executeCancel(): void {
    if (this.record.state === FirmwareState.UPDATING) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, 'the update is already being installed');
    // Idle: no update under way (or one already installed, which 5.xml says MUST be refused).
    if (this.record.state === FirmwareState.IDLE) throw new OperationError(ResultCode.METHOD_NOT_ALLOWED, 'no firmware update to cancel');
    this.reset(UpdateResult.CANCELLED);
  }

  writeSeverity(severity: number): void {
    if (!Number.isInteger(severity) || severity < 0 || severity > 2) throw new OperationError(ResultCode.BAD_REQUEST, 'Severity is 0 (critical), 1 (mandatory) or 2 (optional)');
    this.set({ severity }, [11]);
  }

  writeMaxDeferPeriod(seconds: number): void {
    if (!Number.isSafeInteger(seconds) || seconds < 0) throw new OperationError(ResultCode.BAD_REQUEST, 'Maximum Defer Period is a number of seconds');
    this.set({ maxDeferSeconds: seconds }, [13]);
  }

  writeAutoUpgrade(on: boolean): void {
    this.set({ autoUpgrade: on }, [14]);
  }

  // ---- download and verification -----------------------------------------------------------

  private startDownload(): void {
    this.download?.abort();
    const controller = new AbortController();
    this.download = controller;
    void this.runDownload(controller.signal).finally(() => {
      if (this.download === controller) this.download = undefined;
    });
  }

  private sourceFor(uri: string): PackageSource | undefined {
    try {
      return this.sources.get(new URL(uri).protocol)?.source;
    } catch {
      return undefined;
    }
  }

  private async runDownload(signal: AbortSignal): Promise<void> {
    const uri = this.record.packageUri;
    const part = join(this.opts.dir, PART_FILE);
    const attempts = this.opts.downloadAttempts ?? 5;
    const source = this.sourceFor(uri);
    if (!source) return this.reset(UpdateResult.UNSUPPORTED_PROTOCOL);
    for (let attempt = 1; ; attempt++) {
      const had = sizeOf(part);
      try {
        const manifestBytes = await source.fetchSmall(`${uri}${MANIFEST_SUFFIX}`, MAX_MANIFEST_BYTES, signal).catch((err: unknown) => {
          if (err instanceof DownloadRefused && err.status === 404) return undefined;
          throw err;
        });
        const capacity = this.opts.slots.capacityBytes();
        const result = await source.fetchResumable(uri, part, { etag: this.record.etag, signal, maxBytes: capacity });
        if (signal.aborted) return;
        this.set({ etag: result.etag }, []);
        this.opts.log.info({ size: result.size, fetched: result.fetched, resumedFrom: result.size - result.fetched }, 'firmware image downloaded');
        if (signal.aborted) return;
        await this.completeDownload(part, manifestBytes, signal);
        return;
      } catch (err) {
        if (signal.aborted || this.closed) return;
        if (err instanceof DownloadRefused) {
          this.opts.log.warn({ reason: err.message }, 'firmware download refused');
          const result = err.status === 413 ? UpdateResult.NOT_ENOUGH_FLASH : UpdateResult.INVALID_URI;
          return this.reset(result);
        }
        // A link that keeps dropping but brings bytes each time is not given up on: only
        // attempts in a row that bring nothing count towards Update Result 4.
        if (sizeOf(part) > had) attempt = 1;
        if (attempt >= attempts) {
          this.opts.log.warn({ err: (err as Error).message, attempts }, 'firmware download failed; the partial image is kept for a resume');
          this.setState(FirmwareState.IDLE, UpdateResult.CONNECTION_LOST);
          return;
        }
        const delay = (this.opts.retryDelayMs ?? 1000) * 2 ** (attempt - 1);
        this.opts.log.info({ err: (err as Error).message, attempt, delayMs: delay }, 'firmware download interrupted; resuming');
        await new Promise((resolve) => this.after(delay, resolve as () => void));
        if (signal.aborted || this.closed) return;
      }
    }
  }

  /** Verification before Downloaded: only a verified image is ever staged. */
  private async completeDownload(part: string, manifestBytes: Uint8Array | undefined, signal?: AbortSignal): Promise<void> {
    const verdict = await this.verify(part, manifestBytes, this.opts.model());
    if (signal?.aborted || this.record.state !== FirmwareState.DOWNLOADING) return;
    if (verdict.result !== UpdateResult.INITIAL) {
      this.opts.log.warn({ reason: verdict.reason, result: verdict.result }, 'firmware image rejected');
      return this.reset(verdict.result);
    }
    renameSync(part, join(this.opts.dir, IMAGE_FILE));
    this.set({ manifest: verdict.manifest, push: undefined }, []);
    this.setState(FirmwareState.DOWNLOADED, UpdateResult.INITIAL);
    if (this.record.autoUpgrade) this.executeUpdate();
  }

  private async verify(file: string, manifestBytes: Uint8Array | undefined, model: string): Promise<{ result: UpdateResult; reason?: string; manifest?: FirmwareManifest }> {
    const integrity = (reason: string) => ({ result: UpdateResult.INTEGRITY_CHECK_FAILURE, reason });
    if (!manifestBytes) return integrity('no signed manifest next to the image');
    const anchor = this.opts.trustAnchor();
    if (!anchor) return integrity('no firmware trust anchor provisioned');
    let signed;
    try {
      signed = parseSignedManifest(manifestBytes);
    } catch (err) {
      return integrity((err as Error).message);
    }
    if (!manifestSignatureValid(signed, publicKeyFromTrustAnchor(anchor))) return integrity('manifest signature does not verify');
    const m = signed.manifest;
    const { size, sha256 } = await hashFile(file);
    if (size !== m.size) return integrity(`image is ${size} bytes, the manifest says ${m.size}`);
    if (sha256 !== m.sha256) return integrity('image SHA-256 does not match the manifest');
    if (!m.models.includes(model)) return { result: UpdateResult.UNSUPPORTED_PACKAGE_TYPE, reason: `image is for ${m.models.join(', ')}, not ${model}` };
    const running = this.opts.slots.running().version;
    if (compareVersions(m.version, running) < 0 && !m.allowDowngrade) {
      return { result: UpdateResult.UNSUPPORTED_PACKAGE_TYPE, reason: `version ${m.version} is older than the running ${running} (anti-rollback)` };
    }
    if (m.size > this.opts.slots.capacityBytes()) return { result: UpdateResult.NOT_ENOUGH_FLASH, reason: 'image larger than the slot' };
    return { result: UpdateResult.INITIAL, manifest: m };
  }

  /** At boot in Downloaded: the staged image must still be the verified one. */
  private async checkStagedImage(): Promise<void> {
    const m = this.record.manifest;
    const image = join(this.opts.dir, IMAGE_FILE);
    const actual = await hashFile(image).catch(() => undefined);
    if (!m || !actual || actual.sha256 !== m.sha256 || actual.size !== m.size) {
      this.opts.log.warn('the downloaded firmware image is missing or damaged');
      this.reset(UpdateResult.INTEGRITY_CHECK_FAILURE);
    }
  }

  // ---- install, trial, confirmation -----------------------------------------------------------

  private async install(): Promise<void> {
    const m = this.record.manifest;
    if (this.record.state !== FirmwareState.DOWNLOADED || !m) return;
    const running = this.opts.slots.running().version;
    this.set({ update: { fromVersion: running, toVersion: m.version, phase: 'installing' }, deferredUntil: undefined }, []);
    this.setState(FirmwareState.UPDATING, UpdateResult.INITIAL);
    try {
      await this.opts.slots.writeInactive(join(this.opts.dir, IMAGE_FILE), m.version, m.sha256);
      if (this.closed) return; // shut down (or powered off) mid-write: the next boot reports the outcome
      this.opts.slots.armTrial();
    } catch (err) {
      this.opts.log.error({ err }, 'writing the firmware slot failed');
      this.finishUpdate(UpdateResult.UPDATE_FAILED);
      return;
    }
    if (this.closed) return;
    this.set({ update: { fromVersion: running, toVersion: m.version, phase: 'trial' } }, []);
    this.opts.log.info({ from: running, to: m.version }, 'firmware written to the inactive slot; rebooting into it on trial');
    this.opts.reboot();
  }

  private async failTrial(reason: string): Promise<void> {
    this.opts.log.warn({ reason }, 'trial boot failed its health check; rolling back');
    this.opts.slots.abandonTrial();
    this.opts.reboot();
  }

  private finishUpdate(result: UpdateResult, manifest?: FirmwareManifest): void {
    rmSync(join(this.opts.dir, IMAGE_FILE), { force: true });
    const naming = manifest ? { pkgName: manifest.name, pkgVersion: manifest.version } : {};
    this.set({ update: undefined, manifest: undefined, etag: undefined, ...naming }, manifest ? [RES.PKG_NAME, RES.PKG_VERSION] : []);
    this.setState(FirmwareState.IDLE, result);
  }

  private scheduleDeferred(): void {
    const until = this.record.deferredUntil;
    if (until === undefined) return;
    this.after(Math.max(0, until - this.opts.now().getTime()), () => {
      if (this.record.state === FirmwareState.DOWNLOADED) void this.install();
    });
  }

  // ---- bookkeeping -------------------------------------------------------------------------

  private reset(result: UpdateResult): void {
    this.download?.abort();
    rmSync(join(this.opts.dir, PART_FILE), { force: true });
    rmSync(join(this.opts.dir, IMAGE_FILE), { force: true });
    this.clearPushIdle();
    this.set({ manifest: undefined, etag: undefined, deferredUntil: undefined, update: undefined, push: undefined, ...(result === UpdateResult.INITIAL ? { packageUri: '' } : {}) }, [RES.URI]);
    this.setState(FirmwareState.IDLE, result);
  }

  private setState(state: FirmwareState, result: UpdateResult): void {
    const changed: number[] = [];
    if (state !== this.record.state) changed.push(RES.STATE, RES.LAST_CHANGE);
    if (result !== this.record.result) changed.push(RES.RESULT);
    // 5.xml: Last State Change Time is updated before the State changes.
    const lastStateChange = state !== this.record.state ? this.opts.now().getTime() : this.record.lastStateChange;
    this.set({ lastStateChange, state, result }, changed);
  }

  private setResult(result: UpdateResult): void {
    this.set({ result }, [RES.RESULT]);
  }

  private set(change: Partial<FirmwareRecord>, changedResources: number[]): void {
    if (this.closed) return; // powered off or shut down: nothing more reaches the disk
    this.record = { ...this.record, ...change };
    for (const [k, v] of Object.entries(change)) if (v === undefined) delete (this.record as unknown as Record<string, unknown>)[k];
    this.opts.state.write(STATE_KEY, this.record);
    if (changedResources.length > 0) this.opts.changed(changedResources);
  }

  private after(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      if (!this.closed) fn();
    }, ms);
    this.timers.add(t);
  }
}

function sizeOf(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

async function hashFile(file: string): Promise<{ size: number; sha256: string }> {
  const size = statSync(file).size;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return { size, sha256: hash.digest('hex') };
}
