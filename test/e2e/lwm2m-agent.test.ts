import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { addFirmware, finished, versions, type RolloutView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/**
 * The agent as an LwM2M 1.1 client end to end: Client-Initiated Bootstrap with the gateway's
 * bootstrap server (NoSec account, firmware trust anchor in object 32769), registration, the
 * same API operations as over MQTT, and firmware rollouts that drive its Object 5 over LwM2M.
 */
describe('the agent over LwM2M, managed by the gateway', () => {
  const dir = tempDir();
  const identities = testIdentities(3, 'lwa');
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.coapUrl!,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
      firmware: { healthDeadlineMs: 5000, retryDelayMs: 100 },
      log: testLog,
    });
    await fleet.whenAllRegistered(30_000);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('bootstrapped and registered over LwM2M 1.1: online, identity synced, same view as any device', async () => {
    for (const id of identities) {
      await waitFor(`${id.endpoint} synced`, () => gateway.repository.get(id.endpoint)?.serialNumber === id.serialNumber);
      const record = gateway.repository.get(id.endpoint)!;
      assert.equal(record.status, 'online');
      assert.equal(record.transport, 'lwm2m');
      assert.equal(record.lwm2mVersion, '1.1');
      assert.equal(record.binding, 'U');
      assert.ok(record.objectLinks.some((l) => l.target === '/5/0'));
      assert.ok(!record.objectLinks.some((l) => l.target.startsWith('/0') || l.target.startsWith('/32769')), 'Security and the trust anchor are not announced');
    }
  });

  test('read, write, execute and observe through the API', async () => {
    const ep = identities[0]!.endpoint;
    const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '2.05');
    assert.equal(read.body.content.find((r) => r.path === '/3/0/2')?.value, identities[0]!.serialNumber);
    const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/1/0/3', value: 120, type: 'integer' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const back = await api<{ content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/1/0/3' });
    assert.equal(back.body.content[0]?.value, 120);
    const hidden = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/0/1' });
    assert.equal(hidden.body.code, '4.01', 'the Security object is not the DM server\'s to read (Unauthorized)');
    const observed = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/observe`, { path: '/3/0/13' });
    assert.equal(observed.body.code, '2.05');
    const discover = await api<{ code: string; links: { target: string }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/discover`, { path: '/5' });
    assert.equal(discover.body.code, '2.05', JSON.stringify(discover.body));
    assert.ok(discover.body.links.some((l) => l.target === '/5/0/1'), JSON.stringify(discover.body.links));
  });

  for (const [delivery, version] of [
    ['coap', '1.1.0'],
    ['http', '1.2.0'],
  ] as const) {
    test(`a firmware rollout over LwM2M (Package URI ${delivery}://): every device verifies, installs and reports ${version}`, async () => {
      const firmware = await addFirmware(gateway, version, [...new Set(identities.map((i) => i.model))]);
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', delivery });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const done = await finished(gateway, created.body.id, 90_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.counts.succeeded, identities.length, JSON.stringify(done.counts));
      const running = await versions(gateway, identities);
      for (const id of identities) assert.equal(running.get(id.endpoint), version, id.endpoint);
    });
  }
});
