import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { connect, type MqttClient } from 'mqtt';
import type { Gateway } from '../../gateway/gateway.js';
import { ConnectRateLimit } from '../../gateway/transports/mqtt/connect-rate-limit.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, capturingLogger, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';

describe('MQTT connection rate limit', () => {
  test('a token bucket: a second\'s worth at once, then the rate; 0 means no limit', () => {
    let now = 0;
    const { log } = capturingLogger('silent');
    const limit = new ConnectRateLimit(10, log, () => now);
    const burst = Array.from({ length: 15 }, () => limit.admit());
    assert.equal(burst.filter(Boolean).length, 10);
    assert.deepEqual({ admitted: limit.admitted, refused: limit.refused }, { admitted: 10, refused: 5 });
    now += 500; // half a second: five more tokens
    assert.equal(Array.from({ length: 8 }, () => limit.admit()).filter(Boolean).length, 5);
    limit.close();
    const unlimited = new ConnectRateLimit(0, log, () => now);
    assert.ok(Array.from({ length: 10_000 }, () => unlimited.admit()).every(Boolean));
  });

  test('refusals are logged once per burst at info and summed up at debug, never per connection at info', () => {
    let now = 0;
    const { log, entries } = capturingLogger('debug');
    const limit = new ConnectRateLimit(2, log, () => now);
    for (let i = 0; i < 50; i++) limit.admit();
    const info = entries().filter((e) => e.level === 30);
    assert.equal(info.length, 1);
    assert.match(String(info[0]!.msg), /rate limit reached/);
    limit.close();
  });

  describe('on a real gateway', () => {
    const dir = tempDir('edgedm-connrate-');
    let gateway: Gateway | undefined;
    let fleet: SimulatedFleet | undefined;
    const clients: MqttClient[] = [];
    after(async () => {
      for (const c of clients) c.end(true);
      await fleet?.stop();
      await gateway?.close();
      dir.remove();
    });

    test('over-rate CONNECTs get CONNACK 3 (Server unavailable); agents back off with jitter and all end connected', { timeout: 120_000 }, async () => {
      gateway = await startGateway(join(dir.path, 'gw'), { mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: 0, maxMessageBytes: 262144, maxConnectsPerSecond: 5 } });
      const gw = gateway;
      // A burst of raw CONNECTs: the bucket lets 5 through (to the credential check, which
      // refuses these with 4 or 5) and answers the rest with 3 before looking at credentials.
      const codes = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          new Promise<number>((resolve) => {
            const client = connect(gw.mqttUrl, { clientId: `burst-${i}`, username: `burst-${i}`, password: 'wrong', reconnectPeriod: 0 });
            clients.push(client);
            client.once('connect', () => resolve(0));
            client.once('error', (err: Error & { code?: number }) => resolve(typeof err.code === 'number' ? err.code : -1));
          }),
        ),
      );
      assert.ok(codes.filter((c) => c === 3).length >= 10, `codes: ${codes.join(',')}`);
      assert.ok(codes.every((c) => c === 3 || c === 4 || c === 5), `codes: ${codes.join(',')}`);

      // Thirty devices at once (each connects twice: bootstrap, then its operational session).
      const identities = testIdentities(30, 'rl');
      gw.devices.importFactoryIdentities(identities);
      fleet = SimulatedFleet.start({
        identities,
        bootstrapServerUri: gw.mqttUrl,
        stateDir: join(dir.path, 'devices'),
        rampPerSecond: 10_000,
        reconnect: { minDelayMs: 100, maxDelayMs: 2000 },
        log: testLog,
      });
      await fleet.whenAllRegistered(90_000);
      const health = await api<{ devices: { online?: number }; mqtt: { connections: number; connectsRefused: number } }>(gw, 'GET', '/healthz');
      assert.equal(health.body.devices.online, 30);
      assert.equal(health.body.mqtt.connections, 30);
      assert.ok(health.body.mqtt.connectsRefused > 15, `refused ${health.body.mqtt.connectsRefused}`);
    });
  });
});
