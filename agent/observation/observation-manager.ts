import type { Logger } from '../../common/logger.js';
import { LwM2mPath, ResultCode, recordToJson, type LwM2mRecord, type NotificationAttributes, type OperationResult } from '../../protocol/model/index.js';
import { ServerResource } from '../../protocol/model/objects/index.js';
import type { ObjectTree } from '../objects/object-tree.js';

export interface Notification {
  observationId: string;
  path: LwM2mPath;
  sequence: number;
  content: LwM2mRecord[];
}

/** An observation in force, as the agent reports it when it registers again (DM over MQTT). */
export interface HeldObservation {
  id: string;
  path: LwM2mPath;
  /** The Write-Attributes in force at its path. */
  attributes: NotificationAttributes;
}

export interface ObservationManagerOptions {
  tree: ObjectTree;
  /**
   * Carries a notification out. false: it could not be sent (no connection): the observation
   * keeps the last value that did go out, so the value is sent when it is next evaluated.
   */
  notify(notification: Notification): boolean;
  log: Logger;
  /**
   * Observed resources are sampled every pmin, but not more often than this (default 5 s):
   * values the device reads from its hardware (battery, memory, signal) change without the
   * tree hearing of it.
   */
  sampleFloorMs?: number;
}

interface Observation {
  id: string;
  path: LwM2mPath;
  sequence: number;
  lastSentAt: number;
  lastContent: string;
  lastNumber: number | undefined;
  pending: NodeJS.Timeout | undefined;
  maxTimer: NodeJS.Timeout | undefined;
  sampler: NodeJS.Timeout | undefined;
}

/**
 * LwM2M Observe on the agent side: one observation per path (a new Observe replaces it),
 * notifications on change, shaped by the Write-Attributes in force (pmin, pmax, gt, lt, st)
 * and the server's default periods (/1/x/2, /1/x/3).
 */
export class ObservationManager {
  private readonly observations = new Map<string, Observation>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: ObservationManagerOptions) {
    this.unsubscribe = opts.tree.onChange((path) => this.changed(path));
  }

  get size(): number {
    return this.observations.size;
  }

  /** Starts (or restarts) observing a path; the result is the current value, as a read's. */
  async observe(id: string, path: LwM2mPath): Promise<OperationResult> {
    const result = await this.opts.tree.handle({ kind: 'read', path }, 'server');
    if (result.code !== ResultCode.CONTENT) return result;
    this.cancel(path);
    const content = result.content ?? [];
    const observation: Observation = {
      id,
      path,
      sequence: 0,
      lastSentAt: Date.now(),
      lastContent: serialise(content),
      lastNumber: numberOf(content),
      pending: undefined,
      maxTimer: undefined,
      sampler: undefined,
    };
    this.observations.set(path.toString(), observation);
    this.armMaxPeriod(observation);
    this.armSampling(observation);
    return result;
  }

  cancel(path: LwM2mPath): boolean {
    const observation = this.observations.get(path.toString());
    if (!observation) return false;
    this.stop(observation);
    return true;
  }

  cancelAll(): void {
    for (const observation of [...this.observations.values()]) this.stop(observation);
  }

  /** The observations in force, with the attributes in force at each path. */
  held(): HeldObservation[] {
    return [...this.observations.values()].map((o) => ({ id: o.id, path: o.path, attributes: this.opts.tree.attributesAt(o.path) }));
  }

  /**
   * The link is back: every observation whose value changed since its last notification that
   * went out notifies now (what changed while the device was away is not lost until pmax).
   */
  resume(): void {
    for (const observation of [...this.observations.values()]) {
      if (!observation.pending) this.evaluate(observation, false);
    }
  }

  /** Stops listening to the tree for good (the agent is shutting down this tree). */
  close(): void {
    this.cancelAll();
    this.unsubscribe();
  }

  private stop(observation: Observation): void {
    clearTimeout(observation.pending);
    clearTimeout(observation.maxTimer);
    clearInterval(observation.sampler);
    this.observations.delete(observation.path.toString());
  }

  private changed(path: LwM2mPath): void {
    for (const observation of this.observations.values()) {
      if (observation.pending || !(path.startsWith(observation.path) || observation.path.startsWith(path))) continue;
      const wait = Math.max(0, observation.lastSentAt + this.periods(observation.path).pmin * 1000 - Date.now());
      observation.pending = setTimeout(() => {
        observation.pending = undefined;
        this.evaluate(observation, false);
      }, wait);
      observation.pending.unref();
    }
  }

  private evaluate(observation: Observation, periodic: boolean): void {
    if (this.observations.get(observation.path.toString()) !== observation) return;
    let content: LwM2mRecord[];
    try {
      content = this.opts.tree.read(observation.path, 'server');
    } catch (err) {
      // The observed path went away (instance deleted): the observation ends with it.
      this.opts.log.info({ path: observation.path.toString(), reason: (err as Error).message }, 'observation ended');
      this.stop(observation);
      return;
    }
    const serialised = serialise(content);
    if (!periodic && (serialised === observation.lastContent || !this.passesThresholds(observation, content))) return;
    const sent = this.opts.notify({ observationId: observation.id, path: observation.path, sequence: observation.sequence + 1, content });
    if (sent) {
      observation.sequence++;
      observation.lastSentAt = Date.now();
      observation.lastContent = serialised;
      observation.lastNumber = numberOf(content);
    }
    this.armMaxPeriod(observation);
  }

  /** gt/lt notify when the value crosses them, st when it moved at least that far (LwM2M 1.1 §5.1.2). */
  private passesThresholds(observation: Observation, content: LwM2mRecord[]): boolean {
    const { gt, lt, st } = this.opts.tree.attributesAt(observation.path);
    const value = numberOf(content);
    const last = observation.lastNumber;
    if (value === undefined || last === undefined || (gt === undefined && lt === undefined && st === undefined)) return true;
    if (gt !== undefined && (last > gt) !== (value > gt)) return true;
    if (lt !== undefined && (last < lt) !== (value < lt)) return true;
    if (st !== undefined && Math.abs(value - last) >= st) return true;
    return false;
  }

  private armMaxPeriod(observation: Observation): void {
    clearTimeout(observation.maxTimer);
    const { pmax, pmin } = this.periods(observation.path);
    if (!pmax || pmax < pmin) return;
    observation.maxTimer = setTimeout(() => this.evaluate(observation, true), pmax * 1000);
    observation.maxTimer.unref();
  }

  /**
   * A resource is read again every pmin (at least sampleFloorMs apart) and notified when it
   * changed, as a device samples its sensors. Only single resources: an observed instance holds
   * values such as Current Time that change on every read, and notifies on tree changes only.
   */
  private armSampling(observation: Observation): void {
    if (observation.path.resourceId === undefined) return;
    const pminMs = this.periods(observation.path).pmin * 1000;
    const every = Math.max(pminMs, this.opts.sampleFloorMs ?? 5000);
    observation.sampler = setInterval(() => {
      // Never sooner than pmin after the last notification, whatever sent it.
      if (!observation.pending && Date.now() - observation.lastSentAt >= pminMs) this.evaluate(observation, false);
    }, every);
    observation.sampler.unref();
  }

  private periods(path: LwM2mPath): { pmin: number; pmax: number | undefined } {
    const attributes = this.opts.tree.attributesAt(path);
    const server = this.opts.tree.object(1)?.sortedInstances()[0];
    const defaultPmin = server?.read(ServerResource.DEFAULT_MINIMUM_PERIOD);
    const defaultPmax = server?.read(ServerResource.DEFAULT_MAXIMUM_PERIOD);
    return {
      pmin: attributes.pmin ?? (typeof defaultPmin === 'number' ? defaultPmin : 0),
      pmax: attributes.pmax ?? (typeof defaultPmax === 'number' ? defaultPmax : undefined),
    };
  }
}

function serialise(content: LwM2mRecord[]): string {
  return JSON.stringify(content.map(recordToJson));
}

/** The value of a single numeric resource, for thresholds. */
function numberOf(content: LwM2mRecord[]): number | undefined {
  if (content.length !== 1) return undefined;
  const v = content[0]!.value;
  return typeof v === 'number' ? v : typeof v === 'bigint' ? Number(v) : undefined;
}
