import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { readdirSync, readlinkSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import BetterSqlite3 from 'better-sqlite3';
import { CoapClient, type CoapResponse } from '../../common/coap/coap-client.js';
import { CoapNode } from '../../common/coap/coap-node.js';
import { firmwareResource } from '../../gateway/coap/firmware-resource.js';
import { FirmwareRepository, type Firmware } from '../../gateway/firmware/firmware-repository.js';
import { loadOrCreateOperatorKey } from '../../gateway/firmware/operator-key.js';
import type { Gateway } from '../../gateway/gateway.js';
import { DATABASE_FILE, openMemoryDatabase } from '../../gateway/store/database.js';
import { encodeBlock } from '../../protocol/coap/index.js';
import { startGateway, tempDir, testLog } from '../support/harness.js';
import { addFirmware } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

const IMAGE = Buffer.from(Array.from({ length: 40 * 1024 + 100 }, (_, i) => (i * 7 + (i >> 10)) & 0xff));
const BLOCK = 1024;
const BLOCKS = Math.ceil(IMAGE.length / BLOCK);

/** A device's side: its own UDP socket and the project's CoAP client. */
async function openClient(): Promise<{ client: CoapClient; socket: Socket }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return { client: new CoapClient(socket), socket };
}

function getBlock(client: CoapClient, port: number, path: string[], num: number): Promise<CoapResponse> {
  return client.request(
    { address: '127.0.0.1', port },
    { method: 'GET', path, options: [['Block2', encodeBlock({ num, more: false, szx: 6 })]] },
    { timeoutMs: 5000, followBlock2: false },
  );
}

/** The descriptors this process holds open on `path`. */
function descriptorsOn(path: string): number {
  let n = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`) === path) n++;
    } catch {
      // closed while we looked
    }
  }
  return n;
}

describe('CoAP firmware serving: cached transfers, batched counters', () => {
  const dir = tempDir('edgedm-coap-serving-');
  let gateway: Gateway;
  let firmwareId: string;
  let device: { client: CoapClient; socket: Socket };

  const newTransfer = () => {
    const { id } = gateway.firmware.createTransfer({ firmwareId, endpoint: 'serving-test', rolloutId: null, transport: 'coap', allowDowngrade: false });
    return { id, path: ['fw', id, 'sim-3.0.0.bin'] };
  };

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    firmwareId = await addFirmware(gateway, '3.0.0', ['EDM-T'], IMAGE);
    device = await openClient();
  });
  after(async () => {
    device.client.close();
    device.socket.close();
    await gateway.close();
    dir.remove();
  });

  test('the counters are exact as soon as a transfer is read, although blocks are counted in memory', async () => {
    const { id, path } = newTransfer();
    const body: Buffer[] = [];
    for (let num = 0; num < BLOCKS; num++) body.push((await getBlock(device.client, gateway.coapPort!, path, num)).payload);
    assert.ok(Buffer.concat(body).equals(IMAGE));
    // No waiting: whoever reads the counters (API, rollout status) gets what was served so far.
    const t = gateway.firmware.transfer(id)!;
    assert.deepEqual([t.bytesServed, t.requests], [IMAGE.length, BLOCKS]);
    assert.ok(t.lastRequestAt !== null && Date.now() - t.lastRequestAt < 10_000);
    const listed = gateway.firmware.transfers({ endpoint: 'serving-test' }).find((x) => x.id === id)!;
    assert.equal(listed.bytesServed, IMAGE.length);
  });

  test('a revoked transfer is refused at once, although it was just served from the cache', async () => {
    const { id, path } = newTransfer();
    assert.equal((await getBlock(device.client, gateway.coapPort!, path, 0)).code, '2.05');
    assert.equal(gateway.firmware.revokeTransfer(id), true);
    assert.equal((await getBlock(device.client, gateway.coapPort!, path, 1)).code, '4.04');
  });

  test('a transfer removed from the store behind the repository stops being served within a second or so', async () => {
    const { id, path } = newTransfer();
    assert.equal((await getBlock(device.client, gateway.coapPort!, path, 0)).code, '2.05');
    const other = new BetterSqlite3(join(dir.path, 'gw', DATABASE_FILE));
    try {
      other.pragma('busy_timeout = 5000');
      assert.equal(other.prepare('DELETE FROM transfers WHERE id = ?').run(id).changes, 1);
    } finally {
      other.close();
    }
    const removedAt = Date.now();
    let num = 1;
    await waitFor('the removed transfer refused', async () => (await getBlock(device.client, gateway.coapPort!, path, num++ % BLOCKS)).code === '4.04', 5000, 50);
    assert.ok(Date.now() - removedAt < 3000, `refused after ${Date.now() - removedAt} ms`);
  });

  test('blocks counted just before the gateway closes are written, not lost', async () => {
    const { id, path } = newTransfer();
    for (let num = 0; num < 5; num++) await getBlock(device.client, gateway.coapPort!, path, num);
    const dataDir = `${dir.path}/gw`;
    await gateway.close();
    gateway = await startGateway(dataDir);
    const t = gateway.firmware.transfer(id)!;
    assert.deepEqual([t.bytesServed, t.requests], [5 * BLOCK, 5]);
  });
});

describe('CoAP firmware serving: the image file', () => {
  const dir = tempDir('edgedm-coap-image-');
  let node: CoapNode;
  let firmware: FirmwareRepository;
  let image: Firmware;
  let device: { client: CoapClient; socket: Socket };

  before(async () => {
    const key = loadOrCreateOperatorKey(dir.path, testLog);
    // No memory budget, so the image is read through its descriptor; idle after 300 ms.
    firmware = new FirmwareRepository(openMemoryDatabase(), dir.path, key, { images: { memoryBudgetBytes: 0, idleCloseMs: 300, recheckMs: 100 } });
    image = await firmware.add(Readable.from([IMAGE]), { name: 'sim', version: '3.0.0', models: ['EDM-T'], vendor: 'test' }, IMAGE.length);
    node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog });
    node.route('fw', firmwareResource(firmware, testLog));
    device = await openClient();
  });
  after(async () => {
    device.client.close();
    device.socket.close();
    await node.close();
    await firmware.close();
    dir.remove();
  });

  const newTransfer = () => ['fw', firmware.createTransfer({ firmwareId: image.id, endpoint: 'fd-test', rolloutId: null, transport: 'coap', allowDowngrade: false }).id, 'sim-3.0.0.bin'];

  test('one descriptor serves every transfer of an image, and it is closed once nobody reads it', async () => {
    const blob = firmware.imagePath(image);
    const paths = [newTransfer(), newTransfer(), newTransfer()];
    for (let num = 0; num < 8; num++) {
      const blocks = await Promise.all(paths.map((p) => getBlock(device.client, node.port, p, num)));
      for (const b of blocks) assert.deepEqual(b.payload, IMAGE.subarray(num * BLOCK, (num + 1) * BLOCK));
    }
    assert.equal(descriptorsOn(blob), 1, 'one descriptor for three transfers');
    await waitFor('the idle image closed', () => descriptorsOn(blob) === 0, 3000, 20);
    assert.equal(firmware.images.openDescriptors, 0);
    // …and opened again when asked.
    assert.deepEqual((await getBlock(device.client, node.port, paths[0]!, 3)).payload, IMAGE.subarray(3 * BLOCK, 4 * BLOCK));
  });

  test('a blob replaced on disk is served as it now is, and the old descriptor is closed', async () => {
    const blob = firmware.imagePath(image);
    const path = newTransfer();
    assert.deepEqual((await getBlock(device.client, node.port, path, 0)).payload, IMAGE.subarray(0, BLOCK));
    const damaged = Buffer.from(IMAGE.subarray(0, 10 * BLOCK + 1));
    damaged[5] ^= 0xff;
    writeFileSync(`${blob}.new`, damaged);
    renameSync(`${blob}.new`, blob);
    await waitFor('the replaced blob served', async () => (await getBlock(device.client, node.port, path, 0)).payload[5] === damaged[5], 3000, 20);
    const last = await getBlock(device.client, node.port, path, 10);
    assert.equal(last.payload.length, 1, 'the file is what it is now: 10 blocks and 1 byte');
    assert.equal(descriptorsOn(blob), 1, 'the replaced file is no longer held open');
    writeFileSync(`${blob}.new`, IMAGE);
    renameSync(`${blob}.new`, blob);
  });

  test('closing the repository closes the image at once: no descriptor is left behind', async () => {
    const blob = firmware.imagePath(image);
    const path = newTransfer();
    // The blob was just put back by the test before: once rechecked, the current file is the one open.
    await waitFor('the blob open', async () => (await getBlock(device.client, node.port, path, 0)).code === '2.05' && descriptorsOn(blob) === 1, 3000, 20);
    await firmware.close();
    assert.equal(descriptorsOn(blob), 0);
  });
});
