import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, afterEach, before, beforeEach, describe, test } from 'node:test';
import { pushPackage } from '../../gateway/firmware/package-push.js';
import { encodePackageHeader, FirmwareState as S, UpdateResult as R } from '../../protocol/firmware/index.js';
import { LwM2mPath, type BlockInfo, type Operation, type OperationResult } from '../../protocol/model/index.js';
import { FirmwareServer, type ImageOptions } from '../support/firmware-server.js';
import { tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { FirmwareTestDevice } from './firmware-device.js';

const image = (size: number, seed: number) => Buffer.from(Array.from({ length: size }, (_, i) => (i * seed + (i >> 7)) & 0xff));
const PACKAGE = LwM2mPath.parse('/5/0/0');
const BLOCK = 16 * 1024;

/**
 * Push delivery (Package, /5/0/0) as the gateway's pusher drives it: block-wise writes with
 * the signed manifest in front of the image, resumed from the offset the device reports.
 */
describe('Object 5 push delivery: block-wise Package writes', () => {
  // The server only signs here; nothing is fetched over HTTP.
  let signer: FirmwareServer;
  let dir: ReturnType<typeof tempDir>;
  let device: FirmwareTestDevice;
  const good = image(150_000, 7);

  before(async () => {
    signer = await new FirmwareServer().start();
  });
  after(() => signer.close());
  beforeEach(() => {
    dir?.remove();
    dir = tempDir('edgedm-push-');
    device = new FirmwareTestDevice(dir.path, signer.trustAnchor, {}, { pushIdleMs: 300 });
  });
  afterEach(() => device.shutdown());
  after(() => dir?.remove());

  const imageFile = (bytes: Buffer) => {
    const file = join(dir.path, `image-${bytes.length}-${bytes[1000]}.bin`);
    writeFileSync(file, bytes);
    return file;
  };
  const headerFor = (bytes: Buffer, opts: ImageOptions) => encodePackageHeader(Buffer.from(signer.signedManifest(bytes, opts)));
  const handle = (op: Operation) => device.objects.tree.handle(op, 'server');

  /** Pushes a package with the real pusher; returns the image bytes it put on the wire. */
  async function push(bytes: Buffer, header: Uint8Array, send: (op: Operation) => Promise<OperationResult> = handle): Promise<number> {
    let sent = 0;
    await pushPackage({ send, header, imagePath: imageFile(bytes), imageSize: bytes.length, blockSize: BLOCK, onSent: (n) => (sent += n) });
    return sent;
  }

  const writeBlock = (chunk: Uint8Array, block: BlockInfo) => handle({ kind: 'write', path: PACKAGE, mode: 'replace', content: [{ path: PACKAGE, type: 'opaque', value: chunk }], block });

  test('announces pull and push (/5/0/9 = 2, both)', async () => {
    assert.equal(await device.read('/5/0/9'), 2);
  });

  test('a pushed package ends Downloaded after verification, then installs and is confirmed', async () => {
    const sent = await push(good, headerFor(good, { version: '1.1.0' }));
    assert.equal(sent, good.length, 'every image byte sent once');
    assert.deepEqual(await device.status(), { state: S.DOWNLOADED, result: R.INITIAL });
    assert.equal((await device.exec('/5/0/2')).code, '2.04');
    await waitFor('updated', async () => (await device.status()).result === R.SUCCESS);
    assert.equal(device.runningVersion(), '1.1.0');
    assert.equal(await device.read('/5/0/7'), '1.1.0');
  });

  test('a small package written whole (no block option) is taken as one last block', async () => {
    const small = image(3000, 5);
    const pkg = Buffer.concat([headerFor(small, { version: '1.2.0' }), small]);
    const r = await handle({ kind: 'write', path: PACKAGE, mode: 'replace', content: [{ path: PACKAGE, type: 'opaque', value: pkg }] });
    assert.equal(r.code, '2.04');
    assert.deepEqual(await device.status(), { state: S.DOWNLOADED, result: R.INITIAL });
  });

  const rejections: [string, () => Promise<unknown>, number][] = [
    ['tampered (bytes differ from the signed hash)', () => push(good, headerFor(image(good.length, 9), { version: '1.1.0' })), R.INTEGRITY_CHECK_FAILURE],
    ['truncated (shorter than the manifest says)', () => push(good.subarray(0, 100_000), headerFor(good, { version: '1.1.0' })), R.INTEGRITY_CHECK_FAILURE],
    ['unsigned (a bare image, no manifest in front)', () => writeBlock(good.subarray(0, BLOCK), { num: 0, size: BLOCK, more: true }), R.INTEGRITY_CHECK_FAILURE],
    ['signed with another key', () => push(good, headerFor(good, { version: '1.1.0', signWith: generateKeyPairSync('ed25519').privateKey })), R.INTEGRITY_CHECK_FAILURE],
    ['built for another model', () => push(good, headerFor(good, { version: '1.1.0', models: ['OTHER-MODEL'] })), R.UNSUPPORTED_PACKAGE_TYPE],
    ['older than the running version (anti-rollback)', () => push(good, headerFor(good, { version: '0.9.0' })), R.UNSUPPORTED_PACKAGE_TYPE],
  ];
  for (const [what, send, result] of rejections) {
    test(`a pushed image ${what} ends in Idle with result ${result}; the old version keeps running`, async () => {
      await send().catch(() => undefined);
      assert.deepEqual(await device.status(), { state: S.IDLE, result });
      assert.equal((await device.exec('/5/0/2')).code, '4.05', 'nothing to install');
      assert.equal(device.runningVersion(), '1.0.0');
      assert.equal(device.host.firmware!.running().slot, 'a');
    });
  }

  test('a package larger than its manifest announces is refused (4.13, result 5)', async () => {
    const longer = Buffer.concat([good, image(BLOCK * 2, 3)]);
    await assert.rejects(push(longer, headerFor(good, { version: '1.1.0' })), /4\.13/);
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INTEGRITY_CHECK_FAILURE });
  });

  test('an interrupted push resumes from the offset the device holds: at most one block is sent twice', async () => {
    const header = headerFor(good, { version: '1.1.0' });
    let blocks = 0;
    const dropping = async (op: Operation) => {
      if (++blocks === 5) throw new Error('link lost');
      return handle(op);
    };
    let sent = 0;
    sent += await push(good, header, dropping).catch(() => 4 * BLOCK - header.length);
    assert.equal((await device.status()).state, S.DOWNLOADING, 'still Downloading, waiting for more');
    sent += await push(good, header);
    assert.deepEqual(await device.status(), { state: S.DOWNLOADED, result: R.INITIAL });
    assert.ok(sent <= good.length + BLOCK, `${sent} image bytes sent for a ${good.length}-byte image`);
  });

  test('a power cut mid-push: the device boots in Downloading and the push resumes where it stopped', async () => {
    const header = headerFor(good, { version: '1.1.0' });
    const first = Buffer.concat([header, good.subarray(0, BLOCK - header.length)]);
    assert.equal((await writeBlock(first, { num: 0, size: BLOCK, more: true })).code, '2.31');
    const second = await writeBlock(good.subarray(BLOCK - header.length, 2 * BLOCK - header.length), { num: 1, size: BLOCK, more: true });
    assert.deepEqual([second.code, second.nextOffset], ['2.31', 2 * BLOCK]);
    device.powerCut();
    assert.equal((await device.status()).state, S.DOWNLOADING);
    const again = await writeBlock(first, { num: 0, size: BLOCK, more: true });
    assert.deepEqual([again.code, again.nextOffset], ['2.31', 2 * BLOCK], 'block 0 of the same package answers with the offset held');
    await push(good, header);
    assert.deepEqual(await device.status(), { state: S.DOWNLOADED, result: R.INITIAL });
  });

  test('a block beyond what the device holds is answered 4.08 with the offset it needs', async () => {
    const header = headerFor(good, { version: '1.1.0' });
    await writeBlock(Buffer.concat([header, good.subarray(0, BLOCK - header.length)]), { num: 0, size: BLOCK, more: true });
    const gap = await writeBlock(good.subarray(0, BLOCK), { num: 3, size: BLOCK, more: true });
    assert.deepEqual([gap.code, gap.nextOffset], ['4.08', BLOCK]);
    const stray = await (async () => {
      await handle({ kind: 'write', path: LwM2mPath.parse('/5/0/1'), mode: 'replace', content: [{ path: LwM2mPath.parse('/5/0/1'), type: 'string', value: '' }] });
      return writeBlock(good.subarray(0, BLOCK), { num: 2, size: BLOCK, more: true });
    })();
    assert.deepEqual([stray.code, stray.nextOffset], ['4.08', 0], 'no push in progress after a reset');
  });

  test('a push that stalls is given up (Idle, result 4) and the bytes are kept for the next attempt', async () => {
    const header = headerFor(good, { version: '1.1.0' });
    await writeBlock(Buffer.concat([header, good.subarray(0, BLOCK - header.length)]), { num: 0, size: BLOCK, more: true });
    await waitFor('given up', async () => ((await device.status()).result === R.CONNECTION_LOST ? true : undefined), 5000);
    assert.equal((await device.status()).state, S.IDLE);
    const sent = await push(good, header);
    assert.deepEqual(await device.status(), { state: S.DOWNLOADED, result: R.INITIAL });
    assert.ok(sent <= good.length - (BLOCK - header.length) + BLOCK, 'the retry did not start from zero');
  });

  test('Package is refused while a download is Downloaded (4.05); writing NULL resets to Idle', async () => {
    await push(good, headerFor(good, { version: '1.1.0' }));
    const again = await writeBlock(Buffer.concat([headerFor(good, { version: '1.2.0' }), good.subarray(0, 100)]), { num: 0, size: BLOCK, more: true });
    assert.equal(again.code, '4.05');
    assert.equal((await device.write('/5/0/0', new Uint8Array([0]), 'opaque')).code, '2.04');
    assert.deepEqual(await device.status(), { state: S.IDLE, result: R.INITIAL });
  });

  test('an image larger than the inactive slot is refused before any byte is stored (4.13, result 2)', async () => {
    const big = new FirmwareTestDevice(join(dir.path, 'small-flash'), signer.trustAnchor, { flashCapacityBytes: 50_000 });
    try {
      const header = headerFor(good, { version: '1.1.0' });
      const r = await big.objects.tree.handle({ kind: 'write', path: PACKAGE, mode: 'replace', content: [{ path: PACKAGE, type: 'opaque', value: Buffer.concat([header, good.subarray(0, 1000)]) }], block: { num: 0, size: BLOCK, more: true } }, 'server');
      assert.equal(r.code, '4.13');
      assert.deepEqual(await big.status(), { state: S.IDLE, result: R.NOT_ENOUGH_FLASH });
    } finally {
      big.shutdown();
    }
  });
});
