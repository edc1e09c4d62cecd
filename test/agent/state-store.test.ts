import assert from 'node:assert/strict';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { applyBootstrapWrite } from '../../agent/objects/bootstrap.js';
import { STATE_FILE, StateStore } from '../../agent/state/state-store.js';
import { serverAccountContent } from '../../gateway/fleet/bootstrap-grant.js';
import { tempDir, testLog } from '../support/harness.js';
import { agentObjects } from './objects.js';

describe('agent state store', () => {
  const dir = tempDir();
  after(() => dir.remove());

  test('is private (0700 directory, 0600 file) and survives a new instance', () => {
    const path = join(dir.path, 'a');
    new StateStore(path, testLog).write('k', { v: 1 });
    assert.equal(statSync(path).mode & 0o777, 0o700);
    assert.equal(statSync(join(path, STATE_FILE)).mode & 0o777, 0o600);
    assert.deepEqual(new StateStore(path, testLog).read('k'), { v: 1 });
    assert.deepEqual(readdirSync(path), [STATE_FILE], 'no temporary file is left behind');
  });

  test('a corrupt file is set aside and the agent starts from factory state', () => {
    const path = join(dir.path, 'b');
    new StateStore(path, testLog).write('k', 1);
    writeFileSync(join(path, STATE_FILE), '{"k": 1, trunc');
    const store = new StateStore(path, testLog);
    assert.equal(store.read('k'), undefined);
    assert.ok(readdirSync(path).some((f) => f.startsWith(`${STATE_FILE}.corrupt-`)));
  });

  test('wipe forgets everything', () => {
    const path = join(dir.path, 'c');
    const store = new StateStore(path, testLog);
    store.write('k', 1);
    store.wipe();
    assert.equal(new StateStore(path, testLog).read('k'), undefined);
  });

  test('the DM account written at bootstrap is there after a reboot (a new object tree on the same state)', async () => {
    const path = join(dir.path, 'd');
    const grant = serverAccountContent({ serverUri: 'mqtt://127.0.0.1:1', endpoint: 'dev-1', secret: 'op-secret', lifetimeSeconds: 90, binding: 'M' });
    assert.equal((await applyBootstrapWrite(agentObjects(path), grant)).code, '2.04');
    const rebooted = agentObjects(path);
    assert.equal(rebooted.security.dmServerAccount()?.secret, 'op-secret');
    assert.equal(rebooted.servers()[0]?.read(1), 90);
    assert.doesNotMatch(JSON.stringify(new StateStore(path, testLog).read('object.0')), /factory-secret/, 'the factory secret is never copied into state');
  });
});
