import type { Logger } from '../../common/logger.js';
import { isSuccess, recordToJson, type JsonRecord } from '../../protocol/model/index.js';
import { DeviceLinkError } from '../device-link.js';
import type { EventBus } from '../events.js';
import { DeviceUnavailableError, type DeviceCommands } from '../fleet/device-commands.js';
import type { DeviceRepository } from '../store/device-repository.js';
import { attributesFor, MONITORED_RESOURCES } from './monitored-resources.js';

export interface MonitoringObservationsOptions {
  commands: DeviceCommands;
  devices: DeviceRepository;
  events: EventBus;
  log: Logger;
  pmin: number;
  pmax: number;
  /** Devices being set up at once: a fleet registering together must not flood the links. */
  maxConcurrent: number;
  /** The current values an Observe answers with, as a notification's content would carry them. */
  onCurrentValues(endpoint: string, path: string, content: JsonRecord[]): void;
}

/**
 * Sets up the monitoring observations on every device that registers: Write-Attributes
 * (pmin/pmax) then Observe for each monitored resource the device has, through DeviceCommands
 * (so whatever the transport). Done again at each registration: a new Observe replaces the old
 * one on the device, and a device that lost its observations (reboot, new session) gets them back.
 */
export class MonitoringObservations {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private running = 0;
  private closed = false;
  private readonly unsubscribe: () => void;

  constructor(private readonly opts: MonitoringObservationsOptions) {
    this.unsubscribe = opts.events.subscribe((event) => {
      if (event.type === 'device.registered') this.enqueue(event.endpoint);
    });
  }

  enqueue(endpoint: string): void {
    if (this.closed || this.queued.has(endpoint)) return;
    this.queued.add(endpoint);
    this.queue.push(endpoint);
    this.pump();
  }

  close(): void {
    this.closed = true;
    this.unsubscribe();
    this.queue.length = 0;
    this.queued.clear();
  }

  private pump(): void {
    while (!this.closed && this.running < this.opts.maxConcurrent && this.queue.length > 0) {
      const endpoint = this.queue.shift()!;
      this.queued.delete(endpoint);
      this.running++;
      void this.setUp(endpoint).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async setUp(endpoint: string): Promise<void> {
    const instances = new Set((this.opts.devices.get(endpoint)?.objectLinks ?? []).map((l) => l.target));
    const periods = { pmin: this.opts.pmin, pmax: this.opts.pmax };
    let observed = 0;
    try {
      for (const resource of MONITORED_RESOURCES) {
        if (this.closed) return;
        if (!instances.has(resource.instance)) continue;
        const path = resource.path;
        const attributes = await this.opts.commands.execute(endpoint, { kind: 'write-attributes', path, attributes: attributesFor(resource, periods) });
        // A client that keeps no attributes still notifies on change: observe anyway.
        if (!isSuccess(attributes.code)) this.opts.log.debug({ endpoint, path: path.toString(), code: attributes.code }, 'monitoring attributes refused');
        const result = await this.opts.commands.execute(endpoint, { kind: 'observe', path });
        if (!isSuccess(result.code)) {
          this.opts.log.debug({ endpoint, path: path.toString(), code: result.code }, 'monitoring observation refused');
          continue;
        }
        observed++;
        if (result.content?.length) this.opts.onCurrentValues(endpoint, path.toString(), result.content.map(recordToJson));
      }
      this.opts.log.debug({ endpoint, observed }, 'monitoring observations set up');
    } catch (err) {
      // The device went away meanwhile: its next registration sets them up again.
      if (err instanceof DeviceLinkError || err instanceof DeviceUnavailableError) {
        this.opts.log.debug({ endpoint, reason: err.message }, 'monitoring observations not set up');
      } else {
        this.opts.log.warn({ endpoint, err }, 'setting up monitoring observations failed');
      }
    }
  }
}
