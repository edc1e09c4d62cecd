import { TRANSPORTS, isTransportKind, type TransportKind } from '../protocol/states.js';

/** Where a simulated fleet finds its gateway: the MQTT broker, and the CoAP endpoint (LwM2M bootstrap and CoAP Resource Directory). */
export interface SimulatedServers {
  mqtt: string;
  coap: string;
  /** The LwM2M devices' bootstrap server when it is not `coap`: the gateway's `coaps://` bootstrap endpoint (DTLS). */
  lwm2m?: string;
  /** The plain CoAP devices' Resource Directory when it is not `coap`: the gateway's `coaps://` endpoint, with `coapPsks`. */
  rd?: string;
}

/** The transports of a fleet, dealt out in turn: device i speaks `kinds[i % kinds.length]`. */
export interface TransportPlan {
  kinds: readonly TransportKind[];
  servers: SimulatedServers;
}

export class TransportPlanError extends Error {}

/** `mqtt`, `lwm2m,coap`, `mixed` (all three) → the transports to deal out, in order. */
export function parseTransports(text: string): TransportKind[] {
  if (text.trim() === 'mixed') return [...TRANSPORTS];
  const kinds = text.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (kinds.length === 0) throw new TransportPlanError(`no transport given; use ${TRANSPORTS.join(', ')} or mixed`);
  for (const kind of kinds) {
    if (!isTransportKind(kind)) throw new TransportPlanError(`unknown transport "${kind}"; use ${TRANSPORTS.join(', ')} or mixed`);
  }
  return kinds as TransportKind[];
}

export function transportOf(plan: TransportPlan, index: number): TransportKind {
  return plan.kinds[index % plan.kinds.length]!;
}

/** How many devices of a fleet of `count` speak each transport, e.g. "7 mqtt, 7 lwm2m, 6 coap". */
export function describeTransports(kinds: readonly TransportKind[], count: number): string {
  const counts = new Map<TransportKind, number>();
  for (let i = 0; i < count; i++) {
    const kind = kinds[i % kinds.length]!;
    counts.set(kind, (counts.get(kind) ?? 0) + 1);
  }
  return [...counts].map(([kind, n]) => `${n} ${kind}`).join(', ');
}
