import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { addFirmware, finished, startFirmwareFleet, versions, type RolloutDeviceView, type RolloutView, type TransferView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/** Large enough for several push blocks (64 KiB) and many HTTP chunks. */
const IMAGE = Buffer.from(Array.from({ length: 300 * 1024 }, (_, i) => (i * 31 + (i >> 9)) & 0xff));
const PUSH_BLOCK = 64 * 1024;

/**
 * The same rollout over each delivery path, end to end through the gateway and simulated
 * devices on MQTT: a good image lands, a tampered one is refused by every device, and an
 * interrupted transfer resumes (visible in the gateway's byte counters).
 */
for (const delivery of ['http', 'coap', 'push'] as const) {
  describe(`firmware delivery: ${delivery}`, () => {
    const dir = tempDir();
    const identities = testIdentities(6, `dl-${delivery}`);
    const models = [...new Set(identities.map((i) => i.model))];
    let gateway: Gateway;
    let fleet: SimulatedFleet;

    before(async () => {
      gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
      fleet = startFirmwareFleet(gateway, identities, `${dir.path}/devices`, '');
      await fleet.whenAllRegistered(30_000);
    });
    after(async () => {
      await fleet.stop();
      await gateway.close();
      dir.remove();
    });

    const roll = async (firmware: string) => {
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', delivery });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      return created.body.id;
    };
    const transfersOf = async (rollout: string) => (await api<{ items: TransferView[] }>(gateway, 'GET', `/api/v1/transfers?rollout=${rollout}`)).body.items;

    test('a tampered image is refused by every device (result 5) and the old version keeps running', async () => {
      const firmware = await addFirmware(gateway, '1.0.5', models, IMAGE);
      // The stored blob no longer matches the hash the signed manifest carries.
      const blob = gateway.firmware.imagePath(gateway.firmware.get(firmware)!);
      const bytes = readFileSync(blob);
      bytes[1234] ^= 0xff;
      writeFileSync(blob, bytes);
      const done = await finished(gateway, await roll(firmware), 90_000);
      const devices = (await api<{ items: RolloutDeviceView[] }>(gateway, 'GET', `/api/v1/rollouts/${done.id}/devices`)).body.items;
      for (const d of devices) assert.deepEqual([d.state, d.updateResult], ['failed', 5], d.endpoint);
      for (const [endpoint, version] of await versions(gateway, identities)) assert.equal(version, '1.0.0', endpoint);
    });

    test('a good image reaches every device; each transfer carries the image exactly once', async () => {
      const firmware = await addFirmware(gateway, '1.1.0', models, IMAGE);
      const done = await finished(gateway, await roll(firmware), 90_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.counts.succeeded, identities.length);
      for (const [endpoint, version] of await versions(gateway, identities)) assert.equal(version, '1.1.0', endpoint);
      const transfers = await transfersOf(done.id);
      assert.equal(transfers.length, identities.length);
      for (const t of transfers) {
        assert.equal(t.transport, delivery);
        assert.equal(t.bytesServed, IMAGE.length, JSON.stringify(t));
      }
    });

    if (delivery === 'push') {
      test('a push cut by a lost link resumes where the device stopped: at most one block is sent twice', async () => {
        const firmware = await addFirmware(gateway, '1.2.0', models, IMAGE);
        const id = await roll(firmware);
        const victim = identities[0]!.endpoint;
        // Cut the device's MQTT session once part of the image is across.
        await waitFor(
          'part of the push delivered',
          async () => {
            const t = (await transfersOf(id)).find((x) => x.endpoint === victim);
            return t && t.bytesServed >= 2 * PUSH_BLOCK && t.bytesServed < IMAGE.length ? t : undefined;
          },
          30_000,
          5,
        );
        gateway.commands.disconnect(victim, 'test: link lost mid-push');
        const done = await finished(gateway, id, 90_000);
        assert.equal(done.state, 'completed', done.reason ?? '');
        const all = (await transfersOf(id)).filter((x) => x.endpoint === victim);
        assert.equal(all.length, 1, `one transfer, resumed: ${JSON.stringify(all)}`);
        const t = all[0]!;
        assert.ok(t.bytesServed > IMAGE.length - 1, 'the whole image arrived');
        assert.ok(t.bytesServed <= IMAGE.length + PUSH_BLOCK, `${t.bytesServed} bytes pushed for a ${IMAGE.length}-byte image`);
        assert.equal((await versions(gateway, [identities[0]!])).get(victim), '1.2.0');
      });
    }
  });
}
