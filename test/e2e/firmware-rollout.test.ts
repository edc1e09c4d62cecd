// test: run alone (scenario A rolls firmware out to 200 simulated devices)
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { faultsFor, parseFaultProfile } from '../../simulators/faults.js';
import { api, apiHeaders, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { addFirmware, finished, IMAGE, startFirmwareFleet as startFleet, versions, type RolloutDeviceView, type RolloutView, type TransferView } from '../support/rollouts.js';

describe('staged firmware rollouts against simulated devices', () => {
  test('scenario A: 200 devices, 10 % fail their health check; canary 10, abort at 20 % over ≥ 20: completes, exactly those roll back', { timeout: 240_000 }, async () => {
    const FLEET = 200;
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
    const identities = testIdentities(FLEET, 'sa');
    const fleet = startFleet(gateway, identities, `${dir.path}/devices`, 'health-fail=10%');
    try {
      await fleet.whenAllRegistered(60_000);
      const models = [...new Set(identities.map((i) => i.model))];
      const firmware = await addFirmware(gateway, '1.1.0', models);
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', canary: 10, batch: 50, abortFailurePct: 20, abortMinDevices: 20 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const done = await finished(gateway, created.body.id, 180_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      const devices = (await api<{ items: RolloutDeviceView[] }>(gateway, 'GET', `/api/v1/rollouts/${done.id}/devices?limit=${FLEET}`)).body.items;
      const profile = parseFaultProfile('health-fail=10%');
      const failing = new Set(identities.filter((_, i) => faultsFor(profile, i).healthFail).map((i) => i.endpoint));
      assert.equal(failing.size, FLEET / 10);
      const running = await versions(gateway, identities);
      for (const d of devices) {
        if (failing.has(d.endpoint)) {
          assert.equal(d.state, 'failed', d.endpoint);
          assert.equal(d.updateResult, 8, `${d.endpoint} reports Update Result 8`);
          assert.equal(running.get(d.endpoint), '1.0.0', `${d.endpoint} rolled back`);
        } else {
          assert.equal(d.state, 'succeeded', d.endpoint);
          assert.equal(running.get(d.endpoint), '1.1.0', d.endpoint);
        }
      }
      assert.equal(done.counts.succeeded, FLEET - failing.size);
      assert.equal(done.counts.failed, failing.size);
      // Byte counters: every device fetched the image once, nothing more.
      const transfers = (await api<{ items: TransferView[] }>(gateway, 'GET', `/api/v1/transfers?rollout=${done.id}&limit=${FLEET}`)).body.items;
      assert.equal(transfers.length, FLEET);
      for (const t of transfers) assert.equal(t.bytesServed, IMAGE.length, t.endpoint);
      assert.equal(done.bytesServed, FLEET * IMAGE.length);
      // A second rollout of the same version touches nobody who already runs it.
      const again = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all' });
      const second = await finished(gateway, again.body.id, 120_000);
      const secondTransfers = (await api<{ items: TransferView[] }>(gateway, 'GET', `/api/v1/transfers?rollout=${second.id}`)).body.items;
      assert.deepEqual(secondTransfers.map((t) => t.endpoint).sort(), [...failing].sort(), 'only the rolled-back devices are offered the image again');
    } finally {
      await fleet.stop();
      await gateway.close();
      dir.remove();
    }
  });

  test('scenario B: 50 % failing; canary 20, abort at 20 % over ≥ 10: aborts inside the canary, nobody outside it is touched', async () => {
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
    const identities = testIdentities(40, 'sb');
    const fleet = startFleet(gateway, identities, `${dir.path}/devices`, 'health-fail=50%');
    try {
      await fleet.whenAllRegistered(30_000);
      const firmware = await addFirmware(gateway, '1.1.0', [...new Set(identities.map((i) => i.model))]);
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', canary: 20, abortFailurePct: 20, abortMinDevices: 10 });
      const done = await finished(gateway, created.body.id, 90_000);
      assert.equal(done.state, 'aborted');
      assert.match(done.reason ?? '', /finished devices failed/);
      const devices = (await api<{ items: RolloutDeviceView[] }>(gateway, 'GET', `/api/v1/rollouts/${done.id}/devices`)).body.items;
      const outside = devices.filter((d) => d.batch !== 0);
      assert.equal(outside.length, 20);
      for (const d of outside) {
        assert.equal(d.state, 'cancelled', d.endpoint);
        assert.equal(d.attempts, 0, `${d.endpoint} was never sent anything`);
      }
      const transfers = (await api<{ items: TransferView[] }>(gateway, 'GET', `/api/v1/transfers?rollout=${done.id}`)).body.items;
      const canary = new Set(devices.filter((d) => d.batch === 0).map((d) => d.endpoint));
      assert.ok(transfers.every((t) => canary.has(t.endpoint)), 'no transfer outside the canary');
      const running = await versions(gateway, identities);
      for (const d of outside) assert.equal(running.get(d.endpoint), '1.0.0');
    } finally {
      await fleet.stop();
      await gateway.close();
      dir.remove();
    }
  });
});

describe('firmware repository over HTTP', () => {
  const dir = tempDir();
  let gateway: Gateway;
  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
  });
  after(async () => {
    await gateway.close();
    dir.remove();
  });

  test('uploads are validated: missing model, bad version, duplicates, wrong content type', async () => {
    const post = (query: string, type = 'application/octet-stream') =>
      fetch(`${gateway.apiUrl}/api/v1/firmware?${query}`, { method: 'POST', headers: { ...apiHeaders(gateway), 'content-type': type }, body: IMAGE });
    assert.equal((await post('name=x&version=1.0.0')).status, 400);
    assert.equal((await post('name=x&version=bad%20version&model=M')).status, 400);
    assert.equal((await post('name=x&version=1.0.0&model=M')).status, 201);
    const dup = await post('name=x&version=1.0.0&model=M');
    assert.equal(dup.status, 409);
    assert.equal(((await dup.json()) as { error: { code: string } }).error.code, 'firmware_conflict');
    assert.equal((await post('name=y&version=1.0.0&model=M', 'text/plain')).status, 415);
    const list = await api<{ items: { id: string; size: number }[] }>(gateway, 'GET', '/api/v1/firmware');
    assert.deepEqual(list.body.items.map((f) => [f.id, f.size]), [['x@1.0.0', IMAGE.length]]);
  });

  test('rollout requests with an unknown firmware, a bad target or a bad policy get clear 4xx errors', async () => {
    assert.equal((await api(gateway, 'POST', '/api/v1/rollouts', { firmware: 'nope@1', target: 'all' })).status, 404);
    const badTarget = await api<{ error: { code: string } }>(gateway, 'POST', '/api/v1/rollouts', { firmware: 'x@1.0.0', target: 'colour:red' });
    assert.equal(badTarget.status, 400);
    assert.equal(badTarget.body.error.code, 'invalid_target');
    const badCanary = await api<{ error: { message: string } }>(gateway, 'POST', '/api/v1/rollouts', { firmware: 'x@1.0.0', target: 'all', canary: 'ten' });
    assert.equal(badCanary.status, 400);
    assert.match(badCanary.body.error.message, /canary/);
    assert.equal((await api(gateway, 'POST', '/api/v1/rollouts', { firmware: 'x@1.0.0', target: 'id:nobody' })).status, 400);
    assert.equal((await api(gateway, 'POST', '/api/v1/rollouts/ro-missing/pause')).status, 404);
  });
});
