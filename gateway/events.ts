import { EventEmitter } from 'node:events';
import type { JsonRecord } from '../protocol/model/index.js';
import type { DeviceStatus, TransportKind } from '../protocol/states.js';
import type { AlarmView } from './alarms/alarm-view.js';

/** What happens in the fleet, as one stream: the API's event feed, the portal and later alarms read it. */
export type GatewayEvent =
  | { type: 'device.status'; endpoint: string; status: DeviceStatus; previous: DeviceStatus | null; at: number }
  | { type: 'device.registered'; endpoint: string; transport: TransportKind; at: number }
  | { type: 'device.info'; endpoint: string; at: number }
  | { type: 'device.notification'; endpoint: string; observationId: string; path: string; content: JsonRecord[]; at: number }
  | { type: 'rollout.progress'; rolloutId: string; state: string; counts: Record<string, number>; total: number; reason: string | null; at: number }
  | { type: 'rollout.device'; rolloutId: string; endpoint: string; state: string; updateResult: number | null; reason: string | null; at: number }
  | { type: 'fleet.command.progress'; commandId: string; state: string; counts: Record<string, number>; total: number; reason: string | null; at: number }
  | { type: 'fleet.command.device'; commandId: string; endpoint: string; state: string; code: string | null; reason: string | null; at: number }
  | { type: 'alarm.raised' | 'alarm.cleared' | 'alarm.acknowledged'; alarm: AlarmView; at: number };

export class EventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    // Every open event-stream client is a listener; the default cap of 10 would warn spuriously.
    this.emitter.setMaxListeners(0);
  }

  publish(event: GatewayEvent): void {
    this.emitter.emit('event', event);
  }

  subscribe(listener: (event: GatewayEvent) => void): () => void {
    this.emitter.on('event', listener);
    return () => this.emitter.off('event', listener);
  }
}
