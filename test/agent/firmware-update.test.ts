import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { FirmwareState as S, UpdateResult as R } from '../../protocol/firmware/index.js';
import { FirmwareServer } from '../support/firmware-server.js';
import { tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { FirmwareTestDevice } from './firmware-device.js';

const image = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * seed + (i >> 7)) & 0xff));

describe('Object 5 on the agent: state machine, verification, A/B install', () => {
  let server: FirmwareServer;
  let dir: ReturnType<typeof tempDir>;
  let device: FirmwareTestDevice;
  let n = 0;
  const good = image(200_000, 7);

  before(async () => {
    server = await new FirmwareServer().start();
  });
  after(() => server.close());
  beforeEach(() => {
    dir?.remove();
    dir = tempDir('edgedm-fw-');
    device = new FirmwareTestDevice(dir.path, server.trustAnchor);
  });
  afterEach(() => device.shutdown());
  after(() => dir?.remove());

  const publish = (opts: Parameters<FirmwareServer['publish']>[2], bytes = good) => server.publish(`/img-${++n}.bin`, bytes, opts);
  const settled = (state: number) => waitFor(`state ${state}`, async () => ((await device.status()).state === state ? device.status() : undefined), 10_000);

  test('starts Idle with result 0 and says how it takes firmware (res 8: HTTP and HTTPS among them; res 9: pull and push)', async () => {
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INITIAL });
    const protocols = await device.objects.tree.handle({ kind: 'read', path: (await import('../../protocol/model/index.js')).LwM2mPath.parse('/5/0/8') }, 'server');
    const offered = protocols.content?.map((r) => r.value);
    assert.deepEqual(offered?.slice(0, 2), [2, 3], 'HTTP first, then HTTPS');
    assert.equal(await device.read('/5/0/9'), 2);
    assert.equal(device.runningVersion(), '1.0.0');
  });

  test('Idle → Downloading → Downloaded → Updating → Idle with result 1; the new version runs and is confirmed', async () => {
    const uri = publish({ version: '1.1.0' });
    assert.equal((await device.write('/5/0/1', uri)).code, '2.04');
    assert.equal((await device.status()).state, S.DOWNLOADING);
    await settled(S.DOWNLOADED);
    const changedAt = (await device.read('/5/0/12')) as Date;
    assert.ok(changedAt instanceof Date);
    assert.equal((await device.exec('/5/0/2')).code, '2.04');
    await waitFor('update finished', async () => (await device.status()).result === R.SUCCESS);
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.SUCCESS });
    assert.equal(device.runningVersion(), '1.1.0');
    assert.equal(await device.read('/5/0/7'), '1.1.0');
    assert.equal(await device.read('/5/0/6'), 'test-fw');
    assert.equal(device.host.firmware!.running().trial, false, 'confirmed after the health check');
    assert.equal(device.reboots, 1);
  });

  test('operations the state does not allow are refused with 4.05', async () => {
    assert.equal((await device.exec('/5/0/2')).code, '4.05', 'Update in Idle');
    const uri = publish({ version: '1.1.0' });
    await device.write('/5/0/1', uri);
    await settled(S.DOWNLOADED);
    assert.equal((await device.write('/5/0/1', publish({ version: '1.2.0' }))).code, '4.05', 'a new URI while Downloaded');
    assert.equal((await device.write('/5/0/0', new Uint8Array([1, 2, 3]), 'opaque')).code, '4.05', 'a pushed Package while Downloaded');
    await device.exec('/5/0/2');
    await waitFor('updating', async () => (await device.status()).state === S.UPDATING || (await device.status()).result === R.SUCCESS);
    if ((await device.status()).state === S.UPDATING) {
      assert.equal((await device.exec('/5/0/10')).code, '4.05', 'Cancel while Updating');
      assert.equal((await device.write('/5/0/1', '')).code, '4.05', 'reset while Updating');
    }
    // Let the install finish before the next test removes this device's flash.
    await waitFor('update finished', async () => (await device.status()).result === R.SUCCESS);
  });

  test('an invalid URI is accepted as a write and reported as result 7; an unsupported scheme as 9; an empty URI resets to Idle', async () => {
    assert.equal((await device.write('/5/0/1', 'not a uri')).code, '2.04');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INVALID_URI });
    assert.equal((await device.write('/5/0/1', 'ftp://example.org/fw.bin')).code, '2.04');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.UNSUPPORTED_PROTOCOL });
    assert.equal((await device.write('/5/0/1', `${server.baseUrl}/missing.bin`)).code, '2.04');
    await waitFor('404 reported', async () => (await device.status()).result === R.INVALID_URI);
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    assert.equal((await device.write('/5/0/1', '')).code, '2.04');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INITIAL });
    assert.equal(await device.read('/5/0/1'), '');
  });

  test('while Downloading: Update and a new URI are refused (4.05); Cancel stops the download (Idle, result 10); an empty URI resets (Idle, result 0)', async () => {
    for (const [how, expected] of [
      ['cancel', { state: S.IDLE, result: R.CANCELLED }],
      ['reset', { state: S.IDLE, result: R.INITIAL }],
    ] as const) {
      server.stallNextAfter = 50_000;
      await device.write('/5/0/1', publish({ version: '1.1.0' }));
      await waitFor('the image half sent', () => server.stallNextAfter === undefined);
      assert.equal((await device.status()).state, S.DOWNLOADING);
      assert.equal((await device.exec('/5/0/2')).code, '4.05', 'Update while Downloading');
      assert.equal((await device.write('/5/0/1', publish({ version: '1.2.0' }))).code, '4.05', 'another URI while Downloading');
      assert.equal((await device.write('/5/0/0', new Uint8Array([1, 2, 3]), 'opaque')).code, '4.05', 'a pushed Package while Downloading');
      if (how === 'cancel') assert.equal((await device.exec('/5/0/10')).code, '2.04');
      else assert.equal((await device.write('/5/0/1', '')).code, '2.04');
      assert.deepEqual(await device.status(), expected, how);
      assert.equal(await device.read('/3/0/3'), '1.0.0');
    }
  });

  test('Cancel in Idle is refused (4.05): there is no update to cancel', async () => {
    assert.equal((await device.exec('/5/0/10')).code, '4.05');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INITIAL });
  });

  test('Cancel in Downloaded returns to Idle with result 10', async () => {
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    assert.equal((await device.exec('/5/0/10')).code, '2.04');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.CANCELLED });
  });

  const rejections: [string, () => string, number][] = [
    ['tampered (bytes differ from the signed hash)', () => publish({ version: '1.1.0', describe: image(200_000, 9) }), R.INTEGRITY_CHECK_FAILURE],
    ['truncated (shorter than the manifest says)', () => publish({ version: '1.1.0', describe: good }, good.subarray(0, 150_000)), R.INTEGRITY_CHECK_FAILURE],
    ['unsigned (no manifest)', () => publish('unsigned'), R.INTEGRITY_CHECK_FAILURE],
    ['signed with another key', () => publish({ version: '1.1.0', signWith: generateKeyPairSync('ed25519').privateKey }), R.INTEGRITY_CHECK_FAILURE],
    ['built for another model', () => publish({ version: '1.1.0', models: ['OTHER-MODEL'] }), R.UNSUPPORTED_PACKAGE_TYPE],
    ['older than the running version (anti-rollback)', () => publish({ version: '0.9.0' }), R.UNSUPPORTED_PACKAGE_TYPE],
  ];
  for (const [what, uri, result] of rejections) {
    test(`an image ${what} ends in Idle with result ${result}; the old version keeps running`, async () => {
      await device.write('/5/0/1', uri());
      await waitFor('rejected', async () => ((await device.status()).result === result ? true : undefined));
      assert.deepEqual(await device.status(), { state: S.IDLE, result });
      assert.equal((await device.exec('/5/0/2')).code, '4.05', 'nothing to install');
      assert.equal(device.runningVersion(), '1.0.0');
      assert.equal(device.host.firmware!.running().slot, 'a');
    });
  }

  test('a downgrade the manifest explicitly allows is installed', async () => {
    await device.write('/5/0/1', publish({ version: '0.9.0', allowDowngrade: true }));
    await settled(S.DOWNLOADED);
    await device.exec('/5/0/2');
    await waitFor('updated', async () => (await device.status()).result === R.SUCCESS);
    assert.equal(device.runningVersion(), '0.9.0');
  });

  test('without a provisioned trust anchor nothing verifies (result 5)', async () => {
    const bare = new FirmwareTestDevice(join(dir.path, 'bare'), undefined);
    await bare.write('/5/0/1', publish({ version: '1.1.0' }));
    await waitFor('rejected', async () => (await bare.status()).result === R.INTEGRITY_CHECK_FAILURE);
    bare.firmware.close();
  });

  test('a dropped download resumes with a Range request from where it stopped', async () => {
    const uri = publish({ version: '1.1.0' });
    const path = new URL(uri).pathname;
    server.dropNextAfter = 80_000;
    await device.write('/5/0/1', uri);
    await settled(S.DOWNLOADED);
    const fetches = server.requests.filter((r) => r.path === path);
    assert.ok(fetches.length >= 2, 'fetched again after the drop');
    assert.equal(fetches[0]!.range, undefined);
    assert.match(fetches[1]!.range ?? '', /^bytes=\d+-$/);
    assert.ok(Number(/bytes=(\d+)-/.exec(fetches[1]!.range!)![1]) > 0, 'resumed, not restarted');
    assert.ok(server.bytesServed(path) <= good.length + 64 * 1024, `served ${server.bytesServed(path)} bytes for a ${good.length}-byte image`);
  });

  test('a download interrupted by a power cut resumes after the next boot, not from zero', async () => {
    // Its own device, whose retry after the drop is a minute away: the power cut is then certain
    // to find the partial file, and only the boot after it can resume the download.
    device.shutdown();
    device = new FirmwareTestDevice(join(dir.path, 'cut'), server.trustAnchor, {}, { retryDelayMs: 60_000 });
    const uri = publish({ version: '1.1.0' });
    const path = new URL(uri).pathname;
    server.dropNextAfter = 120_000;
    device.firmware.writeAutoUpgrade(false);
    await device.write('/5/0/1', uri);
    const part = join(dir.path, 'cut', 'agent', 'firmware', 'download.part');
    await waitFor('the dropped download, part of it on disk', () => server.requests.some((r) => r.path === path && r.bytes > 0) && existsSync(part) && statSync(part).size > 0);
    assert.equal((await device.status()).state, S.DOWNLOADING);
    device.powerCut();
    await settled(S.DOWNLOADED);
    const fetches = server.requests.filter((r) => r.path === path);
    assert.equal(fetches.length, 2, 'one fetch before the cut, one after the boot');
    assert.match(fetches[1]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the resumed fetch asked for the rest');
    assert.ok(server.bytesServed(path) <= good.length + 64 * 1024);
  });

  test('Downloaded survives a power cut when the image is intact, and falls back to Idle with result 5 when it is not', async () => {
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    device.powerCut();
    assert.equal((await device.status()).state, S.DOWNLOADED);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal((await device.status()).state, S.DOWNLOADED);
    const staged = join(dir.path, 'agent', 'firmware', 'image.bin');
    const bytes = readFileSync(staged);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(staged, bytes);
    device.powerCut();
    await waitFor('damage detected', async () => (await device.status()).result === R.INTEGRITY_CHECK_FAILURE);
    assert.equal((await device.status()).state, S.IDLE);
  });

  test('a trial boot that fails its self test rolls back: Idle, result 8, old version', async () => {
    const failing = new FirmwareTestDevice(join(dir.path, 'failing'), server.trustAnchor, { failingSelfTest: () => true });
    await failing.write('/5/0/1', publish({ version: '1.1.0' }));
    await waitFor('downloaded', async () => (await failing.status()).state === S.DOWNLOADED);
    await failing.exec('/5/0/2');
    await waitFor('rolled back', async () => (await failing.status()).result === R.UPDATE_FAILED, 10_000);
    assert.deepEqual(await failing.status(), { state: S.IDLE, result: R.UPDATE_FAILED });
    assert.equal(failing.runningVersion(), '1.0.0');
    assert.equal(failing.host.firmware!.lastBoot(), 'rolled-back', 'the bootloader went back to the confirmed slot');
    assert.equal(failing.reboots, 2, 'into the trial, and back');
    failing.firmware.close();
  });

  test('a trial boot that never reaches its server rolls back after the health-check deadline', async () => {
    device.reachesServer = false;
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    await device.exec('/5/0/2');
    await waitFor('rolled back', async () => (await device.status()).result === R.UPDATE_FAILED, 10_000);
    assert.equal(device.runningVersion(), '1.0.0');
  });

  test('a power cut after the switch, before confirmation, boots the old image and reports result 8', async () => {
    device.reachesServer = false;
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    await device.exec('/5/0/2');
    await waitFor('trial boot', () => device.host.firmware!.running().trial);
    assert.equal((await device.status()).state, S.UPDATING);
    device.powerCut();
    assert.equal(device.runningVersion(), '1.0.0');
    assert.equal(device.host.firmware!.lastBoot(), 'rolled-back');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.UPDATE_FAILED });
  });

  test('a power cut mid-write of the inactive slot boots the old image and reports result 8', async () => {
    await device.write('/5/0/1', publish({ version: '1.1.0' }));
    await settled(S.DOWNLOADED);
    // What the device has on disk at that moment: Updating/installing recorded, slot B invalidated, half written.
    const stateFile = join(dir.path, 'agent', 'state.json');
    const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
    saved.firmware = { ...saved.firmware, state: S.UPDATING, update: { fromVersion: '1.0.0', toVersion: '1.1.0', phase: 'installing' } };
    writeFileSync(stateFile, JSON.stringify(saved));
    writeFileSync(join(dir.path, 'flash', 'slot-b.bin'), good.subarray(0, 5000));
    device.powerCut();
    assert.equal(device.runningVersion(), '1.0.0');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.UPDATE_FAILED });
  });

  test('a device whose user defers reports result 11, stays Downloaded, and installs when Maximum Defer Period ends', async () => {
    const deferring = new FirmwareTestDevice(join(dir.path, 'defer'), server.trustAnchor, { defersUpdates: true });
    assert.equal((await deferring.write('/5/0/13', 1, 'unsigned')).code, '2.04');
    await deferring.write('/5/0/1', publish({ version: '1.1.0' }));
    await waitFor('downloaded', async () => (await deferring.status()).state === S.DOWNLOADED);
    await deferring.exec('/5/0/2');
    assert.deepEqual(await deferring.status(), { state: S.DOWNLOADED, result: R.DEFERRED });
    await waitFor('installed after the defer period', async () => (await deferring.status()).result === R.SUCCESS, 10_000);
    assert.equal(deferring.runningVersion(), '1.1.0');
    deferring.firmware.close();
  });
});
