import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { runCli } from '../support/cli.js';
import { startGateway, tempDir, testIdentities } from '../support/harness.js';
import { followEvents } from '../support/events.js';
import { IMAGE, startFirmwareFleet, versions } from '../support/rollouts.js';

describe('firmware and rollouts from the operator CLI, with progress on the event stream', () => {
  const dir = tempDir();
  const identities = testIdentities(3, 'clro');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 } });
    fleet = startFirmwareFleet(gateway, identities, `${dir.path}/devices`, '');
    await fleet.whenAllRegistered(30_000);
    cli = (...args) => runCli(['--api', gateway.apiUrl, ...args]);
  });

  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('firmware add, rollout create, status until done: every device reports the new version; progress streams as SSE', async () => {
    const image = `${dir.path}/sensor-1.1.0.bin`;
    writeFileSync(image, IMAGE);
    const models = [...new Set(identities.map((i) => i.model))].join(',');
    const added = await cli('firmware', 'add', image, '--version', '1.1.0', '--model', models, '--json');
    assert.equal(added.status, 0, added.stderr);
    const firmware = JSON.parse(added.stdout) as { id: string; size: number; sha256: string };
    assert.equal(firmware.id, 'sensor@1.1.0');
    assert.equal(firmware.size, IMAGE.length);
    const list = await cli('firmware', 'list');
    assert.match(list.stdout, /^sensor@1\.1\.0\s+64\.0 KiB/m);

    const stream = await followEvents(`${gateway.apiUrl}/api/v1/events`);
    try {
      const created = await cli('rollout', 'create', '--firmware', firmware.id, '--target', 'all', '--canary', '1', '--batch', '1', '--json');
      assert.equal(created.status, 0, created.stderr);
      const rollout = JSON.parse(created.stdout) as { id: string; total: number; state: string };
      assert.equal(rollout.total, 3);
      assert.equal(rollout.state, 'running');

      let status: { state: string; finishedAt: string | null; counts: Record<string, number>; devices: { endpoint: string; state: string; batch: number }[] };
      for (;;) {
        const r = await cli('rollout', 'status', rollout.id, '--json');
        assert.equal(r.status, 0, r.stderr);
        status = JSON.parse(r.stdout) as typeof status;
        if (status.finishedAt) break;
        await new Promise((resolve) => setTimeout(resolve, 300));
      }
      assert.equal(status.state, 'completed');
      assert.equal(status.counts.succeeded, 3);
      assert.deepEqual(status.devices.map((d) => d.batch).sort(), [0, 1, 2], 'canary of one, then batches of one');
      const text = await cli('rollout', 'status', rollout.id, '--devices');
      assert.match(text.stdout, /^state\s+completed$/m);
      assert.match(text.stdout, /^progress\s+3\/3 done \(succeeded 3\)$/m);
      for (const i of identities) assert.match(text.stdout, new RegExp(`^${i.endpoint}\\s+\\d\\s+succeeded`, 'm'));

      const running = await versions(gateway, identities);
      for (const i of identities) assert.equal(running.get(i.endpoint), '1.1.0', `${i.endpoint} /3/0/3 over the wire`);

      // The stream told the same story, device by device, in order.
      const mine = stream.events.filter((e) => e.data.rolloutId === rollout.id);
      for (const i of identities) {
        const states = mine.filter((e) => e.type === 'rollout.device' && e.data.endpoint === i.endpoint).map((e) => e.data.state);
        assert.equal(states.at(-1), 'succeeded', `${i.endpoint}: ${states.join(' → ')}`);
        assert.ok(states.includes('downloading'), `${i.endpoint}: ${states.join(' → ')}`);
      }
      const progress = mine.filter((e) => e.type === 'rollout.progress');
      assert.equal(progress[0]?.data.state, 'running');
      assert.equal(progress.at(-1)?.data.state, 'completed');
      assert.deepEqual((progress.at(-1)?.data.counts as Record<string, number>).succeeded, 3);
    } finally {
      stream.close();
    }

    // Steering a finished rollout is refused with a clear error and a non-zero exit.
    const rollouts = JSON.parse((await cli('rollout', 'status', '--json')).stdout) as { id: string }[];
    const pause = await cli('rollout', 'pause', rollouts[0]!.id);
    assert.notEqual(pause.status, 0);
    assert.match(pause.stderr, /^error: .*completed.*cannot go to paused/m);
  });

  test('bad input gets one-line errors: unknown firmware, bad canary, unknown delivery', async () => {
    const unknown = await cli('rollout', 'create', '--firmware', 'nope@9.9.9', '--target', 'all');
    assert.notEqual(unknown.status, 0);
    assert.match(unknown.stderr, /^error: .*no firmware nope@9\.9\.9/m);
    const canary = await cli('rollout', 'create', '--firmware', 'sensor@1.1.0', '--target', 'all', '--canary', 'ten');
    assert.notEqual(canary.status, 0);
    assert.match(canary.stderr, /^error: .*canary/m);
    const delivery = await cli('rollout', 'create', '--firmware', 'sensor@1.1.0', '--target', 'all', '--delivery', 'ftp');
    assert.notEqual(delivery.status, 0);
    assert.match(delivery.stderr, /^error: .*delivery/m);
  });
});
