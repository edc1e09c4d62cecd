// test: run alone (a thousand agents reconnecting at once to a restarted gateway, in one process)
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

/**
 * The thundering herd at CI scale: 1,000 MQTT devices online, the gateway stops and starts again
 * on the same data directory and port, and every device reconnects at once. The gateway's
 * connection rate limit (here 50/s) refuses the excess with CONNACK 3, the agents back off with
 * jitter, and every device ends online. Durations are reported, never asserted.
 */

const COUNT = 1000;
/**
 * Low enough that the herd must hit it whatever the machine's speed: with backoff capped at 5 s,
 * all 1,000 devices try within any ~5 s once the port is open, where at most 50 + 5 × 50 get in.
 */
const MAX_CONNECTS_PER_SECOND = 50;

describe('thundering herd after a gateway restart', () => {
  const dir = tempDir('edgedm-herd-');
  let gateway: Gateway | undefined;
  let fleet: SimulatedFleet | undefined;
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('every device is back online; the gateway refused the excess with CONNACK 3 and survived', { timeout: 300_000 }, async (t) => {
    const dataDir = join(dir.path, 'gw');
    const limited = (port: number) => ({
      mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port, maxMessageBytes: 262144, maxConnectsPerSecond: MAX_CONNECTS_PER_SECOND },
      devices: { requestTimeoutMs: 20_000, lifetimeSeconds: 300 },
    });
    gateway = await startGateway(dataDir, limited(0));
    const port = gateway.mqttPort;
    const identities = testIdentities(COUNT, 'h');
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: join(dir.path, 'devices'),
      keepaliveSeconds: 120,
      rampPerSecond: 400,
      reconnect: { minDelayMs: 200, maxDelayMs: 5000 },
      log: testLog,
    });
    await fleet.whenAllRegistered(180_000);
    const agents = fleet.agents;

    // The restart: every connection drops at once; the devices find the port closed, then open.
    await gateway.close();
    gateway = undefined;
    await waitFor('every agent to notice', () => agents.every((a) => !a.registered), 30_000);
    const restarted = Date.now();
    gateway = await startGateway(dataDir, limited(port));
    const gw = gateway;
    assert.equal(gw.repository.list().filter((d) => d.status === 'online').length, 0, 'a restarted gateway starts with every device offline');

    await waitFor('every device back online', () => gw.repository.list().filter((d) => d.status === 'online').length === COUNT, 240_000, 250);
    const health = await api<{ status: string; devices: Record<string, number>; mqtt: { connections: number; connectsAdmitted: number; connectsRefused: number } }>(gw, 'GET', '/healthz');
    t.diagnostic(`${COUNT} devices back online ${Date.now() - restarted} ms after the restart; CONNECTs admitted ${health.body.mqtt.connectsAdmitted}, refused ${health.body.mqtt.connectsRefused}`);
    assert.equal(health.body.status, 'ok');
    assert.equal(health.body.devices.online, COUNT);
    assert.equal(health.body.mqtt.connections, COUNT);
    assert.ok(health.body.mqtt.connectsRefused > 0, 'the herd ran into the rate limit');
    await waitFor('every agent registered', () => agents.every((a) => a.registered), 30_000);
    // No device needed a new credential: the restarted gateway knew them all from its data directory.
    const read = await api<{ code: string }>(gw, 'POST', `/api/v1/devices/${identities[COUNT - 1]!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
  });
});
