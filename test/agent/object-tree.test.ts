import assert from 'node:assert/strict';
import { after, beforeEach, describe, test } from 'node:test';
import { applyBootstrapWrite, bootstrapDeleteAll } from '../../agent/objects/bootstrap.js';
import type { AgentObjects } from '../../agent/objects/index.js';
import { serverAccountContent } from '../../gateway/fleet/bootstrap-grant.js';
import { LwM2mPath, type LwM2mRecord, type Operation } from '../../protocol/model/index.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { agentObjects, recordingActions } from './objects.js';

const p = LwM2mPath.parse;
const rec = (path: string, type: LwM2mRecord['type'], value: LwM2mRecord['value']): LwM2mRecord => ({ path: p(path), type, value });
const GRANT = serverAccountContent({ serverUri: 'mqtt://127.0.0.1:1884', endpoint: 'dev-1', secret: 'operational-secret', lifetimeSeconds: 300, binding: 'M' });

describe('agent object tree', () => {
  const dirs: Array<{ remove(): void }> = [];
  after(() => dirs.forEach((d) => d.remove()));
  let objects: AgentObjects;
  let calls: string[];
  let host: SimulatedHost;
  const handle = (op: Operation, role: 'server' | 'bootstrap' = 'server') => objects.tree.handle(op, role);

  beforeEach(async () => {
    const dir = tempDir();
    dirs.push(dir);
    const recording = recordingActions();
    calls = recording.calls;
    host = new SimulatedHost({ serialNumber: 'SN-TEST', model: 'EDM-T', seed: 7 });
    objects = agentObjects(dir.path, recording.actions, host);
    await bootstrapDeleteAll(objects);
    assert.equal((await applyBootstrapWrite(objects, GRANT)).code, '2.04');
  });

  test('read of a resource, an instance, an object; absent and undefined resources are 4.04', async () => {
    assert.deepEqual((await handle({ kind: 'read', path: p('/3/0/2') })).content, [rec('/3/0/2', 'string', 'SN-TEST')]);
    const instance = await handle({ kind: 'read', path: p('/3/0') });
    assert.equal(instance.code, '2.05');
    const paths = instance.content!.map((r) => r.path.toString());
    assert.ok(paths.includes('/3/0/0') && paths.includes('/3/0/11/0') && paths.includes('/3/0/16'));
    assert.ok(!paths.includes('/3/0/4'), 'executables carry no value');
    assert.deepEqual(instance.content!.find((r) => r.path.toString() === '/3/0/11/0')?.value, 0, 'error code 0: no error');
    assert.equal((await handle({ kind: 'read', path: p('/3') })).content!.length, paths.length);
    assert.equal((await handle({ kind: 'read', path: p('/3/0/99') })).code, '4.04');
    assert.equal((await handle({ kind: 'read', path: p('/3/1') })).code, '4.04');
    assert.equal((await handle({ kind: 'read', path: p('/42') })).code, '4.04');
    assert.equal((await handle({ kind: 'read', path: p('/3/0/15') })).code, '4.04', 'timezone not set yet');
    assert.equal((await handle({ kind: 'read', path: p('/3/0/4') })).code, '4.05', 'reboot is not readable');
    assert.equal((await handle({ kind: 'read', path: LwM2mPath.ROOT })).code, '4.05');
    assert.deepEqual((await handle({ kind: 'read', path: p('/3/0/6/0') })).content, [rec('/3/0/6/0', 'integer', 1)]);
  });

  test('the DM server cannot touch the Security object, which stays out of the object list', async () => {
    for (const op of [
      { kind: 'read', path: p('/0/1/5') },
      { kind: 'discover', path: p('/0') },
      { kind: 'write', path: p('/0/1'), mode: 'update', content: [rec('/0/1/0', 'string', 'mqtt://evil:1883')] },
      { kind: 'delete', path: p('/0/1') },
    ] as Operation[]) {
      assert.equal((await handle(op)).code, '4.01', op.kind);
    }
    const links = objects.tree.objectLinks().map((l) => l.target);
    assert.ok(!links.some((t) => t.startsWith('/0')), links.join());
    assert.deepEqual(links.slice(0, 3), ['/1', '/1/0', '/3']);
    assert.deepEqual(objects.tree.objectLinks()[0], { target: '/1', attributes: { ver: '1.2' } });
  });

  test('write: type-checked, all or nothing, read-only refused; the written value reads back and persists', async () => {
    assert.equal((await handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [rec('/3/0/15', 'string', 'Europe/Zurich')] })).code, '2.04');
    assert.equal((await handle({ kind: 'read', path: p('/3/0/15') })).content![0]!.value, 'Europe/Zurich');
    assert.equal((await handle({ kind: 'write', path: p('/3/0/0'), mode: 'replace', content: [rec('/3/0/0', 'string', 'x')] })).code, '4.05');
    assert.equal((await handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [rec('/3/0/15', 'integer', 1)] })).code, '4.00');
    assert.equal((await handle({ kind: 'write', path: p('/3/0/15'), mode: 'replace', content: [rec('/3/0/15', 'string', 'Not/AZone')] })).code, '4.00');
    const mixed = await handle({
      kind: 'write',
      path: p('/3/0'),
      mode: 'update',
      content: [rec('/3/0/14', 'string', '+01:00'), rec('/3/0/1', 'string', 'read-only')],
    });
    assert.equal(mixed.code, '4.05');
    assert.equal((await handle({ kind: 'read', path: p('/3/0/14') })).code, '4.04', 'nothing of a refused write is applied');
    assert.equal((await handle({ kind: 'write', path: p('/3'), mode: 'replace', content: [rec('/3/0/15', 'string', 'UTC')] })).code, '4.05');
  });

  test('writing the lifetime triggers a registration update; the server settings survive a rebuild', async () => {
    assert.equal((await handle({ kind: 'write', path: p('/1/0/1'), mode: 'replace', content: [rec('/1/0/1', 'integer', 120)] })).code, '2.04');
    assert.equal((await handle({ kind: 'write', path: p('/1/0/1'), mode: 'replace', content: [rec('/1/0/1', 'integer', 0)] })).code, '4.00');
    await waitFor('registration update', () => calls.includes('registrationUpdate'));
    assert.equal(objects.servers()[0]!.read(1), 120);
  });

  test('execute: reboot and factory reset are answered first and carried out after; bad targets are refused', async () => {
    assert.equal((await handle({ kind: 'execute', path: p('/3/0/4') })).code, '2.04');
    assert.deepEqual(calls, [], 'not yet: the response goes out first');
    await waitFor('reboot action', () => calls.includes('reboot'));
    assert.equal((await handle({ kind: 'execute', path: p('/3/0/5') })).code, '2.04');
    await waitFor('factory reset action', () => calls.includes('factoryReset'));
    assert.equal((await handle({ kind: 'execute', path: p('/3/0/0') })).code, '4.05');
    assert.equal((await handle({ kind: 'execute', path: p('/3/0') })).code, '4.05');
    assert.equal((await handle({ kind: 'execute', path: p('/1/0/8') })).code, '2.04');
    await waitFor('registration update trigger', () => calls.includes('registrationUpdate'));
  });

  test('error codes: host conditions appear and Reset Error Code clears them', async () => {
    host.setBatteryLevel(5);
    const codes = async () => (await handle({ kind: 'read', path: p('/3/0/11') })).content!.map((r) => r.value);
    assert.deepEqual(await codes(), [1]);
    objects.device.raiseError(8);
    assert.deepEqual(await codes(), [1, 8]);
    await handle({ kind: 'execute', path: p('/3/0/12') });
    assert.deepEqual(await codes(), [0]);
  });

  test('discover lists objects, instances and resources with dim and attributes', async () => {
    const root = await handle({ kind: 'discover', path: LwM2mPath.ROOT });
    assert.deepEqual(root.links!.slice(0, 2), [{ target: '/1', attributes: { ver: '1.2' } }, { target: '/1/0', attributes: {} }]);
    assert.equal((await handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmin: 5, gt: 50 } })).code, '2.04');
    const device = await handle({ kind: 'discover', path: p('/3') });
    const byTarget = new Map(device.links!.map((l) => [l.target, l.attributes]));
    assert.deepEqual(byTarget.get('/3'), { ver: '1.2' });
    assert.deepEqual(byTarget.get('/3/0/6'), { dim: '1' });
    assert.deepEqual(byTarget.get('/3/0/9'), { pmin: '5', gt: '50' });
    assert.ok(byTarget.has('/3/0/4'));
    assert.deepEqual((await handle({ kind: 'discover', path: p('/3/0/9') })).links!.map((l) => l.target), ['/3/0/9']);
  });

  test('write-attributes validation', async () => {
    assert.equal((await handle({ kind: 'write-attributes', path: p('/3/0'), attributes: { gt: 1 } })).code, '4.00');
    assert.equal((await handle({ kind: 'write-attributes', path: p('/3/0/0'), attributes: { st: 1 } })).code, '4.00', 'a string has no step');
    assert.equal((await handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmin: 60, pmax: 10 } })).code, '4.00');
    assert.deepEqual(objects.tree.attributesAt(p('/3/0/9')), {});
    await handle({ kind: 'write-attributes', path: p('/3'), attributes: { pmin: 2 } });
    await handle({ kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmax: 30 } });
    assert.deepEqual(objects.tree.attributesAt(p('/3/0/9')), { pmin: 2, pmax: 30 }, 'inherited from the object');
  });

  test('bootstrap: the grant becomes the DM account, Bootstrap-Delete keeps only the bootstrap account', async () => {
    const account = objects.security.dmServerAccount();
    assert.deepEqual(account, { serverUri: 'mqtt://127.0.0.1:1884', identity: 'dev-1', secret: 'operational-secret', shortServerId: 1 });
    assert.deepEqual(objects.security.bootstrapAccount(), {
      serverUri: 'mqtt://127.0.0.1:1883',
      identity: 'dev-1',
      secret: 'factory-secret-0123456789',
      shortServerId: undefined,
    });
    assert.equal(objects.servers().length, 1);
    await bootstrapDeleteAll(objects);
    assert.equal(objects.security.dmServerAccount(), undefined);
    assert.equal(objects.servers().length, 0);
    assert.ok(objects.security.bootstrapAccount(), 'the factory account is never deleted');
    assert.equal((await handle({ kind: 'read', path: p('/3/0/0') })).code, '2.05', 'the Device object stays');
    const refused = await applyBootstrapWrite(objects, [rec('/0/1/0', 'string', 'not a uri')]);
    assert.equal(refused.code, '4.00');
  });

  test('create and delete are refused on fixed objects', async () => {
    assert.equal((await handle({ kind: 'create', path: p('/3'), content: [] })).code, '4.05');
    assert.equal((await handle({ kind: 'delete', path: p('/3/0') })).code, '4.05');
    assert.equal((await handle({ kind: 'delete', path: p('/1/0') })).code, '4.05', 'the DM server does not delete its own account');
  });

  test('event log: records, LogData text, stop and start', async () => {
    objects.eventLog.record({ class: 1, severity: 'info', message: 'hello' });
    const data = (await handle({ kind: 'read', path: p('/20/0/4014') })).content![0]!.value as Uint8Array;
    assert.match(Buffer.from(data).toString('utf8'), /info 1 hello\n$/);
    assert.equal((await handle({ kind: 'read', path: p('/20/0/4013') })).content![0]!.value, 2, 'running, with data');
    await handle({ kind: 'execute', path: p('/20/0/4012') });
    objects.eventLog.record({ class: 1, severity: 'info', message: 'dropped while stopped' });
    assert.equal((await handle({ kind: 'read', path: p('/20/0/4013') })).content![0]!.value, 3);
    await handle({ kind: 'execute', path: p('/20/0/4011') });
    assert.equal(objects.eventLog.entries().length, 0, 'LogStart empties the collection by default');
  });
});
