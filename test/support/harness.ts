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
    api: { ...DEFAULT_GATEWAY_CONFIG.api, host: '127.0.0.1', port: 0 },
    // A known first admin (for browser logins), hashed cheaply: tests start hundreds of gateways.
    auth: { ...DEFAULT_GATEWAY_CONFIG.auth, initialAdminPassword: TEST_ADMIN.password, passwordCost: 12 },
    // Never the default 5683: test files run in parallel, each with its own gateways.
    coap: { ...DEFAULT_GATEWAY_CONFIG.coap, host: '127.0.0.1', port: 0 },
    devices: { ...DEFAULT_GATEWAY_CONFIG.devices, requestTimeoutMs: 5000 },
    ...overrides,
  };
}

/** The first admin of every test gateway (gatewayConfig sets its password). */
export const TEST_ADMIN = { username: 'admin', password: 'test-admin-password' } as const;

const adminTokens = new WeakMap<Gateway, string>();
const adminTokensByUrl = new Map<string, string>();

export async function startGateway(dataDir: string, overrides: Partial<GatewayConfig> = {}): Promise<Gateway> {
  const gateway = await Gateway.start(gatewayConfig(dataDir, overrides), testLog);
  adminToken(gateway);
  return gateway;
}

/** The harness's admin token on a gateway, issued on first use (also for gateways a test started itself). */
export function adminToken(gateway: Gateway): string {
  let token = adminTokens.get(gateway);
  if (!token) {
    token = gateway.northbound.operators.issueToken(TEST_ADMIN.username, 'test harness', 'api').token;
    adminTokens.set(gateway, token);
    adminTokensByUrl.set(gateway.apiUrl, token);
  }
  return token;
}

/** The first admin's username and password on a test gateway (what a browser test logs in with). */
export function adminCredentials(_gateway: Gateway): { username: string; password: string } {
  return { ...TEST_ADMIN };
}

/** The admin token of the test gateway listening at this API URL (for a CLI run with --api). */
export function adminTokenFor(apiUrl: string): string | undefined {
  return adminTokensByUrl.get(apiUrl);
}

/** A token of a new operator with this role on the gateway, for tests of what each role may do. */
export async function tokenWithRole(gateway: Gateway, role: 'viewer' | 'operator' | 'admin', username = `${role}-${Math.random().toString(36).slice(2, 8)}`): Promise<string> {
  await gateway.northbound.operators.create(username, 'a-test-password', role);
  return gateway.northbound.operators.issueToken(username, 'test', 'api').token;
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
export function apiHeaders(gateway: Gateway): Record<string, string> {
  return { authorization: `Bearer ${adminToken(gateway)}` };
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
