import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { api, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { freeUdpPort, PeerProcess } from './support/peer-process.js';

/**
 * Interoperability: lwm2m-node-lib 1.4.0 (an LwM2M 1.0 client nobody here wrote) registers with
 * the gateway's LwM2M server unmodified and is managed through edgedm's API. Mirrors the OMA
 * interoperability cases LightweightM2M-1.0-int-101 (registration), -102 (update),
 * -103 (de-registration), -201/-203 (read of a resource and an instance, text/plain),
 * -204 (write), -205 (execute), -301 (observe/notify). It runs in a child process: the
 * library keeps one client per process.
 */

describe('interop: lwm2m-node-lib 1.4.0 client against the gateway', () => {
  const dir = tempDir();
  const [identity] = testIdentities(1, 'lnl');
  const endpoint = identity!.endpoint;
  let gateway: Gateway;
  let peer: PeerProcess;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    gateway.devices.importFactoryIdentities([identity!]);
    peer = PeerProcess.start('lwm2m-node-lib', 'client.cjs', ['127.0.0.1', String(gateway.coapPort!), endpoint, String(await freeUdpPort())]);
    await peer.event('registered');
  });
  after(async () => {
    await peer?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('int-101 registration: the peer appears online over LwM2M 1.0, with its objects and its device identity', async () => {
    await waitFor('online', () => gateway.repository.get(endpoint)?.status === 'online');
    const record = gateway.repository.get(endpoint)!;
    assert.equal(record.transport, 'lwm2m');
    assert.equal(record.lwm2mVersion, '1.0');
    assert.ok(record.objectLinks.some((l) => l.target === '/3/0'), JSON.stringify(record.objectLinks));
  });

  test('int-201 read of a resource (text/plain)', async () => {
    const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    assert.deepEqual(read.body.content.map((r) => [r.path, r.value]), [['/3/0/0', 'lwm2m-node-lib']]);
  });

  test('int-203 read of an instance: the peer reads single resources only (4.04), so the registry reads its identity one resource at a time', async () => {
    const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '4.04', 'what lwm2m-node-lib answers to an instance read');
    await waitFor('identity synced resource by resource', () => gateway.repository.get(endpoint)?.serialNumber === `SN-${endpoint}`);
    const record = gateway.repository.get(endpoint)!;
    assert.deepEqual([record.manufacturer, record.model, record.firmwareVersion], ['lwm2m-node-lib', 'peer-1.0', '1.4.0']);
  });

  test('int-204 write and int-205 execute reach the peer\'s handlers', async () => {
    const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${endpoint}/write`, { path: '/3/0/14', value: '+02:00', type: 'string' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    assert.equal((await peer.event('write')).value, '+02:00');
    const exec = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${endpoint}/execute`, { path: '/3/0/4' });
    assert.equal(exec.body.code, '2.04', JSON.stringify(exec.body));
    assert.equal((await peer.event('execute')).path, '/3/0/4');
  });

  test('int-301 observe: a changed value is notified into the registry', async () => {
    const values: unknown[] = [];
    const unsubscribe = gateway.events.subscribe((e) => {
      if (e.type === 'device.notification' && e.endpoint === endpoint) values.push(e.content[0]?.value);
    });
    try {
      const observed = await api<{ code: string; content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${endpoint}/observe`, { path: '/3/0/9' });
      assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
      assert.equal(observed.body.content[0]?.value, 80);
      peer.send('set /3/0 9 77');
      await waitFor('notification of 77', () => values.includes(77), 10_000);
    } finally {
      unsubscribe();
    }
  });

  test('int-102 update and int-103 de-registration', async () => {
    peer.send('update');
    assert.equal((await peer.event('updated')).error, null);
    await peer.stop();
    await waitFor('offline after de-registration', () => gateway.repository.get(endpoint)?.status === 'offline');
  });
});
