import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { generate, parse, type NamedOption, type ParsedPacket } from 'coap-packet';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respondBlock } from '../../gateway/coap/block2-response.js';
import type { Gateway } from '../../gateway/gateway.js';
import { ContentFormat, decodeBlock, decodeUint, encodeBlock } from '../../protocol/coap/index.js';
import { startGateway, tempDir, testLog } from '../support/harness.js';
import { addFirmware } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

const IMAGE = Buffer.from(Array.from({ length: 64 * 1024 }, (_, i) => (i * 29 + (i >> 8)) & 0xff));

/** A peer on its own UDP socket, speaking raw datagrams to one server port. */
class RawPeer {
  private messageId = 0x2000;

  private constructor(
    private readonly socket: Socket,
    private readonly port: number,
  ) {}

  static async open(port: number): Promise<RawPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawPeer(socket, port);
  }

  /** Sends one datagram and resolves to the next one that comes back (or rejects after a while). */
  exchange(datagram: Buffer, timeoutMs = 3000): Promise<ParsedPacket> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (msg: Buffer) => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(parse(msg));
      };
      this.socket.on('message', onMessage);
      this.socket.send(datagram, this.port, '127.0.0.1');
    });
  }

  /**
   * A Confirmable request; resolves to its answer, piggybacked on the ACK or, when the server
   * took longer than its piggyback delay, sent separately after an empty ACK (which is skipped;
   * the separate Confirmable answer is acknowledged).
   */
  request(code: string, path: string[], options: NamedOption[] = [], timeoutMs = 3000): Promise<ParsedPacket> {
    const messageId = ++this.messageId;
    const token = Buffer.from([messageId >> 8, messageId & 0xff]);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (msg: Buffer, from: RemoteInfo) => {
        const packet = parse(msg);
        if (packet.code === '0.00' || !packet.token.equals(token)) return;
        if (packet.confirmable) this.socket.send(generate({ code: '0.00', ack: true, messageId: packet.messageId }), from.port, from.address);
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(packet);
      };
      this.socket.on('message', onMessage);
      this.socket.send(
        generate({
          code,
          confirmable: true,
          messageId,
          token,
          options: [...path.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p) })), ...options],
        }),
        this.port,
        '127.0.0.1',
      );
    });
  }

  close(): void {
    this.socket.close();
  }
}

const option = (packet: ParsedPacket, name: string) => packet.options.find((o) => o.name === name)?.value;
const block2 = (num: number, szx: number): NamedOption => ({ name: 'Block2', value: encodeBlock({ num, more: false, szx }) });

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

describe('the gateway CoAP endpoint on the wire', () => {
  const dir = tempDir('edgedm-coap-');
  let gateway: Gateway;
  let peer: RawPeer;
  let firmware: string;
  let path: string[];

  /** A new transfer of the image: its own URI path and byte counters. */
  const newTransfer = () => {
    const { id } = gateway.firmware.createTransfer({ firmwareId: firmware, endpoint: 'raw-udp', rolloutId: null, transport: 'coap', allowDowngrade: false });
    return { id, path: ['fw', id, 'sim-2.0.0.bin'] };
  };

  /**
   * What a transfer counted once `requests` blocks are counted: a block is counted after its
   * answer is sent, so the answer can arrive first.
   */
  const counted = async (transferId: string, requests: number) => {
    const t = await waitFor(`${requests} blocks counted`, () => {
      const now = gateway.firmware.transfer(transferId)!;
      return now.requests >= requests ? now : undefined;
    });
    return { requests: t.requests, bytes: t.bytesServed };
  };

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    firmware = await addFirmware(gateway, '2.0.0', ['EDM-T'], IMAGE);
    path = newTransfer().path;
    peer = await RawPeer.open(gateway.coapPort!);
  });
  after(async () => {
    peer.close();
    await gateway.close();
    dir.remove();
  });

  test('a malformed Confirmable datagram is answered with Reset, and the endpoint keeps serving', async () => {
    // Version 1, CON, GET, message ID 0x1234, then an option byte with the reserved delta 15.
    const reply = await peer.exchange(Buffer.from([0x40, 0x01, 0x12, 0x34, 0xf1, 0x00]));
    assert.equal(reply.reset, true);
    assert.equal(reply.code, '0.00');
    assert.equal(reply.messageId, 0x1234);
    assert.equal(reply.token.length, 0);
    const next = await peer.request('GET', path, [block2(0, 6)]);
    assert.equal(next.code, '2.05');
    assert.deepEqual(next.payload, IMAGE.subarray(0, 1024));
  });

  test('an empty Confirmable message (a ping) is answered with Reset', async () => {
    const reply = await peer.exchange(generate({ code: '0.00', confirmable: true, messageId: 0x0bad, token: Buffer.alloc(0) }));
    assert.equal(reply.reset, true);
    assert.equal(reply.code, '0.00');
    assert.equal(reply.messageId, 0x0bad);
  });

  test('an unknown first path segment is 4.04; so is an unknown transfer', async () => {
    const unknownRoute = await peer.request('GET', ['nope', ...path.slice(1)]);
    assert.equal(unknownRoute.code, '4.04');
    assert.equal((await peer.request('GET', ['fw', 'no-such-transfer', 'sim-2.0.0.bin'])).code, '4.04');
  });

  test('a method other than GET on /fw is 4.05', async () => {
    for (const method of ['POST', 'PUT', 'DELETE']) assert.equal((await peer.request(method, path)).code, '4.05', method);
  });

  test('Block2 with SZX 7 (BERT, TCP only) is 4.00; a block starting past the end is 4.02', async () => {
    assert.equal((await peer.request('GET', path, [block2(0, 7)])).code, '4.00');
    assert.equal((await peer.request('GET', path, [block2(64, 6)])).code, '4.02', 'block 64 of 1024 bytes starts at 65536, the size');
    assert.equal((await peer.request('GET', path, [block2(63, 6)])).code, '2.05', 'the last block is still there');
  });

  test('Block2 num 2 of 256 bytes is exactly bytes 512..767, with M set and the image ETag; Size2 comes with block 0', async () => {
    const { id, path } = newTransfer();
    const second = await peer.request('GET', path, [block2(2, 4)]);
    assert.equal(second.code, '2.05');
    assert.deepEqual(second.payload, IMAGE.subarray(512, 768));
    assert.deepEqual(decodeBlock(option(second, 'Block2')!), { num: 2, more: true, szx: 4 });
    const etag = option(second, 'ETag');
    assert.deepEqual(etag, createHash('sha256').update(IMAGE).digest().subarray(0, 8), 'ETag: the first 8 bytes of the image SHA-256');
    assert.equal(option(second, 'Size2'), undefined, 'Size2 only with block 0 or when asked for');

    const first = await peer.request('GET', path, [block2(0, 4)]);
    assert.deepEqual(first.payload, IMAGE.subarray(0, 256));
    assert.equal(decodeUint(option(first, 'Size2')!), IMAGE.length);
    assert.deepEqual(option(first, 'ETag'), etag, 'the same validator on every block');

    const asked = await peer.request('GET', path, [block2(5, 6), { name: 'Size2', value: Buffer.alloc(0) }]);
    assert.equal(decodeUint(option(asked, 'Size2')!), IMAGE.length, 'Size2 0 in a request asks for it');

    const last = await peer.request('GET', path, [block2(255, 4)]);
    assert.deepEqual(last.payload, IMAGE.subarray(255 * 256));
    assert.equal(decodeBlock(option(last, 'Block2')!)!.more, false, 'M clear on the last block');

    assert.deepEqual(await counted(id, 4), { requests: 4, bytes: 256 + 256 + 1024 + 256 }, 'payload bytes counted on the transfer');
  });

  test('libcoap interop: coap-client fetches the whole image block-wise, byte for byte', async (t) => {
    if (!onPath('coap-client-notls')) return t.skip('coap-client-notls not installed');
    const out = join(dir.path, 'fetched.bin');
    const { id, path } = newTransfer();
    await promisify(execFile)('coap-client-notls', ['-m', 'get', '-b', '1024', '-o', out, `coap://127.0.0.1:${gateway.coapPort}/${path.join('/')}`], { timeout: 30_000 });
    assert.ok(readFileSync(out).equals(IMAGE), 'the same bytes');
    assert.deepEqual(await counted(id, IMAGE.length / 1024), { requests: IMAGE.length / 1024, bytes: IMAGE.length }, 'each block served once');
  });
});

describe("the gateway's CoAP socket on its own (server and client roles)", () => {
  let node: CoapNode;
  const dir = tempDir('edgedm-coap-slow-');
  const SLOW = IMAGE.subarray(0, 4 * 1024);

  before(async () => {
    node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog });
    // A resource whose every block takes a while (a busy disk, a loaded gateway).
    node.route('slow', async (req, res) => {
      await new Promise((resolve) => setTimeout(resolve, 150));
      await respondBlock(req, res, { size: SLOW.length, etag: Buffer.from('slowslow'), contentFormat: ContentFormat.OCTET_STREAM, read: async (offset, length) => SLOW.subarray(offset, offset + length) });
    });
  });
  after(async () => {
    await node.close();
    dir.remove();
  });

  test('a request from the client role leaves from the port the server listens on, and its answer comes back', async () => {
    const device = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => device.bind(0, '127.0.0.1', resolve));
      const arrived = new Promise<{ packet: ParsedPacket; from: RemoteInfo }>((resolve) => device.once('message', (msg, from) => resolve({ packet: parse(msg), from })));
      const response = node.client.request({ address: '127.0.0.1', port: device.address().port }, { method: 'GET', path: ['3', '0', '0'] }, { timeoutMs: 5000 });
      const { packet, from } = await arrived;
      assert.equal(from.port, node.port, 'sent from the server socket');
      assert.equal(packet.code, '0.01');
      // Answered as a device would: piggybacked on the ACK, to where the request came from.
      device.send(generate({ code: '2.05', ack: true, messageId: packet.messageId, token: packet.token, payload: Buffer.from('edgedm') }), from.port, from.address);
      const answer = await response;
      assert.equal(answer.code, '2.05');
      assert.equal(answer.payload.toString(), 'edgedm');
    } finally {
      device.close();
    }
  });

  test('an answer that takes a while is still piggybacked on the ACK, not sent separately', async () => {
    const socket = createSocket('udp4');
    try {
      await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
      const first = new Promise<ParsedPacket>((resolve) => socket.once('message', (msg) => resolve(parse(msg))));
      socket.send(generate({ code: 'GET', confirmable: true, messageId: 0x4242, token: Buffer.from([7]), options: [{ name: 'Uri-Path', value: Buffer.from('slow') }, block2(1, 6)] }), node.port, '127.0.0.1');
      const reply = await first;
      assert.deepEqual([reply.ack, reply.code, reply.messageId], [true, '2.05', 0x4242], 'the first datagram back is the ACK carrying the answer');
      assert.deepEqual(reply.payload, SLOW.subarray(1024, 2048));
    } finally {
      socket.close();
    }
  });

  test('libcoap interop: coap-client fetches a resource whose blocks each take a while', async (t) => {
    // libcoap before 4.3.5 (Debian 12 ships 4.3.1) stalls on a Block2 transfer whose first
    // block comes as a separate response: the gateway must answer piggybacked.
    if (!onPath('coap-client-notls')) return t.skip('coap-client-notls not installed');
    const out = join(dir.path, 'slow.bin');
    await promisify(execFile)('coap-client-notls', ['-B', '20', '-m', 'get', '-b', '1024', '-o', out, `coap://127.0.0.1:${node.port}/slow`], { timeout: 30_000 });
    assert.ok(readFileSync(out).equals(SLOW), 'the same bytes');
  });
});
