import { randomUUID } from 'node:crypto';
import type { Logger } from '../../common/logger.js';
import { isSuccess, recordToJson, type JsonRecord, type LwM2mPath, type NotificationAttributes } from '../../protocol/model/index.js';
import { DeviceLinkError, type DeviceSessionReport } from '../device-link.js';
import { DeviceUnavailableError, type DeviceCommands } from '../fleet/device-commands.js';
import type { RegistrationListener } from '../fleet/device-sessions.js';
import type { DeviceRepository } from '../store/device-repository.js';
import { attributesFor, MONITORED_RESOURCES, type MonitoredResource } from './monitored-resources.js';

/**
 * The ids of the observations monitoring sets up start with this, so that it knows its own among
 * those a device reports it holds (an operator may observe the same paths).
 */
export const MONITORING_OBSERVATION_PREFIX = 'monitoring-';

export interface MonitoringObservationsOptions {
  commands: DeviceCommands;
  devices: DeviceRepository;
  registrations: { onRegistered(listener: RegistrationListener): () => void };
  log: Logger;
  /** Off: nothing is set up, and monitoring observations a device reports it still holds are cancelled. */
  enabled: boolean;
  pmin: number;
  pmax: number;
  /** Devices being set up at once: a fleet registering together must not flood the links. */
  maxConcurrent: number;
  /** The current values an Observe answers with, as a notification's content would carry them. */
  onCurrentValues(endpoint: string, path: string, content: JsonRecord[]): void;
}

/** What one registration needs: observations to establish, monitoring observations to withdraw. */
export interface ObservationPlan {
  establish: MonitoredResource[];
  withdraw: LwM2mPath[];
  /** Wanted observations the device already holds with the right attributes. */
  kept: number;
}

/**
 * What to do for a device that registers, from the objects it announces and what it says it
 * still holds. A device that says nothing (LwM2M, CoAP: a new registration ends its
 * observations) gets every observation again. One that reports its session keeps the
 * observations it holds with the wanted attributes, gets the missing or different ones (a
 * restarted agent holds none; a changed pmin/pmax differs), and loses monitoring observations
 * no longer wanted (monitoring turned off).
 */
export function planObservations(
  instances: ReadonlySet<string>,
  session: DeviceSessionReport | undefined,
  wanted: { enabled: boolean; pmin: number; pmax: number },
): ObservationPlan {
  const desired = wanted.enabled ? MONITORED_RESOURCES.filter((r) => instances.has(r.instance)) : [];
  const held = new Map((session?.observations ?? []).map((o) => [o.path.toString(), o]));
  const plan: ObservationPlan = { establish: [], withdraw: [], kept: 0 };
  for (const resource of desired) {
    const holding = held.get(resource.path.toString());
    if (holding && sameAttributes(holding.attributes, attributesFor(resource, wanted))) plan.kept++;
    else plan.establish.push(resource);
  }
  const desiredPaths = new Set(desired.map((r) => r.path.toString()));
  for (const o of session?.observations ?? []) {
    if (o.id.startsWith(MONITORING_OBSERVATION_PREFIX) && !desiredPaths.has(o.path.toString())) plan.withdraw.push(o.path);
  }
  return plan;
}

/** The attributes monitoring writes are in force (others the device has do not matter). */
function sameAttributes(held: NotificationAttributes, wanted: NotificationAttributes): boolean {
  return (Object.keys(wanted) as (keyof NotificationAttributes)[]).every((k) => held[k] === wanted[k]);
}

/**
 * Keeps the monitoring observations on every device that registers: Write-Attributes
 * (pmin/pmax) then Observe for each monitored resource the device has, through DeviceCommands
 * (so whatever the transport). Only what is missing is set up: a device over MQTT reports the
 * observations it kept across a reconnection, and a fleet reconnecting after a gateway restart
 * then costs no request at all; a device whose agent restarted reports none and gets them all.
 */
export class MonitoringObservations {
  /** Devices waiting, each with the session of its latest registration. */
  private readonly queue = new Map<string, DeviceSessionReport | undefined>();
  private running = 0;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: MonitoringObservationsOptions) {
    this.unsubscribe = opts.registrations.onRegistered((r) => this.enqueue(r.endpoint, r.session));
  }

  enqueue(endpoint: string, session?: DeviceSessionReport): void {
    if (this.closed) return;
    // A device registering again while it waits is set up for its latest registration.
    this.queue.delete(endpoint);
    this.queue.set(endpoint, session);
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.queue.clear();
  }

  private pump(): void {
    while (!this.closed && this.running < this.opts.maxConcurrent && this.queue.size > 0) {
      const [endpoint, session] = this.queue.entries().next().value as [string, DeviceSessionReport | undefined];
      this.queue.delete(endpoint);
      const instances = new Set((this.opts.devices.get(endpoint)?.objectLinks ?? []).map((l) => l.target));
      const plan = planObservations(instances, session, this.opts);
      if (plan.establish.length === 0 && plan.withdraw.length === 0) {
        if (plan.kept > 0) this.opts.log.debug({ endpoint, kept: plan.kept }, 'monitoring observations still in place');
        continue;
      }
      this.running++;
      void this.carryOut(endpoint, plan).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async carryOut(endpoint: string, plan: ObservationPlan): Promise<void> {
    const periods = { pmin: this.opts.pmin, pmax: this.opts.pmax };
    let observed = 0;
    try {
      for (const path of plan.withdraw) {
        if (this.closed) return;
        const result = await this.opts.commands.execute(endpoint, { kind: 'cancel-observe', path });
        this.opts.log.debug({ endpoint, path: path.toString(), code: result.code }, 'monitoring observation withdrawn');
      }
      for (const resource of plan.establish) {
        if (this.closed) return;
        const path = resource.path;
        const attributes = await this.opts.commands.execute(endpoint, { kind: 'write-attributes', path, attributes: attributesFor(resource, periods) });
        // A client that keeps no attributes still notifies on change: observe anyway.
        if (!isSuccess(attributes.code)) this.opts.log.debug({ endpoint, path: path.toString(), code: attributes.code }, 'monitoring attributes refused');
        // The id marks it as monitoring's when the device reports it back (MQTT; LwM2M has no such id).
        const requestId = `${MONITORING_OBSERVATION_PREFIX}${randomUUID()}`;
        const result = await this.opts.commands.execute(endpoint, { kind: 'observe', path }, undefined, { requestId });
        if (!isSuccess(result.code)) {
          this.opts.log.debug({ endpoint, path: path.toString(), code: result.code }, 'monitoring observation refused');
          continue;
        }
        observed++;
        if (result.content?.length) this.opts.onCurrentValues(endpoint, path.toString(), result.content.map(recordToJson));
      }
      this.opts.log.debug({ endpoint, observed, kept: plan.kept, withdrawn: plan.withdraw.length }, 'monitoring observations set up');
    } catch (err) {
      // The device went away meanwhile: at its next registration it reports what it holds, the rest is set up then.
      if (err instanceof DeviceLinkError || err instanceof DeviceUnavailableError) {
        this.opts.log.debug({ endpoint, reason: err.message }, 'monitoring observations not set up');
      } else {
        this.opts.log.warn({ endpoint, err }, 'setting up monitoring observations failed');
      }
    }
  }
}
