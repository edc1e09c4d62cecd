import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { applyBootstrapWrite } from '../../agent/objects/bootstrap.js';
import { ObservationManager, type Notification } from '../../agent/observation/observation-manager.js';
import { serverAccountContent } from '../../gateway/fleet/bootstrap-grant.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { tempDir, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { agentObjects, recordingActions } from './objects.js';

const p = LwM2mPath.parse;

async function setup(sampleFloorMs?: number) {
  const dir = tempDir();
  const host = new SimulatedHost({ serialNumber: 'SN-O', seed: 3 });
  const objects = agentObjects(dir.path, recordingActions().actions, host);
  await applyBootstrapWrite(objects, serverAccountContent({ serverUri: 'mqtt://127.0.0.1:1', endpoint: 'dev-1', secret: 's', lifetimeSeconds: 60, binding: 'M' }));
  const sent: Notification[] = [];
  /** Off: the binding has no connection, notifications cannot go out. */
  const link = { up: true };
  const observations = new ObservationManager({
    tree: objects.tree,
    notify: (n) => link.up && sent.push(n) > 0,
    log: testLog,
    ...(sampleFloorMs !== undefined ? { sampleFloorMs } : {}),
  });
  return { dir, objects, observations, sent, host, link };
}

describe('observations', () => {
  const cleanups: Array<() => void> = [];
  after(() => cleanups.forEach((c) => c()));

  test('a written value is notified with increasing sequence numbers; equal values are not', async () => {
    const { dir, objects, observations, sent } = await setup();
    cleanups.push(() => (observations.close(), dir.remove()));
    const first = await observations.observe('obs-1', p('/3/0/15'));
    assert.equal(first.code, '4.04', 'an absent resource cannot be observed');
    await objects.tree.handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [{ path: p('/3/0/15'), type: 'string', value: 'UTC' }] });
    assert.equal((await observations.observe('obs-1', p('/3/0/15'))).code, '2.05');
    for (const tz of ['Europe/Zurich', 'Europe/Zurich', 'Asia/Tokyo']) {
      await objects.tree.handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [{ path: p('/3/0/15'), type: 'string', value: tz }] });
      await new Promise((r) => setTimeout(r, 20));
    }
    await waitFor('two notifications', () => sent.length === 2);
    assert.deepEqual(sent.map((n) => [n.observationId, n.path.toString(), n.sequence]), [
      ['obs-1', '/3/0/15', 1],
      ['obs-1', '/3/0/15', 2],
    ]);
    assert.deepEqual(sent.map((n) => n.content[0]!.value), ['Europe/Zurich', 'Asia/Tokyo']);
    assert.ok(observations.cancel(p('/3/0/15')));
    assert.ok(!observations.cancel(p('/3/0/15')));
    await objects.tree.handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [{ path: p('/3/0/15'), type: 'string', value: 'UTC' }] });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(sent.length, 2, 'nothing after cancel');
  });

  test('pmin holds changes back and sends the latest value; st filters small steps; pmax sends anyway', async () => {
    const { dir, objects, observations, sent, host } = await setup();
    cleanups.push(() => (observations.close(), dir.remove()));
    await objects.tree.handle({ kind: 'write-attributes', path: p('/3/0/11'), attributes: { pmin: 1 } });
    await observations.observe('errors', p('/3/0/11'));
    objects.device.raiseError(4);
    objects.device.raiseError(8);
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sent.length, 0, 'held back by pmin');
    await waitFor('one notification after pmin', () => sent.length === 1, 3000);
    assert.deepEqual(sent[0]!.content.map((r) => r.value), [4, 8], 'the latest value, once');

    host.setBatteryLevel(80);
    await objects.tree.handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { st: 10, pmax: 1 } });
    await observations.observe('battery', p('/3/0/9'));
    const before = sent.length;
    await waitFor('a pmax notification although nothing changed', () => sent.length > before, 3000);
    assert.equal(sent.at(-1)!.observationId, 'battery');
    assert.equal(sent.at(-1)!.content[0]!.value, 80);
  });

  test('a value read from the hardware is sampled every pmin and notified when it changed, and only then', async () => {
    const { dir, objects, observations, sent, host } = await setup(50);
    cleanups.push(() => (observations.close(), dir.remove()));
    host.setBatteryLevel(70);
    await objects.tree.handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmin: 0.2 } });
    await observations.observe('battery', p('/3/0/9'));
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(sent.length, 0, 'no change, no notification');
    // The battery drains behind the tree's back: only sampling can see it.
    host.setBatteryLevel(55);
    await waitFor('the sampled change notified', () => sent.length === 1, 3000);
    assert.equal(sent[0]!.content[0]!.value, 55);
    await new Promise((r) => setTimeout(r, 600));
    assert.equal(sent.length, 1, 'the same value is not notified again');
  });

  test('what changed while notifications could not go out is sent on resume, once; held() reports each observation with its attributes', async () => {
    const { dir, objects, observations, sent, host, link } = await setup(50);
    cleanups.push(() => (observations.close(), dir.remove()));
    host.setBatteryLevel(70);
    await objects.tree.handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmin: 0.1, pmax: 600 } });
    await observations.observe('monitoring-battery', p('/3/0/9'));
    await observations.observe('operator-tz', p('/3/0/15')).catch(() => undefined);
    assert.deepEqual(
      observations.held().map((o) => [o.id, o.path.toString(), o.attributes]),
      [['monitoring-battery', '/3/0/9', { pmin: 0.1, pmax: 600 }]],
      'only observations in force (the absent /3/0/15 made none)',
    );

    link.up = false;
    host.setBatteryLevel(60);
    await new Promise((r) => setTimeout(r, 400));
    host.setBatteryLevel(50);
    await new Promise((r) => setTimeout(r, 400));
    assert.equal(sent.length, 0, 'nothing could go out');

    link.up = true;
    observations.resume();
    assert.equal(sent.length, 1, 'the latest value at once');
    assert.equal(sent[0]!.content[0]!.value, 50);
    assert.equal(sent[0]!.sequence, 1, 'undelivered attempts take no sequence number');
    observations.resume();
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(sent.length, 1, 'an unchanged value is not sent again');
  });
});
