import type { EventBus } from '../events.js';

export interface DeviceQueueOptions {
  events: EventBus;
  /** Whether a transport holds a session for the device (DeviceCommands.isConnected). */
  isConnected(endpoint: string): boolean;
  /** Called when a device may take its next command: it registered, reconnected or woke up. */
  onReachable(endpoint: string): void;
  /** Called when a device with commands waiting is decommissioned: it will never take them. */
  onDecommissioned(endpoint: string): void;
}

/**
 * The per-device side of fleet commands: which commands each device still has to get, in the
 * order they were created, and whether the device can take one now.
 *
 * A device is reachable when it is registered and listening: `online` in the registry's status
 * stream (a registration, a reconnect, or a queue-mode LwM2M client's Update after sleeping) with
 * a session on its transport. `sleeping` (LwM2M queue mode between awake windows), `offline` and
 * `bootstrapping` hold its queue; nothing is sent into a session that cannot answer.
 * One request per device is in flight at a time, so a device sees its commands strictly in order.
 */
export class DeviceQueues {
  /** Per device: ids of commands with an open row for it, oldest first. */
  private readonly queues = new Map<string, string[]>();
  private readonly busy = new Set<string>();
  private readonly online = new Set<string>();
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: DeviceQueueOptions) {
    this.unsubscribe = opts.events.subscribe((event) => {
      if (event.type === 'device.registered' || (event.type === 'device.status' && event.status === 'online')) {
        this.online.add(event.endpoint);
        if (this.queues.has(event.endpoint)) opts.onReachable(event.endpoint);
      } else if (event.type === 'device.status') {
        this.online.delete(event.endpoint);
        if (event.status === 'decommissioned' && this.queues.has(event.endpoint)) opts.onDecommissioned(event.endpoint);
      }
    });
  }

  /** Devices already online when the engine starts (their events came before it listened). */
  seedOnline(endpoints: Iterable<string>): void {
    for (const endpoint of endpoints) this.online.add(endpoint);
  }

  close(): void {
    this.unsubscribe();
  }

  /** Commands are enqueued in creation order, so appending keeps each device's queue ordered. */
  enqueue(endpoint: string, commandId: string): void {
    const queue = this.queues.get(endpoint);
    if (queue) queue.push(commandId);
    else this.queues.set(endpoint, [commandId]);
  }

  remove(endpoint: string, commandId: string): void {
    const queue = this.queues.get(endpoint);
    if (!queue) return;
    const i = queue.indexOf(commandId);
    if (i >= 0) queue.splice(i, 1);
    if (queue.length === 0) this.queues.delete(endpoint);
  }

  /** Whether `commandId` is the next command the device is to get. */
  isNext(endpoint: string, commandId: string): boolean {
    return this.queues.get(endpoint)?.[0] === commandId;
  }

  /** Commands waiting for the device, oldest first. */
  pending(endpoint: string): readonly string[] {
    return this.queues.get(endpoint) ?? [];
  }

  isReachable(endpoint: string): boolean {
    return this.online.has(endpoint) && this.opts.isConnected(endpoint);
  }

  isBusy(endpoint: string): boolean {
    return this.busy.has(endpoint);
  }

  setBusy(endpoint: string, busy: boolean): void {
    if (busy) this.busy.add(endpoint);
    else this.busy.delete(endpoint);
  }
}
