import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { Agent } from '../../agent/agent.js';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { commandDevice, createCommand, getCommand, whenFinished } from '../support/fleet-commands.js';
import { waitFor } from '../support/wait.js';

/**
 * The durable per-device command queue on a real gateway with real agents: order, TTL expiry,
 * delivery when a device comes back (MQTT reconnect, LwM2M queue-mode wake-up), and the agent's
 * request-id memory that keeps a re-delivered command from running twice.
 */

const LIFETIME = '/1/0/1';

interface Setup {
  gateway: Gateway;
  identities: SimulatedIdentity[];
  start(ids: SimulatedIdentity[]): Promise<SimulatedFleet>;
  done(): Promise<void>;
}

async function setUp(count: number, prefix: string, overrides: Parameters<typeof startGateway>[1] = {}): Promise<Setup> {
  const dir = tempDir();
  const gateway = await startGateway(join(dir.path, 'gw'), overrides);
  const identities = testIdentities(count, prefix);
  gateway.devices.importFactoryIdentities(identities);
  const fleets: SimulatedFleet[] = [];
  return {
    gateway,
    identities,
    async start(ids) {
      const fleet = SimulatedFleet.start({
        identities: ids,
        bootstrapServerUri: gateway.mqttUrl,
        stateDir: join(dir.path, 'devices'),
        reconnect: { minDelayMs: 50, maxDelayMs: 300 },
        log: testLog,
      });
      fleets.push(fleet);
      await fleet.whenAllRegistered(30_000);
      return fleet;
    },
    async done() {
      for (const f of fleets) await f.stop();
      await gateway.close();
      dir.remove();
    },
  };
}

const readValue = async (gateway: Gateway, endpoint: string, path: string) => {
  const r = await api<{ content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path });
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.content[0]!.value;
};

describe('per-device command queue', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    for (const c of cleanups) await c();
  });

  test('commands for an offline device wait queued, and are delivered in creation order, one at a time, when it connects', async () => {
    const s = await setUp(1, 'ord');
    cleanups.push(s.done);
    const ep = s.identities[0]!.endpoint;
    const first = await createCommand(s.gateway, { target: `id:${ep}`, operation: 'write', path: LIFETIME, value: 400 });
    const second = await createCommand(s.gateway, { target: `id:${ep}`, operation: 'write', path: LIFETIME, value: 500 });
    const third = await createCommand(s.gateway, { target: `id:${ep}`, operation: 'read', path: LIFETIME });
    await new Promise((r) => setTimeout(r, 300));
    for (const c of [first, second, third]) {
      const row = await commandDevice(s.gateway, c.id, ep);
      assert.equal(row.state, 'queued', 'nothing is sent to an offline device');
      assert.equal(row.sentAt, null);
      assert.equal(row.attempts, 0);
    }
    assert.deepEqual(s.gateway.fleetCommands.pendingFor(ep), [first.id, second.id, third.id]);
    // The device's side of it (its page in the portal), newest first: its queue, then its history.
    const ofDevice = async () =>
      (await api<{ items: { id: string; device: { state: string } }[]; total: number }>(s.gateway, 'GET', `/api/v1/devices/${ep}/fleet-commands`)).body;
    assert.deepEqual((await ofDevice()).items.map((c) => [c.id, c.device.state]), [[third.id, 'queued'], [second.id, 'queued'], [first.id, 'queued']]);

    await s.start(s.identities);
    for (const c of [first, second, third]) assert.equal((await whenFinished(s.gateway, c.id)).counts.succeeded, 1);
    const rows = await Promise.all([first, second, third].map((c) => commandDevice(s.gateway, c.id, ep)));
    // Strictly in order: each is sent only once the one before it has its answer.
    assert.ok(Date.parse(rows[0]!.finishedAt!) <= Date.parse(rows[1]!.sentAt!), 'the second is sent after the first finished');
    assert.ok(Date.parse(rows[1]!.finishedAt!) <= Date.parse(rows[2]!.sentAt!), 'the third is sent after the second finished');
    assert.deepEqual(rows[2]!.result!.steps[0]!.content!.map((c) => c.value), [500], 'the read sees the second write');
    assert.ok(rows.every((r) => r.attempts === 1));
    assert.deepEqual(s.gateway.fleetCommands.pendingFor(ep), []);
    const history = await ofDevice();
    assert.equal(history.total, 3);
    assert.deepEqual(history.items.map((c) => [c.id, c.device.state]), [[third.id, 'succeeded'], [second.id, 'succeeded'], [first.id, 'succeeded']]);
  });

  test('a command whose TTL runs out while the device is away ends expired with a reason, and is not carried out when the device returns', async () => {
    const s = await setUp(2, 'ttl');
    cleanups.push(s.done);
    const [away, other] = s.identities.map((i) => i.endpoint) as [string, string];
    const command = await createCommand(s.gateway, { target: `id:${away},${other}`, operation: 'write', path: LIFETIME, value: 777, ttlSeconds: 1 });
    assert.equal(command.total, 2);
    assert.equal(Date.parse(command.expiresAt) - Date.parse(command.createdAt), 1000);
    const finished = await whenFinished(s.gateway, command.id, 10_000);
    assert.equal(finished.state, 'completed');
    assert.deepEqual({ expired: finished.counts.expired, queued: finished.counts.queued, sent: finished.counts.sent }, { expired: 2, queued: 0, sent: 0 });
    const row = await commandDevice(s.gateway, command.id, away);
    assert.match(row.reason ?? '', /TTL/);
    assert.ok(row.finishedAt && Date.parse(row.finishedAt) >= Date.parse(command.expiresAt));

    await s.start([s.identities[0]!]);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(await readValue(s.gateway, away, LIFETIME), 300, 'the expired write never reached the device');
    assert.equal((await commandDevice(s.gateway, command.id, away)).state, 'expired');
  });

  test('a queued command for a device that is decommissioned fails at once, with the reason', async () => {
    const s = await setUp(1, 'dec');
    cleanups.push(s.done);
    const ep = s.identities[0]!.endpoint;
    const command = await createCommand(s.gateway, { target: `id:${ep}`, operation: 'reboot' });
    assert.equal((await commandDevice(s.gateway, command.id, ep)).state, 'queued');
    assert.equal((await api(s.gateway, 'POST', `/api/v1/devices/${ep}/decommission`)).status, 200);
    const finished = await whenFinished(s.gateway, command.id, 5000);
    assert.equal(finished.counts.failed, 1);
    assert.equal((await commandDevice(s.gateway, command.id, ep)).reason, 'the device was decommissioned');
    assert.deepEqual(s.gateway.fleetCommands.pendingFor(ep), []);
  });

  test('a device that drops between sent and answered gets the command again with the same id, and answers it without executing twice', async () => {
    const s = await setUp(1, 'dup', { devices: { requestTimeoutMs: 3000, lifetimeSeconds: 300 } });
    cleanups.push(s.done);
    const fleet = await s.start(s.identities);
    const ep = s.identities[0]!.endpoint;
    const device = fleet.devices[0]!;
    let writes = 0;
    // The write lands on the device; its link dies before the answer can leave.
    device.agent.objects!.tree.onChange((path) => {
      if (path.toString() !== LIFETIME) return;
      writes++;
      if (writes === 1) device.host.radio.drop(1500);
    });
    const command = await createCommand(s.gateway, { target: `id:${ep}`, operation: 'write', path: LIFETIME, value: 640 });
    await waitFor('the device to drop', async () => (await commandDevice(s.gateway, command.id, ep)).attempts === 1 && !device.agent.registered, 5000);
    const held = await commandDevice(s.gateway, command.id, ep);
    assert.equal(held.state, 'sent', 'a device gone before answering keeps the command sent, not failed');

    const finished = await whenFinished(s.gateway, command.id, 15_000);
    assert.equal(finished.counts.succeeded, 1);
    const row = await commandDevice(s.gateway, command.id, ep);
    assert.equal(row.attempts, 2, 'delivered again once the device was back');
    assert.equal(row.result!.steps[0]!.code, '2.04');
    assert.equal(writes, 1, 'the repeated request was answered from memory, not executed again');
  });

  test('a queue-mode LwM2M device gets nothing while it sleeps; its command goes out at its next Update', async () => {
    const dir = tempDir();
    const gateway = await startGateway(join(dir.path, 'gw'), { lwm2m: { enabled: true, serverUri: null, queueAwakeMs: 400 } });
    const [identity] = testIdentities(1, 'qm');
    gateway.devices.importFactoryIdentities([identity!]);
    const host = new SimulatedHost({ serialNumber: identity!.serialNumber, model: identity!.model, seed: 5 });
    const agent = new Agent({
      endpoint: identity!.endpoint,
      factorySecret: identity!.secret,
      bootstrapServerUri: gateway.coapUrl!,
      stateDir: join(dir.path, 'agent'),
      keepaliveSeconds: 30,
      reconnect: { minDelayMs: 50, maxDelayMs: 300 },
      host,
      log: testLog,
      lwm2m: { queueMode: true, queueAwakeMs: 400, updateIntervalMs: 2500, listen: { host: '127.0.0.1', port: 0 } },
    });
    cleanups.push(async () => {
      await agent.stop();
      host.close();
      await gateway.close();
      dir.remove();
    });
    agent.start();
    await agent.whenRegistered(15_000);
    const ep = identity!.endpoint;
    await waitFor('the device to sleep', () => gateway.repository.get(ep)?.status === 'sleeping', 5000);

    const command = await createCommand(gateway, { target: `id:${ep}`, operation: 'read', path: '/3/0/1' });
    await new Promise((r) => setTimeout(r, 300));
    const asleep = await commandDevice(gateway, command.id, ep);
    assert.equal(asleep.state, 'queued', 'held in the queue while the device sleeps');
    assert.equal(gateway.repository.get(ep)?.status, 'sleeping');

    const finished = await whenFinished(gateway, command.id, 10_000);
    assert.equal(finished.counts.succeeded, 1);
    const row = await commandDevice(gateway, command.id, ep);
    assert.equal(row.attempts, 1, 'sent once, when it woke');
    assert.deepEqual(row.result!.steps[0]!.content!.map((c) => c.value), [identity!.model]);
  });

  test('bad requests get a clear 4xx and queue nothing', async () => {
    const s = await setUp(1, 'bad');
    cleanups.push(s.done);
    const post = (body: unknown) => api<{ error: { code: string; message: string } }>(s.gateway, 'POST', '/api/v1/fleet/commands', body);
    const cases: [unknown, number, string, RegExp][] = [
      [{ target: 'all', operation: 'format-disk', path: '/3/0/4' }, 400, 'invalid_request', /operation/],
      [{ target: 'all', operation: 'read' }, 400, 'invalid_command', /needs a path/],
      [{ target: 'all', operation: 'read', path: '/3/x' }, 400, 'invalid_path', /.+/],
      [{ target: 'all', operation: 'write', path: '/1/0/1' }, 400, 'invalid_command', /needs a value/],
      [{ target: 'all', operation: 'write', path: '/1/0/1', value: 'soon' }, 400, 'invalid_value', /.+/],
      [{ target: 'all', operation: 'reboot', path: '/3/0/4' }, 400, 'invalid_command', /takes no path/],
      [{ target: 'colour:red', operation: 'read', path: '/3/0/0' }, 400, 'invalid_target', /unknown key/],
      [{ target: 'group:nowhere', operation: 'read', path: '/3/0/0' }, 400, 'invalid_command', /no device matches/],
      [{ target: 'all', operation: 'read', path: '/3/0/0', ttlSeconds: 0 }, 400, 'invalid_request', /ttlSeconds/],
      [{ target: 'all', operation: 'read', path: '/3/0/0', ratePerMin: 'fast' }, 400, 'invalid_request', /ratePerMin/],
      [{ target: 'all', operation: 'execute', path: '/3/0' }, 400, 'invalid_command', /resource path/],
    ];
    for (const [body, status, code, message] of cases) {
      const r = await post(body);
      assert.equal(r.status, status, `${JSON.stringify(body)} → ${JSON.stringify(r.body)}`);
      assert.equal(r.body.error.code, code, JSON.stringify(r.body));
      assert.match(r.body.error.message, message);
    }
    const list = await api<{ total: number }>(s.gateway, 'GET', '/api/v1/fleet/commands');
    assert.equal(list.body.total, 0, 'nothing was created');
    assert.equal((await api(s.gateway, 'GET', '/api/v1/fleet/commands/fc-000000000000')).status, 404);
    assert.equal((await api(s.gateway, 'POST', '/api/v1/fleet/commands/fc-000000000000/cancel')).status, 404);

    const done = await createCommand(s.gateway, { target: 'all', operation: 'read', path: '/3/0/0', ttlSeconds: 1 });
    await whenFinished(s.gateway, done.id, 10_000);
    const again = await api<{ error: { code: string } }>(s.gateway, 'POST', `/api/v1/fleet/commands/${done.id}/cancel`);
    assert.equal(again.status, 409);
    assert.equal(again.body.error.code, 'command_conflict');
    assert.equal((await getCommand(s.gateway, done.id)).state, 'completed');
  });
});
