import { Writable } from 'node:stream';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createLogger } from '../../common/logger.js';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { simulatedIdentities, type SimulatedIdentity } from '../../simulators/identities.js';

export const testLog = createLogger({ level: process.env.EDGEDM_TEST_LOG_LEVEL ?? 'silent' });

export function tempDir(prefix = 'edgedm-test-'): { path: string; remove: () => void } {
  const path = mkdtempSync(join(tmpdir(), prefix));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}

export function gatewayConfig(dataDir: string, overrides: Partial<GatewayConfig> = {}): GatewayConfig {
  return {
    ...DEFAULT_GATEWAY_CONFIG,
    dataDir,
    logLevel: 'silent',
    mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: 0 },
    api: { host: '127.0.0.1', port: 0 },
    // Never the default 5683: test files run in parallel, each with its own gateways.
    coap: { ...DEFAULT_GATEWAY_CONFIG.coap, host: '127.0.0.1', port: 0 },
    devices: { ...DEFAULT_GATEWAY_CONFIG.devices, requestTimeoutMs: 5000 },
    ...overrides,
  };
}

export async function startGateway(dataDir: string, overrides: Partial<GatewayConfig> = {}): Promise<Gateway> {
  return Gateway.start(gatewayConfig(dataDir, overrides), testLog);
}

export function testIdentities(count: number, prefix = 'dev'): SimulatedIdentity[] {
  return simulatedIdentities({ count, prefix, fleetSecret: 'test-fleet-secret-0123456789abcdef' });
}

/** Imports the identities into the gateway and starts them as simulated devices. */
export function startFleet(gateway: Gateway, identities: SimulatedIdentity[], stateDir: string, keepaliveSeconds = 30): SimulatedFleet {
  gateway.devices.importFactoryIdentities(identities);
  return SimulatedFleet.start({
    identities,
    bootstrapServerUri: gateway.mqttUrl,
    stateDir,
    keepaliveSeconds,
    reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
    log: testLog,
  });
}

/** Headers that authenticate a test's raw request to the gateway's API as its admin. */
export function apiHeaders(_gateway: Gateway): Record<string, string> {
  return {};
}

export async function api<T = unknown>(gateway: Gateway, method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const init: RequestInit = { method, headers: apiHeaders(gateway) };
  if (body !== undefined) {
    init.headers = { ...apiHeaders(gateway), 'content-type': typeof body === 'string' ? 'text/csv' : 'application/json' };
    init.body = typeof body === 'string' ? body : JSON.stringify(body);
  }
  const response = await fetch(`${gateway.apiUrl}${path}`, init);
  const text = await response.text();
  return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
}

/** A logger whose JSON lines are kept in memory, to assert what was (and was not) logged. */
export function capturingLogger(level = 'debug'): { log: ReturnType<typeof createLogger>; lines: string[]; entries: () => Record<string, unknown>[] } {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk, _enc, done) {
      lines.push(String(chunk));
      done();
    },
  });
  return { log: createLogger({ level, destination }), lines, entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
