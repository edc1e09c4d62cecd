import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { parse } from 'coap-packet';
import { createCoapSource } from '../../agent/firmware/coap-download.js';
import { defaultPackageSources, type SchemeSource } from '../../agent/firmware/sources.js';
import { FirmwareProtocol, FirmwareState as S, UpdateResult as R } from '../../protocol/firmware/index.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { CoapFirmwareServer } from '../support/coap-firmware-server.js';
import { FirmwareServer } from '../support/firmware-server.js';
import { tempDir } from '../support/harness.js';
import { UdpLinkProxy } from '../support/proxies.js';
import { waitFor } from '../support/wait.js';
import { FirmwareTestDevice } from './firmware-device.js';

const image = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * seed + (i >> 7)) & 0xff));
const BLOCK = 1024;

/**
 * The agent's own pull sources, its CoAP one with retransmission and deadlines short enough that
 * a lost link shows within a second or so (the defaults wait seconds).
 */
const sources: ReadonlyMap<string, SchemeSource> = new Map([
  ...defaultPackageSources,
  ['coap:', { source: createCoapSource({ ackTimeoutMs: 150, requestTimeoutMs: 600, attemptsPerBlock: 2 }), protocol: FirmwareProtocol.COAP }],
]);

describe('Object 5 over CoAP pull (Block2): download, verification, resume', () => {
  let files: FirmwareServer;
  let coap: CoapFirmwareServer;
  let dir: ReturnType<typeof tempDir>;
  let device: FirmwareTestDevice;
  let n = 0;
  const good = image(200_000, 7);

  before(async () => {
    files = await new FirmwareServer().start();
    coap = await CoapFirmwareServer.start(files);
  });
  after(async () => {
    await coap.close();
    await files.close();
  });
  beforeEach(() => {
    dir?.remove();
    dir = tempDir('edgedm-fw-coap-');
    coap.beforeBlock = undefined;
    device = new FirmwareTestDevice(dir.path, files.trustAnchor, {}, { sources });
  });
  afterEach(() => device.shutdown());
  after(() => dir?.remove());

  const newPath = () => `/img-${++n}.bin`;
  const publish = (opts: Parameters<FirmwareServer['publish']>[2], bytes = good) => coap.publish(newPath(), bytes, opts);
  const pathOf = (uri: string) => new URL(uri).pathname.replace(/^\/fw/, '');
  const settled = (state: number) => waitFor(`state ${state}`, async () => ((await device.status()).state === state ? device.status() : undefined), 15_000);
  const staged = () => readFileSync(join(dir.path, 'agent', 'firmware', 'image.bin'));
  const timesRead = (path: string, offset: number) => coap.offsetsRead(path).filter((o) => o === offset).length;

  test('/5/0/8 lists CoAP among the pull protocols', async () => {
    const protocols = await device.objects.tree.handle({ kind: 'read', path: LwM2mPath.parse('/5/0/8') }, 'server');
    assert.ok(protocols.content?.some((r) => r.value === FirmwareProtocol.COAP), JSON.stringify(protocols.content?.map((r) => r.value)));
  });

  test('a good image comes over coap:// block by block to Downloaded, installs, and the new version is confirmed', async () => {
    const uri = publish({ version: '1.1.0' });
    const path = pathOf(uri);
    assert.equal((await device.write('/5/0/1', uri)).code, '2.04');
    assert.equal((await device.status()).state, S.DOWNLOADING);
    await settled(S.DOWNLOADED);
    assert.deepEqual(staged(), good);
    assert.equal(coap.bytesServed(path), good.length, 'each byte of the image sent once');
    const offsets = coap.offsetsRead(path);
    assert.deepEqual(offsets, Array.from({ length: Math.ceil(good.length / BLOCK) }, (_, i) => i * BLOCK), 'blocks of 1024 bytes, in order, none twice');
    assert.ok(coap.bytesServed(`${path}.manifest`) > 0, 'the signed manifest came over CoAP too');

    assert.equal((await device.exec('/5/0/2')).code, '2.04');
    await waitFor('update finished', async () => (await device.status()).result === R.SUCCESS);
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.SUCCESS });
    assert.equal(device.runningVersion(), '1.1.0');
    assert.equal(await device.read('/5/0/7'), '1.1.0');
    assert.equal(device.host.firmware!.running().trial, false, 'confirmed after the health check');
  });

  const rejections: [string, () => string, number][] = [
    ['tampered (bytes differ from the signed hash)', () => publish({ version: '1.1.0', describe: image(200_000, 9) }), R.INTEGRITY_CHECK_FAILURE],
    ['truncated (shorter than the manifest says)', () => publish({ version: '1.1.0', describe: good }, good.subarray(0, 150_000)), R.INTEGRITY_CHECK_FAILURE],
    ['unsigned (no manifest: 4.04 for it)', () => publish('unsigned'), R.INTEGRITY_CHECK_FAILURE],
    ['signed with another key', () => publish({ version: '1.1.0', signWith: generateKeyPairSync('ed25519').privateKey }), R.INTEGRITY_CHECK_FAILURE],
    ['built for another model', () => publish({ version: '1.1.0', models: ['OTHER-MODEL'] }), R.UNSUPPORTED_PACKAGE_TYPE],
    ['older than the running version (anti-rollback)', () => publish({ version: '0.9.0' }), R.UNSUPPORTED_PACKAGE_TYPE],
  ];
  for (const [what, uri, result] of rejections) {
    test(`an image ${what} fetched over CoAP ends in Idle with result ${result}; the old version keeps running`, async () => {
      const u = uri();
      await device.write('/5/0/1', u);
      await waitFor('rejected', async () => ((await device.status()).result === result ? true : undefined));
      assert.deepEqual(await device.status(), { state: S.IDLE, result });
      assert.ok(coap.bytesServed(pathOf(u)) > 0, 'the image was fetched before it was judged');
      assert.equal((await device.exec('/5/0/2')).code, '4.05', 'nothing to install');
      assert.equal(device.runningVersion(), '1.0.0');
      assert.equal(device.host.firmware!.running().slot, 'a');
    });
  }

  test('4.04 for the image (unknown file, or a path no route serves) ends in Idle with result 7 (invalid URI)', async () => {
    await device.write('/5/0/1', coap.uri('/missing.bin'));
    await waitFor('404 reported', async () => (await device.status()).result === R.INVALID_URI);
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INVALID_URI });

    await device.write('/5/0/1', '');
    await device.write('/5/0/1', `coap://127.0.0.1:${coap.port}/nowhere/img.bin`);
    await waitFor('404 reported', async () => (await device.status()).result === R.INVALID_URI);
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INVALID_URI });
    assert.equal(device.runningVersion(), '1.0.0');
  });

  test('an image larger than the slot is refused from the Size2 of its first block: result 2, nothing more fetched', async () => {
    const small = new FirmwareTestDevice(join(dir.path, 'small'), files.trustAnchor, { flashCapacityBytes: 100_000 }, { sources });
    try {
      const uri = publish({ version: '1.1.0' });
      await small.write('/5/0/1', uri);
      await waitFor('refused', async () => (await small.status()).result === R.NOT_ENOUGH_FLASH);
      assert.deepEqual(await small.status(), { state: S.IDLE, result: R.NOT_ENOUGH_FLASH });
      assert.deepEqual(coap.offsetsRead(pathOf(uri)), [0], 'only block 0, which told the size');
      assert.equal(small.runningVersion(), '1.0.0');
    } finally {
      small.shutdown();
    }
  });

  /** True for a request for the image's manifest: the first thing each download attempt asks for. */
  const asksForManifest = (datagram: Buffer) => parse(datagram).options.some((o) => o.name === 'Uri-Path' && o.value.toString().endsWith('.manifest'));

  /**
   * Downloads `good` through a link that goes down while the block at 80 KiB is asked for (its
   * answer is lost on the way back) and comes back when `restore` says so.
   */
  async function downloadThroughLostLink(restore: 'on the first retransmission' | 'when the next attempt starts') {
    const proxy = await new UdpLinkProxy(coap.port).start();
    try {
      const path = newPath();
      coap.publish(path, good, { version: '1.1.0' });
      let cutAt: number | undefined;
      coap.beforeBlock = (p, offset) => {
        if (p === path && offset >= 80 * BLOCK && cutAt === undefined) {
          cutAt = offset;
          proxy.down = true;
        }
      };
      proxy.onDrop = (datagram, direction) => {
        if (direction !== 'toServer') return;
        if (restore === 'on the first retransmission' || asksForManifest(datagram)) proxy.down = false;
      };
      await device.write('/5/0/1', coap.uri(path, proxy.port));
      await settled(S.DOWNLOADED);
      assert.ok(cutAt !== undefined && proxy.dropped.toClient >= 1, 'an answer was lost mid-download');
      assert.deepEqual(staged(), good);
      assert.equal(timesRead(path, 0), 1, 'resumed, not restarted');
      assert.ok(timesRead(path, cutAt) <= 2);
      assert.ok(coap.bytesServed(path) <= good.length + BLOCK, `served ${coap.bytesServed(path)} bytes for a ${good.length}-byte image`);
      return { path, cutAt };
    } finally {
      await proxy.close();
    }
  }

  test('a link lost briefly mid-download: the retransmitted request carries on, at most one block is sent twice', async () => {
    await downloadThroughLostLink('on the first retransmission');
  });

  test('a link lost for longer than a block may take: the next attempt resumes from the part file, one block is sent twice', async () => {
    const { path, cutAt } = await downloadThroughLostLink('when the next attempt starts');
    // The lost block was read for the first attempt and again for the second, which began
    // right there: every block before it was already on disk.
    assert.equal(timesRead(path, cutAt), 2);
  });

  test('a download cut by a power failure resumes after the next boot from the part file, not from zero', async () => {
    const path = newPath();
    coap.publish(path, good, { version: '1.1.0' });
    let cutAt: number | undefined;
    coap.beforeBlock = (p, offset) => {
      // Power fails while this block is on its way: the dead device never stores it.
      if (p === path && offset >= 100 * BLOCK && cutAt === undefined) {
        cutAt = offset;
        device.powerCut();
      }
    };
    await device.write('/5/0/1', coap.uri(path));
    await settled(S.DOWNLOADED);
    assert.ok(cutAt !== undefined, 'the power was cut mid-download');
    assert.deepEqual(staged(), good);
    assert.equal(timesRead(path, 0), 1, 'block 0 fetched once: the boot resumed the part file');
    // Every block before the cut was on disk before the next was asked for, so the only block
    // sent twice is the one in flight when the power went (answered to a device that was off).
    assert.equal(timesRead(path, cutAt), 2, 'the block lost with the power is fetched again');
    assert.ok(coap.bytesServed(path) <= good.length + BLOCK, `served ${coap.bytesServed(path)} bytes for a ${good.length}-byte image`);
  });

  test('an image replaced under the same URI while the link is down is fetched again from zero, and it verifies', async () => {
    const proxy = await new UdpLinkProxy(coap.port).start();
    try {
      const path = newPath();
      const replacement = image(180_000, 11);
      coap.publish(path, good, { version: '1.1.0' });
      let replacedAt: number | undefined;
      coap.beforeBlock = (p, offset) => {
        if (p === path && offset >= 60 * BLOCK && replacedAt === undefined) {
          replacedAt = offset;
          proxy.down = true;
          coap.publish(path, replacement, { version: '1.2.0' });
        }
      };
      // Back up once the device's next attempt starts (it asks for the manifest first), so
      // that attempt resumes with the ETag kept next to the part file and meets the new one.
      proxy.onDrop = (datagram, direction) => {
        if (direction === 'toServer' && asksForManifest(datagram)) proxy.down = false;
      };
      await device.write('/5/0/1', coap.uri(path, proxy.port));
      await settled(S.DOWNLOADED);
      assert.ok(replacedAt !== undefined, 'replaced mid-download');
      assert.deepEqual(staged(), replacement, 'the new image, not the old one with the new one stitched on');
      assert.equal(timesRead(path, 0), 2, 'fetched again from block 0');
      await device.exec('/5/0/2');
      await waitFor('update finished', async () => (await device.status()).result === R.SUCCESS);
      assert.equal(device.runningVersion(), '1.2.0');
    } finally {
      await proxy.close();
    }
  });

  test('an image replaced under the same URI during a power cut is fetched again from zero at boot, and it verifies', async () => {
    const path = newPath();
    const replacement = image(210_000, 5);
    coap.publish(path, good, { version: '1.1.0' });
    let cut = false;
    coap.beforeBlock = (p, offset) => {
      if (p === path && offset >= 90 * BLOCK && !cut) {
        cut = true;
        coap.publish(path, replacement, { version: '1.2.0' });
        device.powerCut();
      }
    };
    await device.write('/5/0/1', coap.uri(path));
    await settled(S.DOWNLOADED);
    assert.ok(cut);
    assert.deepEqual(staged(), replacement);
    assert.equal(timesRead(path, 0), 2, 'fetched again from block 0');
    assert.equal((await device.exec('/5/0/2')).code, '2.04');
    await waitFor('update finished', async () => (await device.status()).result === R.SUCCESS);
    assert.equal(device.runningVersion(), '1.2.0');
  });
});
