import type { Logger } from '../../common/logger.js';
import { isSuccess } from '../../protocol/model/index.js';
import { compileTarget, parseTarget } from '../../protocol/targets/index.js';
import type { CommandState, TerminalCommandState } from '../../protocol/states.js';
import { DeviceLinkError } from '../device-link.js';
import type { EventBus } from '../events.js';
import { DeviceUnavailableError, type DeviceCommands } from '../fleet/device-commands.js';
import { DeviceNotFoundError, type DeviceRepository } from '../store/device-repository.js';
import { aggregateResults, type CommandAggregate } from './aggregate.js';
import { buildCommandSpec, CommandSpecError, toOperation, type CommandInput } from './command-spec.js';
import type { CommandDevice, CommandPolicy, CommandRepository, DeviceResult, FleetCommand } from './command-repository.js';
import { DeviceQueues } from './device-queue.js';
import { outcomeOf } from './step-outcome.js';
import { TokenBucket } from './token-bucket.js';

export class FleetCommandError extends Error {
  constructor(
    message: string,
    readonly kind: 'invalid' | 'not-found' | 'conflict',
  ) {
    super(message);
    this.name = 'FleetCommandError';
  }
}

/** Limits on what an operator may ask for: a typo must not queue a command for a year. */
export const POLICY_LIMITS = {
  ttlSeconds: { min: 1, max: 30 * 86_400 },
  maxConcurrent: { min: 1, max: 10_000 },
  ratePerMin: { min: 1, max: 600_000 },
  timeoutMs: { min: 100, max: 300_000 },
  maxAttempts: { min: 1, max: 20 },
} as const;

export interface FleetCommandEngineOptions {
  repository: CommandRepository;
  devices: DeviceRepository;
  commands: DeviceCommands;
  events: EventBus;
  log: Logger;
  /** Policy of a command that does not say otherwise. */
  defaults: CommandPolicy;
  /** How often open commands are looked at besides the events that drive them (expiry, missed events). */
  sweepIntervalMs?: number;
  /** Wait before sending again to a device that stayed connected but did not answer. */
  retryDelayMs?: number;
  now?: () => number;
}

export interface FleetCommandSummary extends FleetCommand {
  counts: Record<CommandState, number>;
  total: number;
}

export interface FleetCommandDetail extends FleetCommandSummary {
  aggregate: CommandAggregate;
}

/** A command some device still needs, as the engine holds it between SQL writes. */
interface ActiveCommand {
  command: FleetCommand;
  /** Open rows not in flight, in target order. */
  waiting: Map<string, CommandDevice>;
  inFlight: Set<string>;
  bucket: TokenBucket | null;
  /** Devices that timed out while connected: not before this time. */
  retryAt: Map<string, number>;
}

const CANCELLED_QUEUED = 'cancelled by the operator before it was sent';
const CANCELLED_SENT = 'cancelled by the operator after it was sent; the device may have carried it out';
const EXPIRED_QUEUED = 'the device was not reachable before the TTL ran out';
const EXPIRED_SENT = 'sent, but the device went away and did not come back to answer before the TTL ran out; it may have carried it out';

/**
 * Fleet commands: one model operation or built-in job fanned out over the devices a target
 * selects, through a durable per-device queue.
 *
 * - The target is resolved once, at creation: the command's device list is fixed then (a device
 *   added to a group later does not get it; re-run the command for that).
 * - Each device gets its commands in creation order, one at a time, when it is reachable
 *   (DeviceQueues); the rest wait in SQL with the command's TTL, and end `expired`, never lost.
 * - A command's sends are capped by maxConcurrent (requests in flight) and ratePerMin (a token
 *   bucket, re-deliveries included).
 * - A row is `sent` before its request leaves. A device that goes away before answering keeps
 *   it `sent`; it is sent again with the same request id when the device is back (the agent
 *   answers a repeated id from its cache instead of executing twice), until the TTL.
 * - Sends go through DeviceCommands: this layer never knows the transport.
 */
export class FleetCommandEngine {
  private readonly repo: CommandRepository;
  private readonly queues: DeviceQueues;
  private readonly active = new Map<string, ActiveCommand>();
  private readonly now: () => number;
  private readonly pendingProgress = new Set<string>();
  private pumpScheduled = false;
  private wakeTimer: NodeJS.Timeout | undefined;
  private wakeAt = Infinity;
  private sweepTimer: NodeJS.Timeout | undefined;
  private closed = false;
  /** Closed and drained: nothing more is written. */
  private stopped = false;

  constructor(private readonly opts: FleetCommandEngineOptions) {
    this.repo = opts.repository;
    this.now = opts.now ?? Date.now;
    this.queues = new DeviceQueues({
      events: opts.events,
      isConnected: (endpoint) => opts.commands.isConnected(endpoint),
      onReachable: () => this.schedulePump(),
      onDecommissioned: (endpoint) => this.decommissioned(endpoint),
    });
  }

  /** Loads every open command from the store (after a restart: exactly where they were) and starts driving them. */
  start(): void {
    this.queues.seedOnline(this.opts.devices.list().filter((d) => d.status === 'online').map((d) => d.endpoint));
    let devices = 0;
    for (const command of this.repo.open()) {
      const rows = this.repo.openDevices(command.id);
      devices += rows.length;
      this.activate(command, rows);
    }
    if (this.active.size > 0) this.opts.log.info({ commands: this.active.size, devices }, 'resumed open fleet commands');
    this.sweepTimer = setInterval(() => this.schedulePump(), this.opts.sweepIntervalMs ?? 1000);
    this.sweepTimer.unref();
    this.schedulePump();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.queues.close();
    // Requests in flight end with their device timeout; do not hold a shutdown longer than that.
    const until = Date.now() + 3000;
    while ([...this.active.values()].some((a) => a.inFlight.size > 0) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
    this.stopped = true;
  }

  /** Throws TargetSyntaxError, InvalidPathError, InvalidValueError, CommandSpecError or FleetCommandError. */
  create(input: { target: string; command: CommandInput; policy?: Partial<CommandPolicy> }): FleetCommandSummary {
    const matches = compileTarget(parseTarget(input.target));
    const spec = buildCommandSpec(input.command);
    const policy = this.validatePolicy({ ...this.opts.defaults, ...definedOnly(input.policy ?? {}) });
    const endpoints = this.opts.devices
      .list()
      .filter((d) => d.status !== 'decommissioned' && matches(d))
      .map((d) => d.endpoint);
    if (endpoints.length === 0) throw new FleetCommandError(`no device matches "${input.target}"`, 'invalid');
    const command = this.repo.create({ target: input.target, spec, policy, endpoints }, this.now());
    this.opts.log.info({ command: command.id, action: spec.action, path: spec.path, devices: endpoints.length, target: input.target, ...policy }, 'fleet command created');
    this.activate(command, this.repo.openDevices(command.id));
    this.publish(command.id);
    this.schedulePump();
    return this.summary(command.id)!;
  }

  /** Rows not yet finished end `cancelled`; requests in flight end with the device's answer. */
  cancel(id: string): FleetCommandSummary {
    const command = this.repo.get(id);
    if (!command) throw new FleetCommandError(`no fleet command ${id}`, 'not-found');
    if (command.state !== 'running') throw new FleetCommandError(`fleet command ${id} is ${command.state}; it cannot be cancelled`, 'conflict');
    const now = this.now();
    this.repo.setState(id, 'cancelled', 'cancelled by the operator', now);
    const active = this.active.get(id);
    if (active) {
      active.command = { ...active.command, state: 'cancelled' };
      const queued = [...active.waiting.values()].filter((d) => d.state === 'queued').map((d) => d.endpoint);
      const sent = [...active.waiting.values()].filter((d) => d.state === 'sent').map((d) => d.endpoint);
      this.endMany(active, queued, 'cancelled', CANCELLED_QUEUED);
      this.endMany(active, sent, 'cancelled', CANCELLED_SENT);
      this.maybeFinish(active);
    }
    this.opts.log.info({ command: id, inFlight: active?.inFlight.size ?? 0 }, 'fleet command cancelled');
    this.publish(id);
    this.schedulePump();
    return this.summary(id)!;
  }

  summary(id: string): FleetCommandSummary | undefined {
    const command = this.repo.get(id);
    if (!command) return undefined;
    const counts = this.repo.counts(id);
    return { ...command, counts, total: Object.values(counts).reduce((a, b) => a + b, 0) };
  }

  detail(id: string): FleetCommandDetail | undefined {
    const summary = this.summary(id);
    return summary && { ...summary, aggregate: aggregateResults(this.repo.results(id)) };
  }

  list(offset: number, limit: number): { items: FleetCommandSummary[]; total: number } {
    const page = this.repo.list(offset, limit);
    return { items: page.items.map((c) => this.summary(c.id)!), total: page.total };
  }

  devices(id: string, opts: { state?: CommandState; offset: number; limit: number }): { items: CommandDevice[]; total: number } {
    if (!this.repo.get(id)) throw new FleetCommandError(`no fleet command ${id}`, 'not-found');
    return this.repo.devices(id, opts);
  }

  /** A device's history and queue: every command that included it, newest first, with its row. */
  ofDevice(endpoint: string, offset: number, limit: number): { items: { command: FleetCommandSummary; device: CommandDevice }[]; total: number } {
    const page = this.repo.ofDevice(endpoint, offset, limit);
    return { items: page.items.map((device) => ({ command: this.summary(device.commandId)!, device })), total: page.total };
  }

  /** Commands still waiting for a device, oldest first (what it will get, in order). */
  pendingFor(endpoint: string): readonly string[] {
    return this.queues.pending(endpoint);
  }

  /** A decommissioned device never comes back for its commands: they fail now rather than expire later. */
  private decommissioned(endpoint: string): void {
    for (const active of [...this.active.values()]) {
      if (!active.waiting.has(endpoint)) continue;
      this.end(active, endpoint, 'failed', 'the device was decommissioned', null);
      this.maybeFinish(active);
    }
    this.schedulePump();
  }

  // ---- the fan-out --------------------------------------------------------------------------

  private activate(command: FleetCommand, rows: CommandDevice[]): void {
    const now = this.now();
    const active: ActiveCommand = {
      command,
      waiting: new Map(rows.map((r) => [r.endpoint, r])),
      inFlight: new Set(),
      // A restart starts with one token: at worst one send early, never a burst.
      bucket: command.policy.ratePerMin === null ? null : new TokenBucket(command.policy.ratePerMin, now),
      retryAt: new Map(),
    };
    this.active.set(command.id, active);
    for (const r of rows) this.queues.enqueue(r.endpoint, command.id);
    this.maybeFinish(active);
  }

  private schedulePump(): void {
    if (this.pumpScheduled || this.closed) return;
    this.pumpScheduled = true;
    setImmediate(() => {
      this.pumpScheduled = false;
      try {
        this.pump();
      } catch (err) {
        this.opts.log.error({ err }, 'fleet command pass failed');
      }
    });
  }

  /** One pass: expire what is past its TTL, then send what may be sent, oldest command first. */
  private pump(): void {
    if (this.closed) return;
    const now = this.now();
    let nextWake = Infinity;
    for (const active of [...this.active.values()]) {
      const { command } = active;
      if (now >= command.expiresAt) this.expire(active);
      else nextWake = Math.min(nextWake, command.expiresAt);
      if (command.state === 'running') nextWake = Math.min(nextWake, this.sendMore(active, now));
      this.maybeFinish(active);
    }
    this.wakeUpAt(nextWake);
  }

  /** Starts requests within the command's limits; returns when it should be looked at again. */
  private sendMore(active: ActiveCommand, now: number): number {
    const { policy } = active.command;
    let nextWake = Infinity;
    for (const row of active.waiting.values()) {
      if (active.inFlight.size >= policy.maxConcurrent) break;
      const endpoint = row.endpoint;
      if (this.queues.isBusy(endpoint) || !this.queues.isNext(endpoint, active.command.id) || !this.queues.isReachable(endpoint)) continue;
      const retryAt = active.retryAt.get(endpoint);
      if (retryAt !== undefined && retryAt > now) {
        nextWake = Math.min(nextWake, retryAt);
        continue;
      }
      if (active.bucket && !active.bucket.take(now)) {
        nextWake = Math.min(nextWake, now + active.bucket.msUntilNext(now));
        break;
      }
      active.retryAt.delete(endpoint);
      this.dispatch(active, row, now);
    }
    return nextWake;
  }

  private dispatch(active: ActiveCommand, row: CommandDevice, now: number): void {
    const { command } = active;
    const endpoint = row.endpoint;
    active.waiting.delete(endpoint);
    active.inFlight.add(endpoint);
    this.queues.setBusy(endpoint, true);
    // On disk before the request leaves: a restart from here on sends it again, with the same id.
    this.repo.markSent(command.id, endpoint, now);
    if (row.state !== 'sent') this.deviceEvent(command.id, endpoint, 'sent', null, null);
    this.opts.log.debug({ command: command.id, endpoint, attempt: row.attempts + 1 }, 'fleet command sent');
    void this.run(command, row)
      .catch((err: unknown): Outcome => {
        this.opts.log.error({ err, command: command.id, endpoint }, 'fleet command step failed unexpectedly');
        return { kind: 'end', state: 'failed', reason: 'internal error', result: null };
      })
      .then((outcome) => {
        try {
          this.settle(active, endpoint, outcome);
        } catch (err) {
          this.opts.log.error({ err, command: command.id, endpoint }, 'recording a fleet command outcome failed');
        }
      });
  }

  /** Runs the command's remaining steps on one device. */
  private async run(command: FleetCommand, row: CommandDevice): Promise<Outcome> {
    const steps = command.spec.steps;
    const result: DeviceResult = { steps: [...(row.result?.steps ?? [])] };
    for (let i = result.steps.length; i < steps.length; i++) {
      const step = steps[i]!;
      let answer;
      try {
        // The same id for the same step on every delivery: the device's dedup key.
        answer = await this.opts.commands.execute(row.endpoint, toOperation(step), command.policy.timeoutMs, { requestId: `${command.id}/${row.endpoint}/${i}` });
      } catch (err) {
        return this.classify(err, row, result);
      }
      const outcome = outcomeOf(step, answer);
      result.steps.push(outcome);
      if (!isSuccess(answer.code) && !step.optional) {
        return { kind: 'end', state: 'failed', reason: `${step.kind} ${step.path}: ${answer.code}${answer.message ? ` ${answer.message}` : ''}`, result };
      }
      if (i < steps.length - 1) this.repo.saveResult(command.id, row.endpoint, result, this.now());
    }
    return { kind: 'end', state: 'succeeded', reason: null, result };
  }

  /** A request that got no answer: the device went away (wait for it), or it is broken (fail). */
  private classify(err: unknown, row: CommandDevice, result: DeviceResult): Outcome {
    const partial = result.steps.length > 0 ? result : null;
    if (err instanceof DeviceNotFoundError) return { kind: 'end', state: 'failed', reason: 'the device is no longer in the registry', result: partial };
    if (err instanceof DeviceUnavailableError) {
      if (err.reason === 'decommissioned') return { kind: 'end', state: 'failed', reason: 'the device was decommissioned', result: partial };
      return { kind: 'wait' };
    }
    if (err instanceof DeviceLinkError) {
      if (err.kind === 'unreachable' || err.kind === 'cancelled') return { kind: 'wait' };
      if (err.kind === 'timeout') {
        if (!this.queues.isReachable(row.endpoint)) return { kind: 'wait' };
        return { kind: 'timeout', message: err.message, partial };
      }
      return { kind: 'end', state: 'failed', reason: err.message, result: partial };
    }
    if (err instanceof CommandSpecError || err instanceof Error) return { kind: 'end', state: 'failed', reason: err.message, result: partial };
    return { kind: 'end', state: 'failed', reason: String(err), result: partial };
  }

  private settle(active: ActiveCommand, endpoint: string, outcome: Outcome): void {
    active.inFlight.delete(endpoint);
    this.queues.setBusy(endpoint, false);
    // After close the store may be gone: the row stays as it is on disk (`sent`), and is sent
    // again with the same id after the restart.
    if (this.stopped) return;
    const { command } = active;
    if (outcome.kind === 'end') {
      this.end(active, endpoint, outcome.state, outcome.reason, outcome.result);
    } else {
      const row = this.repo.device(command.id, endpoint);
      if (row && (row.state === 'queued' || row.state === 'sent')) {
        if (outcome.kind === 'timeout' && row.attempts >= command.policy.maxAttempts) {
          this.end(active, endpoint, 'failed', `${outcome.message} (${row.attempts} attempts)`, outcome.partial);
        } else if (command.state === 'cancelled') {
          this.end(active, endpoint, 'cancelled', CANCELLED_SENT, null);
        } else if (this.now() >= command.expiresAt) {
          this.end(active, endpoint, 'expired', EXPIRED_SENT, null);
        } else {
          // Kept `sent`: delivered again, with the same id, when the device is reachable. One that
          // still looks reachable gets a pause first, so a flapping session cannot spin the engine.
          if (outcome.kind === 'timeout' || this.queues.isReachable(endpoint)) active.retryAt.set(endpoint, this.now() + (this.opts.retryDelayMs ?? 1000));
          active.waiting.set(endpoint, row);
          this.opts.log.debug({ command: command.id, endpoint, why: outcome.kind }, 'fleet command waits for the device');
        }
      } else {
        this.queues.remove(endpoint, command.id);
      }
    }
    this.maybeFinish(active);
    this.schedulePump();
  }

  private end(active: ActiveCommand, endpoint: string, state: TerminalCommandState, reason: string | null, result: DeviceResult | null): void {
    const id = active.command.id;
    active.waiting.delete(endpoint);
    active.retryAt.delete(endpoint);
    this.queues.remove(endpoint, id);
    if (!this.repo.finishDevice(id, endpoint, state, reason, result, this.now())) return;
    const code = result?.steps.at(-1)?.code ?? null;
    if (state !== 'succeeded') this.opts.log.info({ command: id, endpoint, state, reason }, 'fleet command ended on a device');
    this.deviceEvent(id, endpoint, state, code, reason);
  }

  /** Ends many waiting rows at once (cancel, expiry) in one transaction. */
  private endMany(active: ActiveCommand, endpoints: string[], state: TerminalCommandState, reason: string): void {
    if (endpoints.length === 0) return;
    const id = active.command.id;
    for (const endpoint of endpoints) {
      active.waiting.delete(endpoint);
      active.retryAt.delete(endpoint);
      this.queues.remove(endpoint, id);
    }
    const ended = this.repo.finishDevices(id, endpoints, state, reason, this.now());
    for (const endpoint of ended) this.deviceEvent(id, endpoint, state, null, reason);
    this.opts.log.info({ command: id, devices: ended.length, state, reason }, 'fleet command ended on waiting devices');
  }

  /** Waiting rows past the TTL end `expired`; rows in flight end with their answer (or expire then). */
  private expire(active: ActiveCommand): void {
    const waiting = [...active.waiting.values()];
    this.endMany(active, waiting.filter((d) => d.state === 'queued').map((d) => d.endpoint), 'expired', EXPIRED_QUEUED);
    this.endMany(active, waiting.filter((d) => d.state === 'sent').map((d) => d.endpoint), 'expired', EXPIRED_SENT);
  }

  private maybeFinish(active: ActiveCommand): void {
    if (active.waiting.size > 0 || active.inFlight.size > 0) return;
    const { command } = active;
    const now = this.now();
    if (command.state === 'running') this.repo.setState(command.id, 'completed', null, now);
    this.repo.finish(command.id, now);
    this.active.delete(command.id);
    this.opts.log.info({ command: command.id, ...this.repo.counts(command.id) }, 'fleet command finished');
    this.publish(command.id);
  }

  private wakeUpAt(at: number): void {
    if (!Number.isFinite(at) || (this.wakeTimer && at >= this.wakeAt)) return;
    if (this.wakeTimer) clearTimeout(this.wakeTimer);
    this.wakeAt = at;
    this.wakeTimer = setTimeout(() => {
      this.wakeTimer = undefined;
      this.wakeAt = Infinity;
      this.schedulePump();
    }, Math.max(0, at - this.now()));
    this.wakeTimer.unref();
  }

  private validatePolicy(policy: CommandPolicy): CommandPolicy {
    for (const [key, { min, max }] of Object.entries(POLICY_LIMITS) as [keyof typeof POLICY_LIMITS, { min: number; max: number }][]) {
      const value = policy[key];
      if (value === null && key === 'ratePerMin') continue;
      if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
        throw new FleetCommandError(`${key} must be an integer from ${min} to ${max}, got ${String(value)}`, 'invalid');
      }
    }
    return policy;
  }

  private deviceEvent(commandId: string, endpoint: string, state: CommandState, code: string | null, reason: string | null): void {
    this.opts.events.publish({ type: 'fleet.command.device', commandId, endpoint, state, code, reason, at: this.now() });
    this.publish(commandId);
  }

  /** Progress events are coalesced: a burst of device changes costs one summary, not one each. */
  private publish(commandId: string): void {
    if (this.pendingProgress.size === 0) {
      setImmediate(() => {
        if (this.closed) return;
        const ids = [...this.pendingProgress];
        this.pendingProgress.clear();
        for (const id of ids) {
          const s = this.summary(id);
          if (s) this.opts.events.publish({ type: 'fleet.command.progress', commandId: id, state: s.state, counts: s.counts, total: s.total, reason: s.reason, at: this.now() });
        }
      });
    }
    this.pendingProgress.add(commandId);
  }
}

type Outcome =
  | { kind: 'end'; state: TerminalCommandState; reason: string | null; result: DeviceResult | null }
  /** The device went away before answering: keep the row `sent` and deliver again when it is back. */
  | { kind: 'wait' }
  /** The device is still connected but did not answer in time. */
  | { kind: 'timeout'; message: string; partial: DeviceResult | null };

function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
