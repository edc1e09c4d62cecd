import assert from 'node:assert/strict';
import type { Gateway } from '../../gateway/gateway.js';
import { parseFaultProfile } from '../../simulators/faults.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { api, apiHeaders, testLog } from './harness.js';
import { waitFor } from './wait.js';

/** Rollout views as the REST API returns them, and the steps the rollout tests share. */
export interface RolloutView {
  id: string;
  state: string;
  reason: string | null;
  total: number;
  counts: Record<string, number>;
  bytesServed: number;
  finishedAt: string | null;
}
export interface RolloutDeviceView {
  endpoint: string;
  batch: number;
  state: string;
  updateResult: number | null;
  reason: string | null;
  attempts: number;
  finishedAt: string | null;
}
export interface TransferView {
  id: string;
  endpoint: string;
  transport: string;
  bytesServed: number;
  requests: number;
  createdAt: string;
}

export const IMAGE = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 13) & 0xff));

export async function addFirmware(gateway: Gateway, version: string, models: string[], image: Buffer = IMAGE): Promise<string> {
  const res = await fetch(`${gateway.apiUrl}/api/v1/firmware?name=sim&version=${version}&model=${models.join(',')}`, {
    method: 'POST',
    headers: { ...apiHeaders(gateway), 'content-type': 'application/octet-stream' },
    body: image,
  });
  assert.equal(res.status, 201, await res.clone().text());
  return ((await res.json()) as { id: string }).id;
}

export async function finished(gateway: Gateway, id: string, timeoutMs = 60_000): Promise<RolloutView> {
  return waitFor(
    `rollout ${id} finished`,
    async () => {
      const r = (await api<RolloutView>(gateway, 'GET', `/api/v1/rollouts/${id}`)).body;
      return r.finishedAt ? r : undefined;
    },
    timeoutMs,
    100,
  );
}

export async function versions(gateway: Gateway, identities: SimulatedIdentity[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const id of identities) {
    const r = await api<{ content?: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${id.endpoint}/read`, { path: '/3/0/3' });
    out.set(id.endpoint, String(r.body.content?.[0]?.value));
  }
  return out;
}

export function startFirmwareFleet(gateway: Gateway, identities: SimulatedIdentity[], dir: string, faults: string): SimulatedFleet {
  gateway.devices.importFactoryIdentities(identities);
  return SimulatedFleet.start({
    identities,
    bootstrapServerUri: gateway.mqttUrl,
    stateDir: dir,
    reconnect: { minDelayMs: 50, maxDelayMs: 500 },
    faults: parseFaultProfile(faults),
    firmware: { healthDeadlineMs: 3000, retryDelayMs: 100 },
    log: testLog,
  });
}

