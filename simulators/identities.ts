import { createHmac, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface SimulatedIdentity {
  endpoint: string;
  secret: string;
  serialNumber: string;
  model: string;
  tags: string[];
  groups: string[];
}

/** A few product lines, so the fleet has something to target by model and group. */
const PRODUCT_LINES = [
  { model: 'EDM-TH1', group: 'north', tag: 'sensor' },
  { model: 'EDM-GW2', group: 'south', tag: 'gateway' },
  { model: 'EDM-MT3', group: 'north', tag: 'meter' },
  { model: 'EDM-TH1', group: 'east', tag: 'sensor' },
] as const;

/** Every model a simulated fleet has. */
export const SIMULATED_MODELS: readonly string[] = [...new Set(PRODUCT_LINES.map((l) => l.model))];

export function endpointName(prefix: string, index: number, count: number): string {
  return `${prefix}-${String(index).padStart(Math.max(4, String(count).length), '0')}`;
}

/**
 * The factory identities of a simulated fleet, derived from one fleet secret: the same secret
 * gives the same devices, so a simulator restarted on the same state directory is the same fleet.
 */
export function simulatedIdentities(opts: { count: number; prefix: string; fleetSecret: string; first?: number }): SimulatedIdentity[] {
  const first = opts.first ?? 1;
  const identities: SimulatedIdentity[] = [];
  for (let i = first; i < first + opts.count; i++) {
    const endpoint = endpointName(opts.prefix, i, first + opts.count - 1);
    const mac = createHmac('sha256', opts.fleetSecret).update(endpoint).digest();
    const line = PRODUCT_LINES[i % PRODUCT_LINES.length]!;
    identities.push({
      endpoint,
      secret: mac.toString('base64url'),
      serialNumber: `SN${mac.subarray(0, 5).toString('hex').toUpperCase()}`,
      model: line.model,
      tags: ['simulated', line.tag],
      groups: [line.group],
    });
  }
  return identities;
}

/** The fleet secret kept in the simulator's state directory (0600), made on first use. */
export function loadFleetSecret(stateDir: string): string {
  mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const file = join(stateDir, 'fleet-secret');
  if (existsSync(file)) return readFileSync(file, 'utf8').trim();
  const secret = randomBytes(32).toString('base64url');
  writeFileSync(file, secret + '\n', { mode: 0o600 });
  chmodSync(file, 0o600);
  return secret;
}
