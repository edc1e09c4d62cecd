import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

interface OperationView {
  code: string;
  success: boolean;
  content?: { path: string; type: string; value: unknown }[];
  links?: { target: string; attributes: Record<string, string | null> }[];
}
interface DeviceView {
  endpoint: string;
  status: string;
  transport: string | null;
  manufacturer: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  registeredAt: string | null;
  objects: string[];
}

describe('walking skeleton: gateway + 3 simulated agents over MQTT', () => {
  const dir = tempDir();
  const identities = testIdentities(3);
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gateway`);
    fleet = startFleet(gateway, identities, `${dir.path}/devices`);
    await fleet.whenAllRegistered(20_000);
  });

  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('every device bootstraps, registers and is listed online with its identity', async () => {
    const devices = await waitFor('3 online devices with their identity synced', async () => {
      const { body } = await api<{ items: DeviceView[]; total: number }>(gateway, 'GET', '/api/v1/devices?target=status:online');
      return body.total === 3 && body.items.every((d) => d.serialNumber) ? body.items : undefined;
    });
    for (const [i, device] of devices.entries()) {
      assert.equal(device.endpoint, identities[i]!.endpoint);
      assert.equal(device.transport, 'mqtt');
      assert.equal(device.manufacturer, 'edgedm simulated devices');
      assert.equal(device.serialNumber, identities[i]!.serialNumber);
      assert.ok(device.objects.includes('/3/0'), `object list ${device.objects.join(',')} lacks /3/0`);
      assert.ok(!device.objects.some((o) => o.startsWith('/0/')), 'the Security object is never listed');
    }
  });

  test('read /3/0/0 returns the manufacturer, /3/0/2 the serial number', async () => {
    const ep = identities[0]!.endpoint;
    const manufacturer = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/0' });
    assert.equal(manufacturer.status, 200);
    assert.equal(manufacturer.body.code, '2.05');
    assert.deepEqual(manufacturer.body.content, [{ path: '/3/0/0', type: 'string', value: 'edgedm simulated devices' }]);
    const serial = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/2' });
    assert.equal(serial.body.content?.[0]?.value, identities[0]!.serialNumber);
  });

  test('a read of a missing resource answers 4.04, a write to a read-only one 4.05', async () => {
    const ep = identities[0]!.endpoint;
    const missing = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/99' });
    assert.equal(missing.status, 200);
    assert.equal(missing.body.code, '4.04');
    assert.equal(missing.body.success, false);
    const readOnly = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/0', value: 'x' });
    assert.equal(readOnly.body.code, '4.05');
  });

  test('a writable resource written over the wire reads back the new value', async () => {
    const ep = identities[1]!.endpoint;
    const write = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/15', value: 'Europe/Zurich' });
    assert.equal(write.body.code, '2.04');
    const read = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/15' });
    assert.equal(read.body.content?.[0]?.value, 'Europe/Zurich');
    const lifetime = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/1/0/1', value: 120 });
    assert.equal(lifetime.body.code, '2.04');
    await waitFor('the registration update carrying the new lifetime', async () => {
      const { body } = await api<{ lifetime: number }>(gateway, 'GET', `/api/v1/devices/${ep}`);
      return body.lifetime === 120;
    });
  });

  test('discover lists the Device object resources', async () => {
    const ep = identities[0]!.endpoint;
    const discover = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/discover`, { path: '/3' });
    assert.equal(discover.body.code, '2.05');
    const targets = discover.body.links?.map((l) => l.target) ?? [];
    assert.ok(targets.includes('/3/0/0'), `discover gave ${targets.join(',')}`);
    assert.ok(targets.includes('/3/0/4'));
  });

  test('executing reboot takes the device offline and it comes back online', async () => {
    const ep = identities[2]!.endpoint;
    const statuses: string[] = [];
    const unsubscribe = gateway.events.subscribe((e) => {
      if (e.type === 'device.status' && e.endpoint === ep) statuses.push(e.status);
    });
    try {
      const before = (await api<DeviceView>(gateway, 'GET', `/api/v1/devices/${ep}`)).body.registeredAt;
      const reboot = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/3/0/4' });
      assert.equal(reboot.body.code, '2.04');
      await waitFor('the device back online after its reboot', async () => {
        const { body } = await api<DeviceView>(gateway, 'GET', `/api/v1/devices/${ep}`);
        return body.status === 'online' && body.registeredAt !== before;
      });
      assert.deepEqual(statuses, ['offline', 'online']);
    } finally {
      unsubscribe();
    }
  });

  test('factory reset returns the device to bootstrap and it comes back with a new operational credential', async () => {
    const ep = identities[0]!.endpoint;
    const credentialBefore = gateway.repository.get(ep)!.credentialHash;
    assert.ok(credentialBefore);
    const statuses: string[] = [];
    const unsubscribe = gateway.events.subscribe((e) => {
      if (e.type === 'device.status' && e.endpoint === ep) statuses.push(e.status);
    });
    try {
      const reset = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/3/0/5' });
      assert.equal(reset.body.code, '2.04');
      await waitFor('the device online again after bootstrapping', () => statuses.includes('bootstrapping') && statuses.at(-1) === 'online');
      const credentialAfter = gateway.repository.get(ep)!.credentialHash;
      assert.ok(credentialAfter);
      assert.notEqual(credentialAfter, credentialBefore);
      assert.deepEqual(statuses.slice(0, 2), ['offline', 'bootstrapping']);
      // The new credential works for real: the device answers requests again.
      const read = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/0' });
      assert.equal(read.body.code, '2.05');
    } finally {
      unsubscribe();
    }
  });

  test('bad API requests get a 4xx with a JSON error', async () => {
    const ep = identities[0]!.endpoint;
    const badPath = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/x' });
    assert.equal(badPath.status, 400);
    assert.equal(badPath.body.error.code, 'invalid_path');
    const unknown = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/nobody/read`, { path: '/3/0/0' });
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'device_not_found');
    const badTarget = await api<{ error: { code: string } }>(gateway, 'GET', `/api/v1/devices?target=${encodeURIComponent('colour:red')}`);
    assert.equal(badTarget.status, 400);
    assert.equal(badTarget.body.error.code, 'invalid_target');
    const badValue = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/1/0/1', value: 'soon' });
    assert.equal(badValue.status, 400);
    assert.equal(badValue.body.error.code, 'invalid_value');
  });

  test('a device that does not answer gives a timeout error, not a hang', async () => {
    const ep = identities[1]!.endpoint;
    const agent = fleet.agent(ep)!;
    // Freeze the device's request handling: its session stays up but nothing answers.
    const tree = agent.objects!.tree;
    const original = tree.handle.bind(tree);
    tree.handle = () => new Promise(() => {});
    try {
      const started = Date.now();
      const result = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/0', timeoutMs: 500 });
      assert.equal(result.status, 504);
      assert.equal(result.body.error.code, 'device_timeout');
      assert.ok(Date.now() - started < 4000);
    } finally {
      tree.handle = original;
    }
  });
});
