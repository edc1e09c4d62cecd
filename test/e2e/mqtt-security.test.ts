import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { connect, type IClientOptions, type MqttClient } from 'mqtt';
import type { Gateway } from '../../gateway/gateway.js';
import { topicFor } from '../../protocol/mqtt/topics.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { runProcess } from '../support/process.js';
import { waitFor } from '../support/wait.js';

/** Connects with mqtt.js and reports the CONNACK outcome: the client, or the refusal code. */
function tryConnect(url: string, options: IClientOptions): Promise<{ client?: MqttClient; refused?: number; error?: string }> {
  return new Promise((resolve) => {
    const client = connect(url, { reconnectPeriod: 0, connectTimeout: 5000, clean: true, ...options });
    client.once('connect', () => resolve({ client }));
    client.once('error', (err: Error & { code?: number }) => {
      client.end(true);
      resolve(typeof err.code === 'number' ? { refused: err.code } : { error: err.message });
    });
  });
}

const closed = (client: MqttClient) => new Promise<void>((resolve) => (client.disconnected ? resolve() : client.once('close', () => resolve())));

describe('MQTT access control', () => {
  const dir = tempDir();
  const [a, b, c] = testIdentities(3, 'sec');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  let url: string;
  let credentialOf: (endpoint: string) => { identity: string; secret: string };

  before(async () => {
    gateway = await startGateway(`${dir.path}/gateway`);
    url = gateway.mqttUrl;
    // a and b run as agents; c is imported but never started, so its factory identity is unused.
    gateway.devices.importFactoryIdentities([c!]);
    fleet = startFleet(gateway, [a!, b!], `${dir.path}/devices`);
    await fleet.whenAllRegistered(20_000);
    credentialOf = (endpoint) => {
      const account = fleet.agent(endpoint)!.objects!.security.dmServerAccount();
      assert.ok(account, `${endpoint} has an operational account`);
      return account;
    };
  });

  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('a wrong password is refused (CONNACK 4)', async () => {
    const r = await tryConnect(url, { clientId: a!.endpoint, username: a!.endpoint, password: 'not-the-secret-at-all' });
    assert.equal(r.refused, 4);
  });

  test('an unknown endpoint is refused', async () => {
    const r = await tryConnect(url, { clientId: 'stranger', username: 'stranger', password: 'whatever-secret-value' });
    assert.equal(r.refused, 4);
  });

  test("A's credential cannot subscribe to B's topics: the broker answers SUBACK failure", async () => {
    const cred = credentialOf(a!.endpoint);
    // A second connection as A would take over A's session; use A's identity while its agent is stopped.
    const agentA = fleet.agent(a!.endpoint)!;
    await agentA.stop();
    try {
      const { client } = await tryConnect(url, { clientId: a!.endpoint, username: cred.identity, password: cred.secret });
      assert.ok(client, 'A connects with its own credential');
      for (const filter of [topicFor(b!.endpoint, 'req'), topicFor(b!.endpoint, 'res'), 'edgedm/v1/+/req', 'edgedm/#', '#']) {
        const granted: number[] = await client.subscribeAsync(filter, { qos: 1 }).then(
          (g) => g.map((x) => x.qos),
          () => [128],
        );
        assert.deepEqual(granted, [128], `subscription to ${filter} must be refused`);
      }
      // Its own request topic is allowed.
      const own = await client.subscribeAsync(topicFor(a!.endpoint, 'req'), { qos: 1 });
      assert.equal(own[0]?.qos, 1);
      // Publishing as B is refused by closing the connection; nothing reaches the gateway.
      const registeredBefore = gateway.repository.get(b!.endpoint)!.registeredAt;
      client.publish(topicFor(b!.endpoint, 'deregister'), Buffer.from([]), { qos: 1 });
      await closed(client);
      assert.equal(gateway.repository.get(b!.endpoint)!.status, 'online');
      assert.equal(gateway.repository.get(b!.endpoint)!.registeredAt, registeredBefore);
    } finally {
      agentA.start();
      await agentA.whenRegistered(10_000);
    }
  });

  test("A claiming B's client id is refused and B stays connected", async () => {
    const cred = credentialOf(a!.endpoint);
    const r = await tryConnect(url, { clientId: b!.endpoint, username: cred.identity, password: cred.secret });
    assert.equal(r.refused, 2);
    assert.ok(fleet.agent(b!.endpoint)!.registered);
    assert.equal(gateway.repository.get(b!.endpoint)!.status, 'online');
    const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${b!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
  });

  test('a factory identity reaches only its own bootstrap topics', async () => {
    const { client } = await tryConnect(url, { clientId: c!.endpoint, username: c!.endpoint, password: c!.secret });
    assert.ok(client, 'the factory identity connects');
    try {
      for (const filter of [topicFor(c!.endpoint, 'req'), topicFor(a!.endpoint, 'bs/res'), topicFor(a!.endpoint, 'req')]) {
        const granted: number[] = await client.subscribeAsync(filter, { qos: 1 }).then(
          (g) => g.map((x) => x.qos),
          () => [128],
        );
        assert.deepEqual(granted, [128], `factory identity must not subscribe to ${filter}`);
      }
      const own = await client.subscribeAsync(topicFor(c!.endpoint, 'bs/res'), { qos: 1 });
      assert.equal(own[0]?.qos, 1);
      client.publish(topicFor(c!.endpoint, 'register'), Buffer.from([]), { qos: 1 });
      await closed(client);
      assert.notEqual(gateway.repository.get(c!.endpoint)!.status, 'online');
    } finally {
      client.end(true);
    }
  });

  test('mosquitto_sub with A\'s credential on B\'s topic is refused', { skip: !hasMosquittoSub() && 'mosquitto-clients not installed (.ci/run installs it)' }, async () => {
    const cred = credentialOf(a!.endpoint);
    const agentA = fleet.agent(a!.endpoint)!;
    await agentA.stop();
    try {
      const port = new URL(url).port;
      const r = await runProcess(
        'mosquitto_sub',
        ['-h', '127.0.0.1', '-p', port, '-i', a!.endpoint, '-u', cred.identity, '-P', cred.secret, '-t', topicFor(b!.endpoint, 'req'), '-q', '1', '-C', '1', '-W', '3'],
        { timeoutMs: 10_000 },
      );
      assert.match(`${r.stdout}${r.stderr}`, /refused|denied|not authori[sz]ed|fail/i);
      const wrongPassword = await runProcess(
        'mosquitto_sub',
        ['-h', '127.0.0.1', '-p', port, '-i', a!.endpoint, '-u', a!.endpoint, '-P', 'wrong-password-value', '-t', topicFor(a!.endpoint, 'req'), '-C', '1', '-W', '3'],
        { timeoutMs: 10_000 },
      );
      assert.notEqual(wrongPassword.status, 0);
      assert.match(wrongPassword.stderr, /not authori[sz]ed|bad user name or password|refused/i);
    } finally {
      agentA.start();
      await agentA.whenRegistered(10_000);
    }
  });

  test('a decommissioned device is disconnected at once and cannot reconnect', async () => {
    const cred = credentialOf(b!.endpoint);
    const agentB = fleet.agent(b!.endpoint)!;
    const disconnected = new Promise<void>((resolve) => agentB.once('disconnected', () => resolve()));
    const result = await api<{ status: string }>(gateway, 'POST', `/api/v1/devices/${b!.endpoint}/decommission`, {});
    assert.equal(result.body.status, 'decommissioned');
    await disconnected;
    await waitFor('B to have no session', () => !gateway.commands.isConnected(b!.endpoint));
    const withOperational = await tryConnect(url, { clientId: b!.endpoint, username: cred.identity, password: cred.secret });
    assert.equal(withOperational.refused, 4);
    const withFactory = await tryConnect(url, { clientId: b!.endpoint, username: b!.endpoint, password: b!.secret });
    assert.equal(withFactory.refused, 4);
    assert.equal(gateway.repository.get(b!.endpoint)!.status, 'decommissioned');
    const read = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${b!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.status, 409);
  });
});

function hasMosquittoSub(): boolean {
  return spawnSync('mosquitto_sub', ['--help'], { encoding: 'utf8' }).error === undefined;
}
