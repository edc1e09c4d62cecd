import assert from 'node:assert/strict';
import type { Gateway } from '../../gateway/gateway.js';
import { api } from './harness.js';
import { waitFor } from './wait.js';

/** The REST API's views of fleet commands, as tests read them. */
export interface CommandView {
  id: string;
  target: string;
  operation: string;
  path: string | null;
  state: string;
  reason: string | null;
  total: number;
  counts: Record<string, number>;
  policy: { ttlSeconds: number; maxConcurrent: number; ratePerMin: number | null; timeoutMs: number };
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  finishedAt: string | null;
  aggregate?: {
    steps: { kind: string; path: string; codes: Record<string, number> }[];
    values: Record<string, { devices: number; distinct: number; top: { value: unknown; count: number }[]; numeric?: { min: number; max: number; mean: number } }>;
  };
}

export interface CommandDeviceView {
  endpoint: string;
  state: string;
  attempts: number;
  reason: string | null;
  result: { steps: { kind: string; path: string; code: string; message?: string; content?: { path: string; value: unknown }[]; recentEvents?: string[] }[] } | null;
  queuedAt: string;
  sentAt: string | null;
  finishedAt: string | null;
  expiresAt: string;
}

export async function createCommand(gateway: Gateway, body: Record<string, unknown>): Promise<CommandView> {
  const created = await api<CommandView>(gateway, 'POST', '/api/v1/fleet/commands', body);
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body;
}

export async function getCommand(gateway: Gateway, id: string): Promise<CommandView> {
  const r = await api<CommandView>(gateway, 'GET', `/api/v1/fleet/commands/${id}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

/** Every device row of a command (in this state), page by page. */
export async function commandDevices(gateway: Gateway, id: string, state?: string): Promise<CommandDeviceView[]> {
  const items: CommandDeviceView[] = [];
  for (;;) {
    const query = `?offset=${items.length}&limit=1000${state ? `&state=${state}` : ''}`;
    const r = await api<{ items: CommandDeviceView[]; total: number }>(gateway, 'GET', `/api/v1/fleet/commands/${id}/devices${query}`);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    items.push(...r.body.items);
    if (r.body.items.length === 0 || items.length >= r.body.total) return items;
  }
}

export async function commandDevice(gateway: Gateway, id: string, endpoint: string): Promise<CommandDeviceView> {
  const device = (await commandDevices(gateway, id)).find((d) => d.endpoint === endpoint);
  assert.ok(device, `${endpoint} is not a device of ${id}`);
  return device;
}

/** Waits until no device of the command is queued or sent. */
export async function whenFinished(gateway: Gateway, id: string, timeoutMs = 30_000): Promise<CommandView> {
  return waitFor(`fleet command ${id} to finish`, async () => {
    const c = await getCommand(gateway, id);
    return c.finishedAt ? c : undefined;
  }, timeoutMs, 100);
}

/** Sorted send times (ms) of a command's devices. */
export function sendTimes(devices: CommandDeviceView[]): number[] {
  return devices
    .filter((d) => d.sentAt !== null)
    .map((d) => Date.parse(d.sentAt!))
    .sort((a, b) => a - b);
}
