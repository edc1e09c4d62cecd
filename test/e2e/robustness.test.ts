import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Aedes } from 'aedes';
import { connect, type MqttClient } from 'mqtt';
import { Gateway } from '../../gateway/gateway.js';
import type { GatewayEvent } from '../../gateway/events.js';
import { encodeRegisterMessage, encodeRequestMessage } from '../../protocol/mqtt/codec.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { topicFor } from '../../protocol/mqtt/topics.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, capturingLogger, gatewayConfig, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

interface OperationView {
  code: string;
  content?: Array<{ path: string; value: unknown }>;
}

/** The embedded broker, for injecting what only the gateway could send. */
const brokerOf = (gateway: Gateway) => (gateway as unknown as { mqtt: { broker: Aedes } }).mqtt.broker;

function publishAsGateway(gateway: Gateway, topic: string, payload: Uint8Array): Promise<void> {
  return new Promise((resolve, reject) =>
    brokerOf(gateway).publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
  );
}

describe('robustness and notifications', () => {
  const dir = tempDir();
  const identities = testIdentities(2, 'robust');
  const [a, b] = identities;
  const gatewayLog = capturingLogger('debug');
  const agentLog = capturingLogger('debug');
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await Gateway.start(gatewayConfig(`${dir.path}/gateway`), gatewayLog.log);
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
      log: agentLog.log,
    });
    await fleet.whenAllRegistered(20_000);
  });

  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('malformed uplink messages are dropped with a logged reason; the gateway and the session carry on', async () => {
    const agentA = fleet.agent(a!.endpoint)!;
    const account = agentA.objects!.security.dmServerAccount()!;
    await agentA.stop();
    const client: MqttClient = await new Promise((resolve, reject) => {
      const c = connect(gateway.mqttUrl, { clientId: a!.endpoint, username: account.identity, password: account.secret, reconnectPeriod: 0 });
      c.once('connect', () => resolve(c));
      c.once('error', reject);
    });
    try {
      const garbage = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f]);
      await client.publishAsync(topicFor(a!.endpoint, 'register'), garbage, { qos: 1 });
      await client.publishAsync(topicFor(a!.endpoint, 'res'), Buffer.from('not protobuf at all'), { qos: 1 });
      const implausible = encodeRegisterMessage({ lwm2mVersion: '7.0', lifetime: 60, binding: 'M', queueMode: false, objectLinks: [] });
      await client.publishAsync(topicFor(a!.endpoint, 'register'), Buffer.from(implausible), { qos: 1 });
      const dropped = await waitFor('three logged drops', () => {
        const d = gatewayLog.entries().filter((e) => e.msg === 'dropped a malformed message');
        return d.length >= 3 ? d : undefined;
      });
      assert.ok(dropped.every((e) => typeof e.reason === 'string' && (e.reason as string).length > 0));
      assert.ok(dropped.some((e) => /unsupported LwM2M version "7.0"/.test(e.reason as string)));
      assert.ok(client.connected, 'a malformed message does not cost the device its session');
      assert.notEqual(gateway.repository.get(a!.endpoint)!.status, 'online', 'a malformed register registers nothing');
      // An oversized publish is refused (the broker closes that connection) and nothing crashes.
      // Not awaited: mqtt.js leaves a QoS 1 publish pending forever once the broker drops the link.
      client.publish(topicFor(a!.endpoint, 'res'), Buffer.alloc(gateway.config.mqtt.maxMessageBytes + 1), { qos: 1 });
      await waitFor('the oversized sender disconnected', () => !client.connected);
    } finally {
      client.end(true);
    }
    agentA.start();
    await agentA.whenRegistered(20_000);
    const read = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${a!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
  });

  test('a malformed request reaching the agent is dropped with a reason; the next one is served', async () => {
    await publishAsGateway(gateway, topicFor(b!.endpoint, 'req'), Buffer.from([0xde, 0xad, 0xbe, 0xef]));
    const bad = encodeRequestMessage({ id: 'x', operation: { kind: 'read', path: LwM2mPath.parse('/3/0/0') } });
    await publishAsGateway(gateway, topicFor(b!.endpoint, 'req'), bad.subarray(0, bad.length - 3));
    await waitFor('the agent logged the drops', () => agentLog.entries().filter((e) => e.msg === 'dropped a malformed request').length >= 2);
    const read = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${b!.endpoint}/read`, { path: '/3/0/2' });
    assert.equal(read.body.code, '2.05');
  });

  test('observe: a changed value reaches the event stream as a notification; cancel stops it', async () => {
    const ep = b!.endpoint;
    const notifications: Extract<GatewayEvent, { type: 'device.notification' }>[] = [];
    const unsubscribe = gateway.events.subscribe((e) => {
      if (e.type === 'device.notification' && e.endpoint === ep) notifications.push(e);
    });
    try {
      await api(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/15', value: 'UTC' });
      const observe = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/observe`, { path: '/3/0/15' });
      assert.equal(observe.body.code, '2.05');
      assert.equal(observe.body.content?.[0]?.value, 'UTC');
      await api(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/15', value: 'America/New_York' });
      const n = await waitFor('a notification', () => notifications[0]);
      assert.equal(n.path, '/3/0/15');
      assert.deepEqual(n.content, [{ path: '/3/0/15', type: 'string', value: 'America/New_York' }]);
      const cancel = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/cancel-observe`, { path: '/3/0/15' });
      assert.equal(cancel.body.code, '2.05');
      await api(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/15', value: 'Asia/Tokyo' });
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(notifications.length, 1);
      const attrs = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/write-attributes`, { path: '/3/0/9', attributes: { pmin: 1, pmax: 60, st: 5 } });
      assert.equal(attrs.body.code, '2.04');
      const refused = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/write-attributes`, { path: '/3/0/9', attributes: { pmin: 60, pmax: 10 } });
      assert.equal(refused.body.code, '4.00');
    } finally {
      unsubscribe();
    }
  });
});
