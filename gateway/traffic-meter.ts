import type { TransportKind } from '../protocol/states.js';

/** `in`: from the device to the gateway; `out`: from the gateway to the device. */
export type TrafficDirection = 'in' | 'out';

/**
 * What transports report for accounting (Y.4702 8.7), as device-link.ts is what they report for
 * sessions: the transports never import the accounting module, only this.
 */
export interface TrafficMeter {
  /** Bytes of a device's management traffic as on the wire (see docs: MQTT packets, CoAP datagrams). */
  bytes(endpoint: string, transport: TransportKind, direction: TrafficDirection, bytes: number): void;
  /** Management messages: MQTT PUBLISH packets; (CoAP datagrams are counted by the peer resolver). */
  messages(endpoint: string, transport: TransportKind, direction: TrafficDirection, count?: number): void;
  /** Called before every flush of the ledger: report what accumulated (e.g. socket byte counters) now. */
  addSampler(sample: () => void): void;
}
