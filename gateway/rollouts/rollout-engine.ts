import type { Logger } from '../../common/logger.js';
import { compileTarget, parseTarget } from '../../protocol/targets/index.js';
import type { EventBus } from '../events.js';
import type { Firmware, FirmwareRepository } from '../firmware/firmware-repository.js';
import type { DeviceCommands } from '../fleet/device-commands.js';
import type { DeviceRepository } from '../store/device-repository.js';
import { encodePackageHeader } from '../../protocol/firmware/index.js';
import { PushFailed, pushPackage } from '../firmware/package-push.js';
import { stepDevice } from './device-update.js';
import {
  abortReason,
  batchGateFailure,
  DEVICE_UPDATE_STATES,
  NOT_STARTED_STATES,
  planBatches,
  tally,
  TERMINAL_DEVICE_STATES,
  validatePolicy,
  type DeviceUpdateState,
  type RolloutPolicy,
  type Tally,
} from './rollout-policy.js';
import { RolloutRepository, type DeviceChange, type Rollout, type RolloutDevice } from './rollout-repository.js';

export class RolloutError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'RolloutError';
  }
}

export interface RolloutEngineOptions {
  rollouts: RolloutRepository;
  devices: DeviceRepository;
  firmware: FirmwareRepository;
  commands: DeviceCommands;
  events: EventBus;
  log: Logger;
  /**
   * Where devices pull images, per scheme: the REST API's public base URL for HTTP, the CoAP
   * endpoint's for CoAP; undefined when that endpoint is not running.
   */
  packageBaseUrl: (scheme: 'http' | 'coap') => string | undefined;
  /** How often the engine looks at each active device. */
  pollIntervalMs: number;
  /** Block size of pushed packages (a power of two; the header must fit block 0). */
  pushBlockBytes?: number;
  now?: () => number;
}

export interface RolloutSummary extends Rollout {
  counts: Record<DeviceUpdateState, number>;
  total: number;
  currentBatch: number | null;
  bytesServed: number;
}

/**
 * Drives firmware rollouts. Everything it knows is in the SQL store; every tick it reconciles
 * each active device with what the device reports, so a gateway killed at any moment picks
 * up exactly where it was on restart.
 */
export class RolloutEngine {
  private timer: NodeJS.Timeout | undefined;
  private ticking = false;
  private readonly inFlight = new Set<string>();
  private readonly pushes = new Map<string, AbortController>();
  /**
   * Transfers whose push ran to the device's answer (accepted or refused). A step that read the
   * device while that push was still running must not start it again.
   */
  private readonly pushesDone = new Set<string>();
  private readonly repo: RolloutRepository;
  private readonly now: () => number;
  private readonly unsubscribe: () => void;
  /** Start times per rollout, for --rate-per-min (a restart forgets them: at worst one extra minute's worth). */
  private readonly starts = new Map<string, number[]>();
  private readonly pendingProgress = new Set<string>();
  private closed = false;

  constructor(private readonly opts: RolloutEngineOptions) {
    this.repo = opts.rollouts;
    this.now = opts.now ?? Date.now;
    // A device that comes back is looked at now, not at its next poll.
    this.unsubscribe = opts.events.subscribe((e) => {
      if (e.type === 'device.registered') this.wake(e.endpoint);
    });
  }

  start(): void {
    this.timer = setInterval(() => void this.tick(), this.opts.pollIntervalMs);
    this.timer.unref?.();
  }

  async close(): Promise<void> {
    this.closed = true;
    this.pendingProgress.clear();
    if (this.timer) clearInterval(this.timer);
    this.unsubscribe();
    for (const push of this.pushes.values()) push.abort();
    // Steps under way end with their device request; do not hold a shutdown for longer than that.
    const until = Date.now() + 3000;
    while ((this.ticking || this.inFlight.size > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
  }

  create(input: { firmwareId: string; target: string; policy: RolloutPolicy }): RolloutSummary {
    const firmware = this.opts.firmware.get(input.firmwareId);
    if (!firmware) throw new RolloutError(`no firmware ${input.firmwareId}`, 'not-found');
    const matches = compileTarget(parseTarget(input.target));
    let policy: RolloutPolicy;
    try {
      policy = validatePolicy(input.policy);
    } catch (err) {
      throw new RolloutError((err as Error).message, 'invalid');
    }
    const endpoints = this.opts.devices
      .list()
      .filter((d) => d.status !== 'decommissioned' && matches(d))
      .map((d) => d.endpoint);
    if (endpoints.length === 0) throw new RolloutError(`no device matches "${input.target}"`, 'invalid');
    if (policy.delivery !== 'push' && this.opts.packageBaseUrl(policy.delivery) === undefined) {
      throw new RolloutError(`delivery ${policy.delivery} needs the gateway's ${policy.delivery.toUpperCase()} endpoint, which is not running`, 'invalid');
    }
    const rollout = this.repo.create({ ...input, policy, endpoints, batches: planBatches(endpoints.length, policy) }, this.now());
    this.opts.log.info({ rollout: rollout.id, firmware: firmware.id, devices: endpoints.length, target: input.target }, 'rollout created');
    this.publish(rollout.id);
    setImmediate(() => void this.tick());
    return this.summary(rollout.id)!;
  }

  pause(id: string): RolloutSummary {
    return this.transition(id, ['running'], 'paused');
  }

  resume(id: string): RolloutSummary {
    return this.transition(id, ['paused'], 'running');
  }

  /** Devices not started are cancelled; devices mid-update finish (a firmware write is never cut). */
  cancel(id: string): RolloutSummary {
    const summary = this.transition(id, ['running', 'paused'], 'cancelled', 'cancelled by the operator');
    this.cancelQueued(id, 'rollout cancelled');
    return summary;
  }

  summary(id: string): RolloutSummary | undefined {
    const rollout = this.repo.get(id);
    if (!rollout) return undefined;
    const devices = this.repo.devices(id);
    const counts = Object.fromEntries(DEVICE_UPDATE_STATES.map((s) => [s, 0])) as Record<DeviceUpdateState, number>;
    for (const d of devices) counts[d.state]++;
    const open = devices.filter((d) => !TERMINAL_DEVICE_STATES.has(d.state));
    const bytesServed = this.opts.firmware.bytesServed(id);
    return { ...rollout, counts, total: devices.length, currentBatch: open.length > 0 ? Math.min(...open.map((d) => d.batch)) : null, bytesServed };
  }

  list(): RolloutSummary[] {
    return this.repo.list().map((r) => this.summary(r.id)!);
  }

  /** A page of rollouts, newest first: only the page's rollouts are summed up. */
  listPage(offset: number, limit: number): { items: RolloutSummary[]; total: number } {
    const page = this.repo.page(offset, limit);
    return { items: page.items.map((r) => this.summary(r.id)!), total: page.total };
  }

  devices(id: string): RolloutDevice[] {
    if (!this.repo.get(id)) throw new RolloutError(`no rollout ${id}`, 'not-found');
    return this.repo.devices(id);
  }

  /** A page of a rollout's devices, in target order. */
  devicesPage(id: string, offset: number, limit: number): { items: RolloutDevice[]; total: number } {
    if (!this.repo.get(id)) throw new RolloutError(`no rollout ${id}`, 'not-found');
    return this.repo.devicesPage(id, offset, limit);
  }

  /** One pass over every rollout that still has work. Exposed for tests. */
  async tick(): Promise<void> {
    if (this.ticking || this.closed) return;
    this.ticking = true;
    try {
      for (const rollout of this.repo.active()) this.advance(rollout);
    } catch (err) {
      this.opts.log.error({ err }, 'rollout tick failed');
    } finally {
      this.ticking = false;
    }
  }

  private advance(rollout: Rollout): void {
    const now = this.now();
    const devices = this.repo.devices(rollout.id);
    const p = rollout.policy;
    const firmware = this.opts.firmware.get(rollout.firmwareId);
    if (!firmware) return;

    if (rollout.state === 'running' || rollout.state === 'paused') {
      if (p.deadline !== null && now >= p.deadline) return this.passDeadline(rollout, devices, now);
      const reason = abortReason(tally(devices.map((d) => d.state)), p);
      if (reason) {
        this.opts.log.warn({ rollout: rollout.id, reason }, 'rollout aborted');
        this.repo.setState(rollout.id, 'aborted', reason, now);
        this.cancelQueued(rollout.id, 'rollout aborted');
        this.publish(rollout.id);
        return;
      }
    }

    // Devices already under way are always followed to an outcome, even after pause/abort/cancel.
    for (const d of devices) {
      if (!TERMINAL_DEVICE_STATES.has(d.state) && d.startedAt !== null) this.maybeStep(rollout, firmware, d, now);
    }

    if (rollout.state === 'running') this.startMore(rollout, firmware, devices, now);

    const open = devices.filter((d) => !TERMINAL_DEVICE_STATES.has(d.state));
    if (open.length === 0) {
      if (rollout.state === 'running') this.repo.setState(rollout.id, 'completed', null, now);
      this.repo.finish(rollout.id, now);
      this.opts.log.info({ rollout: rollout.id, ...countsOf(devices) }, 'rollout finished');
      this.publish(rollout.id);
    }
  }

  private startMore(rollout: Rollout, firmware: Firmware, devices: RolloutDevice[], now: number): void {
    const p = rollout.policy;
    const batch = this.currentBatch(rollout, devices, now);
    if (batch === undefined) return;
    let active = devices.filter((d) => d.startedAt !== null && !TERMINAL_DEVICE_STATES.has(d.state)).length;
    const recent = (this.starts.get(rollout.id) ?? []).filter((t) => t > now - 60_000);
    // Target order is batch order: stragglers of earlier batches (back from offline) go first.
    for (const d of devices) {
      if (d.batch > batch || !NOT_STARTED_STATES.has(d.state) || d.startedAt !== null) continue;
      if (active >= p.maxConcurrent || (p.ratePerMin !== null && recent.length >= p.ratePerMin)) break;
      if (!this.opts.commands.isConnected(d.endpoint)) {
        if (d.state !== 'waiting-offline') this.apply(rollout.id, d, { state: 'waiting-offline' });
        continue;
      }
      if (this.repo.busyElsewhere(d.endpoint, rollout.id).length > 0) continue;
      active++;
      recent.push(now);
      this.maybeStep(rollout, firmware, d, now, true);
    }
    this.starts.set(rollout.id, recent);
  }

  /**
   * The lowest batch with devices left to run; undefined when a settled batch fails its gate
   * (the rollout is then aborted). A batch is settled when each member has an outcome or is
   * waiting offline: fleets are never all online, so an offline device does not hold the
   * rollout back. It gets its step when it returns (before the deadline), and the gate counts
   * the devices that ran.
   */
  private currentBatch(rollout: Rollout, devices: RolloutDevice[], now: number): number | undefined {
    const batches = [...new Set(devices.map((d) => d.batch))].sort((a, b) => a - b);
    for (const b of batches) {
      const members = devices.filter((d) => d.batch === b && !(d.state === 'waiting-offline' && d.startedAt === null));
      const t: Tally = tally(members.map((d) => d.state));
      if (t.terminal < t.total) return b;
      const gate = batchGateFailure(b, t, rollout.policy);
      if (gate && b < batches.at(-1)!) {
        this.opts.log.warn({ rollout: rollout.id, reason: gate }, 'rollout aborted at a batch gate');
        this.repo.setState(rollout.id, 'aborted', gate, now);
        this.cancelQueued(rollout.id, 'rollout aborted');
        this.publish(rollout.id);
        return undefined;
      }
    }
    // Every batch settled: only devices waiting offline are left, started when they return.
    return batches.at(-1);
  }

  private maybeStep(rollout: Rollout, firmware: Firmware, d: RolloutDevice, now: number, starting = false): void {
    const key = `${rollout.id}/${d.endpoint}`;
    if (this.inFlight.has(key)) return;
    if (!starting && d.nextCheckAt !== null && d.nextCheckAt > now) return;
    const timeoutAt = (d.startedAt ?? now) + rollout.policy.timeoutSeconds * 1000;
    if (d.startedAt !== null && now >= timeoutAt) {
      this.apply(rollout.id, d, { state: 'timed-out', finishedAt: now, nextCheckAt: null, reason: `no outcome within ${rollout.policy.timeoutSeconds} s` });
      return;
    }
    if (!this.opts.commands.isConnected(d.endpoint)) return; // rebooting or offline: looked at again when it registers
    this.inFlight.add(key);
    stepDevice(d, {
      firmware,
      send: (op) => this.opts.commands.execute(d.endpoint, op),
      delivery: rollout.policy.delivery,
      newTransfer: () => {
        const delivery = rollout.policy.delivery;
        const t = this.opts.firmware.createTransfer({ firmwareId: firmware.id, endpoint: d.endpoint, rolloutId: rollout.id, transport: delivery, allowDowngrade: rollout.policy.allowDowngrade });
        const base = delivery === 'push' ? '' : this.opts.packageBaseUrl(delivery);
        return { uri: `${base}/fw/${t.id}/${firmware.name}-${firmware.version}.bin`, transferId: t.id };
      },
      push: (transferId) => this.push(rollout, firmware, d.endpoint, transferId),
      pushing: () => this.pushes.has(`${rollout.id}/${d.endpoint}`),
      maxAttempts: rollout.policy.maxAttempts,
      now,
      retryDelayMs: this.opts.pollIntervalMs,
    })
      .then((change) => {
        if (Object.keys(change).length > 0) this.apply(rollout.id, this.repo.device(rollout.id, d.endpoint) ?? d, change);
      })
      .catch((err: unknown) => {
        // Unreachable mid-step (rebooting, link lost): try again at the next poll.
        this.opts.log.debug({ rollout: rollout.id, endpoint: d.endpoint, err: (err as Error).message }, 'rollout step deferred');
        this.repo.updateDevice(rollout.id, d.endpoint, { nextCheckAt: this.now() + this.opts.pollIntervalMs });
      })
      .finally(() => this.inFlight.delete(key));
  }

  /** One push job per device at a time; it ends on success, on failure or when the link goes. */
  private push(rollout: Rollout, firmware: Firmware, endpoint: string, transferId: string): void {
    const key = `${rollout.id}/${endpoint}`;
    if (this.pushes.has(key) || this.pushesDone.has(transferId) || this.closed) return;
    const controller = new AbortController();
    this.pushes.set(key, controller);
    const manifest = Buffer.from(JSON.stringify(this.opts.firmware.manifest(firmware, { allowDowngrade: rollout.policy.allowDowngrade })));
    const started = this.now();
    pushPackage({
      send: (op) => this.opts.commands.execute(endpoint, op),
      header: encodePackageHeader(manifest),
      imagePath: this.opts.firmware.imagePath(firmware),
      imageSize: firmware.size,
      blockSize: this.opts.pushBlockBytes ?? 65536,
      onSent: (bytes) => this.opts.firmware.countServed(transferId, bytes),
      signal: controller.signal,
    })
      .then(() => {
        this.pushesDone.add(transferId);
        this.opts.log.debug({ rollout: rollout.id, endpoint, ms: this.now() - started }, 'firmware package pushed');
      })
      .catch((err: unknown) => {
        // The device answered with a refusal: its Update Result tells the next step why.
        if (err instanceof PushFailed && err.code !== undefined) this.pushesDone.add(transferId);
        this.opts.log.info({ rollout: rollout.id, endpoint, err: (err as Error).message }, 'firmware push ended early');
      })
      .finally(() => {
        this.pushes.delete(key);
        if (!this.closed) this.repo.updateDevice(rollout.id, endpoint, { nextCheckAt: this.now() });
      });
  }

  private apply(rolloutId: string, d: RolloutDevice, change: DeviceChange): void {
    this.repo.updateDevice(rolloutId, d.endpoint, change, this.now());
    if (change.state && change.state !== d.state) {
      this.opts.log.info({ rollout: rolloutId, endpoint: d.endpoint, state: change.state, updateResult: change.updateResult, reason: change.reason }, 'rollout device state');
      this.opts.events.publish({
        type: 'rollout.device',
        rolloutId,
        endpoint: d.endpoint,
        state: change.state,
        updateResult: change.updateResult ?? null,
        reason: change.reason ?? null,
        at: this.now(),
      });
      this.publish(rolloutId);
      if (change.state === 'succeeded') void this.opts.commands.syncDeviceInfo(d.endpoint);
    }
  }

  private passDeadline(rollout: Rollout, devices: RolloutDevice[], now: number): void {
    for (const d of devices) {
      if (TERMINAL_DEVICE_STATES.has(d.state)) continue;
      const neverStarted = d.startedAt === null;
      this.apply(rollout.id, d, neverStarted ? { state: 'skipped-offline', finishedAt: now, reason: 'not back online before the deadline' } : { state: 'timed-out', finishedAt: now, reason: 'deadline passed' });
    }
    this.repo.setState(rollout.id, 'completed', 'deadline reached', now);
    // Every device has its outcome now; a completed rollout is not looked at again.
    this.repo.finish(rollout.id, now);
    this.opts.log.info({ rollout: rollout.id, ...countsOf(this.repo.devices(rollout.id)) }, 'rollout finished at its deadline');
    this.publish(rollout.id);
  }

  private cancelQueued(rolloutId: string, reason: string): void {
    for (const d of this.repo.devices(rolloutId)) {
      if (NOT_STARTED_STATES.has(d.state) && d.startedAt === null) this.apply(rolloutId, d, { state: 'cancelled', finishedAt: this.now(), reason });
    }
  }

  private transition(id: string, from: Rollout['state'][], to: Rollout['state'], reason: string | null = null): RolloutSummary {
    const rollout = this.repo.get(id);
    if (!rollout) throw new RolloutError(`no rollout ${id}`, 'not-found');
    if (!from.includes(rollout.state)) throw new RolloutError(`rollout ${id} is ${rollout.state}; cannot go to ${to}`, 'conflict');
    this.repo.setState(id, to, reason, this.now());
    this.opts.log.info({ rollout: id, state: to }, 'rollout state changed');
    this.publish(id);
    return this.summary(id)!;
  }

  private wake(endpoint: string): void {
    this.repo.checkNow(endpoint);
    setImmediate(() => void this.tick());
  }

  /** Progress events are coalesced: a burst of device changes costs one summary, not one each. */
  private publish(rolloutId: string): void {
    if (this.pendingProgress.size === 0) setImmediate(() => this.flushProgress());
    this.pendingProgress.add(rolloutId);
  }

  private flushProgress(): void {
    if (this.closed) return;
    const ids = [...this.pendingProgress];
    this.pendingProgress.clear();
    for (const id of ids) this.publishNow(id);
  }

  private publishNow(rolloutId: string): void {
    const s = this.summary(rolloutId);
    if (s) this.opts.events.publish({ type: 'rollout.progress', rolloutId, state: s.state, counts: s.counts, total: s.total, reason: s.reason, at: this.now() });
  }
}

function countsOf(devices: RolloutDevice[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const d of devices) out[d.state] = (out[d.state] ?? 0) + 1;
  return out;
}
