import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { hashSecret, verifySecret, generateSecret } from '../../gateway/security/secrets.js';
import { DATABASE_FILE, openDatabase, openMemoryDatabase } from '../../gateway/store/database.js';
import { DeviceNotFoundError, DeviceRepository, InvalidLabelError } from '../../gateway/store/device-repository.js';
import { migrate, MIGRATIONS } from '../../gateway/store/migrations.js';
import { tempDir, testLog } from '../support/harness.js';

const identity = (endpoint: string, extra: Partial<{ tags: string[]; groups: string[]; model: string }> = {}) => ({
  endpoint,
  factorySecretHash: hashSecret(`${endpoint}-secret-0123456789`),
  tags: extra.tags ?? [],
  groups: extra.groups ?? [],
  ...(extra.model ? { model: extra.model } : {}),
});

describe('device repository', () => {
  test('imports identities, then reports created and updated; labels are sorted and deduplicated', () => {
    const repo = new DeviceRepository(openMemoryDatabase());
    assert.deepEqual(repo.importFactoryIdentities([identity('b', { tags: ['z', 'a', 'a'], groups: ['north'] }), identity('a', { model: 'X' })], 1000), { created: 2, updated: 0 });
    assert.deepEqual(repo.importFactoryIdentities([identity('a', { tags: ['new'] })], 2000), { created: 0, updated: 1 });
    assert.deepEqual(repo.list().map((d) => d.endpoint), ['a', 'b']);
    const b = repo.get('b')!;
    assert.deepEqual(b.tags, ['a', 'z']);
    assert.deepEqual(b.groups, ['north']);
    assert.equal(b.status, 'offline');
    assert.equal(b.credentialHash, null);
    const a = repo.get('a')!;
    assert.equal(a.model, 'X', 'a re-import without model keeps the model');
    assert.deepEqual(a.tags, ['new']);
    assert.equal(a.createdAt, 1000);
    assert.equal(a.updatedAt, 2000);
  });

  test('an import with one invalid label imports nothing', () => {
    const repo = new DeviceRepository(openMemoryDatabase());
    assert.throws(() => repo.importFactoryIdentities([identity('ok'), identity('bad', { tags: ['has space'] })], 1), InvalidLabelError);
    assert.equal(repo.list().length, 0);
  });

  test('registration, info, status and credentials', () => {
    const repo = new DeviceRepository(openMemoryDatabase());
    repo.importFactoryIdentities([identity('d')], 1);
    repo.setOperationalCredential('d', 'h1', 5);
    repo.recordRegistration('d', {
      transport: 'mqtt',
      lwm2mVersion: '1.1',
      lifetime: 300,
      binding: 'M',
      queueMode: false,
      objectLinks: [{ target: '/3/0', attributes: {} }],
      address: '127.0.0.1:5000',
      at: 10,
    });
    repo.updateInfo('d', { manufacturer: 'ACME', serialNumber: 'SN1' }, 11);
    repo.updateInfo('d', { firmwareVersion: '1.2.0' }, 12);
    let d = repo.get('d')!;
    assert.equal(d.status, 'online');
    assert.equal(d.registeredAt, 10);
    assert.equal(d.credentialHash, 'h1');
    assert.deepEqual(d.objectLinks, [{ target: '/3/0', attributes: {} }]);
    assert.deepEqual([d.manufacturer, d.serialNumber, d.firmwareVersion], ['ACME', 'SN1', '1.2.0']);
    repo.touch('d', 20);
    assert.equal(repo.get('d')!.lastSeen, 20);
    assert.deepEqual(repo.countByStatus(), { online: 1 });
    assert.equal(repo.markAllOffline(30), 1);
    assert.equal(repo.get('d')!.status, 'offline');
    repo.decommission('d', 40);
    d = repo.get('d')!;
    assert.equal(d.status, 'decommissioned');
    assert.equal(d.credentialHash, null);
    assert.equal(d.factorySecretHash, null);
    assert.equal(d.decommissionedAt, 40);
    assert.equal(repo.markAllOffline(50), 0, 'decommissioned devices stay decommissioned');
  });

  test('tags and groups: set, add, remove; groups are listed with member counts', () => {
    const repo = new DeviceRepository(openMemoryDatabase());
    repo.importFactoryIdentities([identity('a', { groups: ['north'] }), identity('b', { groups: ['north', 'south'] })], 1);
    repo.addTags('a', ['roof', 'roof'], 2);
    repo.setTags('b', ['x', 'y'], 2);
    repo.removeTags('b', ['x'], 3);
    repo.setGroups('a', ['east'], 4);
    assert.deepEqual(repo.get('a')!.tags, ['roof']);
    assert.deepEqual(repo.get('b')!.tags, ['y']);
    assert.deepEqual(repo.listGroups(), [
      { name: 'east', description: null, members: 1 },
      { name: 'north', description: null, members: 1 },
      { name: 'south', description: null, members: 1 },
    ]);
    assert.throws(() => repo.addTags('a', ['tag:with*glob'], 5), InvalidLabelError);
    assert.throws(() => repo.addTags('nobody', ['x'], 5), DeviceNotFoundError);
    assert.throws(() => repo.setStatus('nobody', 'online', 5), DeviceNotFoundError);
  });

  test('the registry survives closing and reopening its database file, which is private', () => {
    const dir = tempDir();
    try {
      const db = openDatabase(dir.path, testLog);
      new DeviceRepository(db).importFactoryIdentities([identity('kept', { tags: ['t'] })], 1);
      db.close();
      assert.equal(statSync(join(dir.path, DATABASE_FILE)).mode & 0o777, 0o600);
      const reopened = openDatabase(dir.path, testLog);
      assert.deepEqual(new DeviceRepository(reopened).get('kept')!.tags, ['t']);
      reopened.close();
    } finally {
      dir.remove();
    }
  });

  test('migrations apply once and a database from a newer release is refused', () => {
    const db = openMemoryDatabase();
    assert.deepEqual(migrate(db), [], 'already current');
    db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(MIGRATIONS.length + 1, 'future', 0);
    assert.throws(() => migrate(db), /newer than this edgedm release/);
  });
});

describe('device secrets', () => {
  test('256-bit random secrets, SHA-256 hashes, constant-time verification', () => {
    const s = generateSecret();
    assert.equal(Buffer.from(s, 'base64url').length, 32);
    assert.notEqual(generateSecret(), s);
    const h = hashSecret(s);
    assert.match(h, /^[0-9a-f]{64}$/);
    assert.ok(verifySecret(s, h));
    assert.ok(!verifySecret(`${s}x`, h));
    assert.ok(!verifySecret(s, 'not-a-hash'));
  });
});
