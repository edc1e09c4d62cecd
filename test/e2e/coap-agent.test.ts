import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { runCli } from '../support/cli.js';
import { api, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { startCoapAgents, trustAnchorOf, type CoapAgent } from '../support/coap-agents.js';
import { addFirmware, finished, versions, type RolloutView } from '../support/rollouts.js';
import { freeUdpPort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

interface ReadBody {
  code: string;
  content: { path: string; value: unknown }[];
}

/**
 * The agent over plain CoAP end to end: it finds the gateway's Resource Directory through
 * `/.well-known/core?rt=core.rd`, registers, and is then managed like any device: the same
 * registry record, API operations and firmware rollouts as over MQTT or LwM2M.
 */
describe('the agent over plain CoAP, managed by the gateway', () => {
  const dir = tempDir();
  const identities = testIdentities(3, 'coa');
  let gateway: Gateway;
  let agents: CoapAgent[];

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
    gateway.devices.importFactoryIdentities(identities);
    agents = startCoapAgents(identities, `${dir.path}/devices`, {
      rdUri: gateway.coapUrl!,
      trustAnchor: await trustAnchorOf(gateway),
      firmware: { healthDeadlineMs: 5000, retryDelayMs: 100 },
    });
    await Promise.all(agents.map((a) => a.agent.whenRegistered(20_000)));
  });
  after(async () => {
    await Promise.all((agents ?? []).map((a) => a.agent.stop()));
    await gateway?.close();
    dir.remove();
  });

  test('registered through the Resource Directory: online, transport coap, identity synced, objects known', async () => {
    for (const id of identities) {
      await waitFor(`${id.endpoint} synced`, () => gateway.repository.get(id.endpoint)?.serialNumber === id.serialNumber);
      const record = gateway.repository.get(id.endpoint)!;
      assert.equal(record.status, 'online');
      assert.equal(record.transport, 'coap');
      assert.ok(record.objectLinks.some((l) => l.target === '/5/0'), JSON.stringify(record.objectLinks));
      assert.ok(!record.objectLinks.some((l) => l.target.startsWith('/0/') || l.target.startsWith('/32769')), 'Security and the trust anchor are not announced');
    }
    const listed = await api<{ items: { endpoint: string }[] }>(gateway, 'GET', `/api/v1/devices?target=${encodeURIComponent('transport:coap')}`);
    assert.deepEqual(listed.body.items.map((d) => d.endpoint).sort(), identities.map((i) => i.endpoint).sort());
  });

  test('read, write, execute and discover through the API', async () => {
    const ep = identities[0]!.endpoint;
    const read = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    assert.equal(read.body.content.find((r) => r.path === '/3/0/2')?.value, identities[0]!.serialNumber);
    const one = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/1' });
    assert.equal(one.body.content[0]?.value, identities[0]!.model);

    const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/14', value: '+02:00', type: 'string' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const back = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/14' });
    assert.equal(back.body.content[0]?.value, '+02:00');

    const executed = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/3/0/12' });
    assert.equal(executed.body.code, '2.04', JSON.stringify(executed.body));
    const notExecutable = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/3/0/0' });
    assert.equal(notExecutable.body.code, '4.05');

    const hidden = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/0/0' });
    assert.equal(hidden.body.code, '4.01', 'the Security object stays private over plain CoAP too');

    const discover = await api<{ code: string; links: { target: string }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/discover`, { path: '/5' });
    assert.equal(discover.body.code, '2.05', JSON.stringify(discover.body));
    assert.ok(discover.body.links.some((l) => l.target === '/5/0/1'), JSON.stringify(discover.body.links));
  });

  test('observe: the current value at once, later values as device.notification events', async () => {
    const ep = identities[1]!.endpoint;
    const events: { path: string; content: { value: unknown }[] }[] = [];
    const unsubscribe = gateway.events.subscribe((e) => {
      if (e.type === 'device.notification' && e.endpoint === ep) events.push(e);
    });
    try {
      await api(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/14', value: '+01:00', type: 'string' });
      const observed = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/observe`, { path: '/3/0/14' });
      assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
      assert.equal(observed.body.content[0]?.value, '+01:00');
      const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/14', value: '+05:30', type: 'string' });
      assert.equal(write.body.code, '2.04');
      const event = await waitFor('a notification', () => events.find((e) => e.content[0]?.value === '+05:30'));
      assert.equal(event.path, '/3/0/14');
      const cancelled = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/cancel-observe`, { path: '/3/0/14' });
      assert.equal(cancelled.body.code, '2.05');
    } finally {
      unsubscribe();
    }
  });

  for (const [delivery, version] of [
    ['coap', '1.1.0'],
    ['http', '1.2.0'],
  ] as const) {
    test(`a firmware rollout to plain CoAP devices (Package URI ${delivery}://): every device verifies, installs and reports ${version}`, async () => {
      const firmware = await addFirmware(gateway, version, [...new Set(identities.map((i) => i.model))]);
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'transport:coap', delivery });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const done = await finished(gateway, created.body.id, 90_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.counts.succeeded, identities.length, JSON.stringify(done.counts));
      const running = await versions(gateway, identities);
      for (const id of identities) assert.equal(running.get(id.endpoint), version, id.endpoint);
    });
  }

  test('an orderly stop removes the registration: the device goes offline at once', async () => {
    const last = agents.at(-1)!;
    await last.agent.stop();
    await waitFor('offline', () => gateway.repository.get(last.agent.endpoint)?.status === 'offline', 5000);
  });
});

describe('a plain CoAP device the gateway manages by its address', () => {
  const dir = tempDir();
  const [identity] = testIdentities(1, 'cma');
  let gateway: Gateway;
  let device: CoapAgent;
  let port: number;

  before(async () => {
    // Short: one test waits for an address that never answers.
    gateway = await startGateway(`${dir.path}/gw`, { devices: { requestTimeoutMs: 1500, lifetimeSeconds: 300 } });
    gateway.devices.importFactoryIdentities([identity!]);
    port = await freeUdpPort();
    // It knows of no directory that answers: only the operator can bring it in.
    [device] = startCoapAgents([identity!], `${dir.path}/devices`, {
      rdUri: `coap://127.0.0.1:${await freeUdpPort()}`,
      coap: { listen: { host: '127.0.0.1', port }, requestTimeoutMs: 500 },
    });
  });
  after(async () => {
    await device?.agent.powerOff();
    await gateway?.close();
    dir.remove();
  });

  test('POST /devices/{endpoint}/manage with coap://host:port: the gateway learns its objects and manages it like any device', async () => {
    const ep = identity!.endpoint;
    const managed = await api<{ status: string; transport: string; address: string; objects: string[] }>(gateway, 'POST', `/api/v1/devices/${ep}/manage`, { address: `coap://127.0.0.1:${port}` });
    assert.equal(managed.status, 200, JSON.stringify(managed.body));
    assert.equal(managed.body.status, 'online');
    assert.equal(managed.body.transport, 'coap');
    assert.equal(managed.body.address, `127.0.0.1:${port}`);
    assert.ok(managed.body.objects.includes('/3/0') && managed.body.objects.includes('/5/0'), managed.body.objects.join(','));
    const read = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/2' });
    assert.equal(read.body.content[0]?.value, identity!.serialNumber);
    await waitFor('identity synced', () => gateway.repository.get(ep)?.serialNumber === identity!.serialNumber);
  });

  test('a bad address is 400, an unknown endpoint 404, a silent address 504', async () => {
    const ep = identity!.endpoint;
    const bad = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${ep}/manage`, { address: 'coap://device.example:5683' });
    assert.equal(bad.status, 400);
    assert.equal(bad.body.error.code, 'invalid_address');
    const unknown = await api<{ error: { code: string } }>(gateway, 'POST', '/api/v1/devices/no-such-device/manage', { address: `coap://127.0.0.1:${port}` });
    assert.equal(unknown.status, 404);
    const silent = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${ep}/manage`, { address: `coap://127.0.0.1:${await freeUdpPort()}` });
    assert.equal(silent.status, 504, JSON.stringify(silent.body));
  });

  test('edgedm devices manage <endpoint> <address>', async () => {
    const ep = identity!.endpoint;
    const ok = await runCli(['devices', 'manage', ep, `coap://127.0.0.1:${port}`, '--api', gateway.apiUrl]);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, new RegExp(`${ep} managed over CoAP at 127\\.0\\.0\\.1:${port}: online`));
    const bad = await runCli(['devices', 'manage', ep, 'http://127.0.0.1:80', '--api', gateway.apiUrl]);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /^error: .*coap:\/\//m);
  });

  test('a gateway restart keeps it managed: probed at start, online and answering without the operator', async () => {
    const ep = identity!.endpoint;
    await gateway.close();
    gateway = await startGateway(`${dir.path}/gw`, { devices: { requestTimeoutMs: 1500, lifetimeSeconds: 300 } });
    await waitFor('managed again after the restart', () => gateway.repository.get(ep)?.status === 'online', 10_000);
    assert.equal(gateway.repository.get(ep)?.transport, 'coap');
    const read = await api<ReadBody>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/2' });
    assert.equal(read.body.content[0]?.value, identity!.serialNumber);
  });

  test('a decommissioned device is no longer managed after a restart', async () => {
    const ep = identity!.endpoint;
    const revoked = await api(gateway, 'POST', `/api/v1/devices/${ep}/decommission`);
    assert.equal(revoked.status, 200, JSON.stringify(revoked.body));
    await gateway.close();
    gateway = await startGateway(`${dir.path}/gw`, { devices: { requestTimeoutMs: 1500, lifetimeSeconds: 300 } });
    // Give a restored probe the time it would need to answer, then check nothing came of it.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    assert.equal(gateway.repository.get(ep)?.status, 'decommissioned');
    assert.equal(gateway.coapDevices?.isConnected(ep), false);
  });
});
