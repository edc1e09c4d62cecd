import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, writeFileSync } from 'node:fs';
import { delimiter, join } from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, test } from 'node:test';
import { generate, parse, type Option, type ParsedPacket } from 'coap-packet';
import { CoapClient } from '../../common/coap/coap-client.js';
import { CoapNode, type CoapNodeOptions } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import { decodeBlock, decodeUint, encodeBlock, encodeUint } from '../../protocol/coap/index.js';
import { tempDir, testLog } from '../support/harness.js';

const REQUEST_TAG = 292;

interface Upload {
  method: string;
  path: string[];
  query: string[];
  body: Buffer;
  peerPort: number;
  /** Options the handler saw: Block1, Size1 and Request-Tag must not be among them. */
  optionNames: string[];
}

/** A CoapNode with a `/test` route that records every request it is handed and answers 2.04. */
async function recordingNode(opts: Partial<CoapNodeOptions> = {}): Promise<{ node: CoapNode; uploads: Upload[] }> {
  const node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, ...opts });
  const uploads: Upload[] = [];
  node.route('test', (req, res) => {
    uploads.push({
      method: req.method,
      path: req.path,
      query: req.query,
      body: Buffer.from(req.raw.payload),
      peerPort: req.peer.port,
      optionNames: (req.raw._packet.options ?? []).map((o) => String(o.name)),
    });
    respond(res, '2.04', Buffer.from('stored'));
  });
  return { node, uploads };
}

/** A client on its own UDP socket that speaks raw datagrams to one server port. */
class RawPeer {
  private messageId = 0x4000;

  private constructor(
    private readonly socket: Socket,
    private readonly serverPort: number,
  ) {}

  static async open(serverPort: number): Promise<RawPeer> {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new RawPeer(socket, serverPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  /** A Confirmable PUT carrying one block; a new message ID and token unless given. */
  block(path: string[], num: number, more: boolean, szx: number, payload: Buffer, extra: Option[] = [], ids: { messageId?: number; token?: Buffer } = {}): Buffer {
    const messageId = ids.messageId ?? this.nextMessageId();
    return generate({
      code: 'PUT',
      confirmable: true,
      messageId,
      token: ids.token ?? Buffer.from([messageId >> 8, messageId & 0xff, 0xb1]),
      options: [...path.map((p) => ({ name: 'Uri-Path', value: Buffer.from(p) })), { name: 'Block1', value: encodeBlock({ num, more, szx }) }, ...extra],
      payload,
    });
  }

  /** Sends a datagram and resolves to the next one that comes back. */
  exchange(datagram: Buffer, timeoutMs = 3000): Promise<ParsedPacket> {
    return this.exchangeRaw(datagram, timeoutMs).then(parse);
  }

  exchangeRaw(datagram: Buffer, timeoutMs = 3000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.off('message', onMessage);
        reject(new Error(`no answer within ${timeoutMs} ms`));
      }, timeoutMs);
      const onMessage = (msg: Buffer) => {
        clearTimeout(timer);
        this.socket.off('message', onMessage);
        resolve(msg);
      };
      this.socket.on('message', onMessage);
      this.socket.send(datagram, this.serverPort, '127.0.0.1');
    });
  }

  /** Uploads `body` in blocks of 2^(szx+4) bytes, in order; resolves to the final answer. */
  async upload(path: string[], body: Buffer, szx: number, extra: Option[] = []): Promise<ParsedPacket> {
    const size = 16 << szx;
    for (let num = 0; ; num++) {
      const more = (num + 1) * size < body.length;
      const answer = await this.exchange(this.block(path, num, more, szx, body.subarray(num * size, (num + 1) * size), extra));
      if (!more || answer.code !== '2.31') return answer;
    }
  }

  nextMessageId(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }

  close(): void {
    this.socket.close();
  }
}

const option = (packet: ParsedPacket, name: string | number) => packet.options.find((o) => o.name === name || o.name === String(name))?.value;
const block1Of = (packet: ParsedPacket) => {
  const value = option(packet, 'Block1');
  return value && decodeBlock(value);
};
const body = (bytes: number) => randomBytes(bytes);

function onPath(command: string): boolean {
  return (process.env.PATH ?? '').split(delimiter).some((dir) => dir && existsSync(join(dir, command)));
}

describe('Block1 upload reassembly in CoapNode (RFC 7959 §2.5, RFC 9175 Request-Tag)', () => {
  const dir = tempDir('edgedm-block1-');
  let node: CoapNode;
  let uploads: Upload[];
  let peer: RawPeer;

  before(async () => {
    ({ node, uploads } = await recordingNode({ block1: { maxBodyBytes: 64 * 1024 } }));
    peer = await RawPeer.open(node.port);
  });
  after(async () => {
    peer.close();
    await node.close();
    dir.remove();
  });

  test('our CoapClient PUTs 10 KiB block-wise: the handler gets it whole, once, without Block1', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const client = new CoapClient(socket);
    try {
      const payload = body(10 * 1024);
      const before = uploads.length;
      const response = await client.request({ address: '127.0.0.1', port: node.port }, { method: 'PUT', path: ['test', 'client'], payload }, { timeoutMs: 10_000 });
      assert.equal(response.code, '2.04');
      assert.equal(response.payload.toString(), 'stored');
      assert.deepEqual(decodeBlock(response.option('Block1')!), { num: 9, more: false, szx: 6 }, 'the final response carries Block1 with M=0 (RFC 7959 §2.3)');
      assert.equal(uploads.length, before + 1, 'one request for the whole body');
      const got = uploads.at(-1)!;
      assert.deepEqual(got.path, ['test', 'client']);
      assert.ok(got.body.equals(payload), 'the same bytes');
      for (const name of ['Block1', 'Size1', String(REQUEST_TAG)]) assert.ok(!got.optionNames.includes(name), `the handler does not see ${name}`);
    } finally {
      client.close();
      socket.close();
    }
  });

  test('libcoap 4.3 interop: coap-client PUTs 16-byte blocks, a new token each, tied by Request-Tag; the body arrives byte-exact', async (t) => {
    if (!onPath('coap-client-notls')) return t.skip('coap-client-notls (libcoap) is not installed: the libcoap interop upload is not tested');
    const payload = body(1500);
    const file = join(dir.path, 'upload.bin');
    writeFileSync(file, payload);
    const before = uploads.length;
    const { stdout } = await promisify(execFile)('coap-client-notls', ['-m', 'put', '-b', '16', '-f', file, `coap://127.0.0.1:${node.port}/test/libcoap?v=1`], { timeout: 30_000 });
    assert.equal(uploads.length, before + 1);
    const got = uploads.at(-1)!;
    assert.deepEqual(got.path, ['test', 'libcoap']);
    assert.deepEqual(got.query, ['v=1']);
    assert.ok(got.body.equals(payload), `the same ${payload.length} bytes (got ${got.body.length})`);
    assert.match(stdout, /stored/, 'libcoap took the final response');
  });

  test('blocks with a new token each are still one body (keyed by peer, URI and Request-Tag, not token)', async () => {
    const payload = body(100);
    const before = uploads.length;
    const final = await peer.upload(['test', 'tokens'], payload, 0);
    assert.equal(final.code, '2.04');
    assert.deepEqual(block1Of(final), { num: 6, more: false, szx: 0 });
    assert.ok(uploads.at(-1)!.body.equals(payload));
    assert.equal(uploads.length, before + 1);
  });

  test('each non-final block gets 2.31 Continue piggybacked, with its Block1 (same num, M=1, same SZX)', async () => {
    const mid = peer.nextMessageId();
    const token = Buffer.from('tok1');
    const answer = await peer.exchange(peer.block(['test', 'cont'], 0, true, 2, body(64), [], { messageId: mid, token }));
    assert.equal(answer.code, '2.31');
    assert.equal(answer.ack, true);
    assert.equal(answer.messageId, mid);
    assert.ok(answer.token.equals(token));
    assert.deepEqual(block1Of(answer), { num: 0, more: true, szx: 2 });
    // Finish it, so the node holds nothing.
    assert.equal((await peer.exchange(peer.block(['test', 'cont'], 1, false, 2, body(3)))).code, '2.04');
  });

  test('two peers uploading to the same path at once, blocks interleaved, each get their own body', async () => {
    const other = await RawPeer.open(node.port);
    try {
      const a = body(200);
      const b = body(200);
      const before = uploads.length;
      const path = ['test', 'same'];
      for (let num = 0; num * 32 < 200; num++) {
        const more = (num + 1) * 32 < 200;
        const [ra, rb] = await Promise.all([
          peer.exchange(peer.block(path, num, more, 1, a.subarray(num * 32, (num + 1) * 32))),
          other.exchange(other.block(path, num, more, 1, b.subarray(num * 32, (num + 1) * 32))),
        ]);
        assert.equal(ra.code, more ? '2.31' : '2.04');
        assert.equal(rb.code, more ? '2.31' : '2.04');
      }
      const mine = uploads.slice(before);
      assert.equal(mine.length, 2);
      assert.ok(mine.find((u) => u.peerPort === peer.port)!.body.equals(a), "peer A's body");
      assert.ok(mine.find((u) => u.peerPort === other.port)!.body.equals(b), "peer B's body");
    } finally {
      other.close();
    }
  });

  test('one peer, one path, two Request-Tags interleaved: two bodies (RFC 9175 §3.3)', async () => {
    const tagged = (tag: string): Option[] => [{ name: String(REQUEST_TAG), value: Buffer.from(tag) }];
    const one = body(48);
    const two = body(48);
    const before = uploads.length;
    for (let num = 0; num < 3; num++) {
      const more = num < 2;
      assert.equal((await peer.exchange(peer.block(['test', 'tags'], num, more, 0, one.subarray(num * 16, num * 16 + 16), tagged('t1')))).code, more ? '2.31' : '2.04');
      assert.equal((await peer.exchange(peer.block(['test', 'tags'], num, more, 0, two.subarray(num * 16, num * 16 + 16), tagged('t2')))).code, more ? '2.31' : '2.04');
    }
    const mine = uploads.slice(before);
    assert.equal(mine.length, 2);
    assert.ok(mine[0]!.body.equals(one));
    assert.ok(mine[1]!.body.equals(two));
  });

  test('a block out of order is 4.08 Request Entity Incomplete (RFC 7959 §2.9.2), and the partial body is dropped', async () => {
    const path = ['test', 'order'];
    assert.equal((await peer.exchange(peer.block(path, 0, true, 0, body(16)))).code, '2.31');
    const skipped = await peer.exchange(peer.block(path, 2, true, 0, body(16)));
    assert.equal(skipped.code, '4.08');
    assert.match(skipped.payload.toString(), /expected byte 16/);
    assert.equal((await peer.exchange(peer.block(path, 1, false, 0, body(16)))).code, '4.08', 'nothing left to continue');
    assert.equal((await peer.exchange(peer.block(['test', 'never-started'], 3, false, 0, body(16)))).code, '4.08', 'a block without block 0');
  });

  test('a body larger than maxBodyBytes is 4.13 with Size1 = the limit, whether announced in Size1 or sent', async () => {
    const announced = await peer.exchange(peer.block(['test', 'big'], 0, true, 6, body(1024), [{ name: 'Size1', value: encodeUint(65 * 1024) }]));
    assert.equal(announced.code, '4.13');
    assert.equal(decodeUint(option(announced, 'Size1')!), 64 * 1024);

    const sent = await peer.upload(['test', 'big'], body(65 * 1024), 6);
    assert.equal(sent.code, '4.13');
    assert.equal(decodeUint(option(sent, 'Size1')!), 64 * 1024);
    assert.equal(decodeBlock(option(sent, 'Block1') ?? Buffer.alloc(4)), undefined, 'no Block1 on the refusal');
  });

  test('a retransmitted block (same message ID) gets the same answer and is not appended twice', async () => {
    const payload = body(48);
    const path = ['test', 'dup'];
    const before = uploads.length;
    assert.equal((await peer.exchange(peer.block(path, 0, true, 0, payload.subarray(0, 16)))).code, '2.31');
    const second = peer.block(path, 1, true, 0, payload.subarray(16, 32));
    const first = await peer.exchangeRaw(second);
    const again = await peer.exchangeRaw(second);
    assert.ok(again.equals(first), 'the same datagram back');
    const last = peer.block(path, 2, false, 0, payload.subarray(32));
    const done = await peer.exchangeRaw(last);
    assert.equal(parse(done).code, '2.04');
    assert.ok(uploads.at(-1)!.body.equals(payload), 'block 1 counted once');
    assert.equal(uploads.length, before + 1);
    // The final block retransmitted: its response again, not a second upload (nor a 4.08).
    const doneAgain = await peer.exchangeRaw(last);
    assert.ok(doneAgain.equals(done), 'the same final response');
    assert.equal(uploads.length, before + 1, 'the handler ran once');
  });

  test('a malformed Block1 option is 4.02, SZX 7 is 4.00, a short non-final block is 4.00; the node keeps serving', async () => {
    const bad = generate({
      code: 'PUT',
      confirmable: true,
      messageId: peer.nextMessageId(),
      token: Buffer.from('bad1'),
      options: [
        { name: 'Uri-Path', value: Buffer.from('test') },
        { name: 'Block1', value: Buffer.from([1, 2, 3, 4]) },
      ],
      payload: body(16),
    });
    assert.equal((await peer.exchange(bad)).code, '4.02');
    assert.equal((await peer.exchange(peer.block(['test', 'bert'], 0, true, 7, body(1024)))).code, '4.00');
    assert.equal((await peer.exchange(peer.block(['test', 'short'], 0, true, 1, body(20)))).code, '4.00', 'M=1 needs exactly 32 bytes');
    const twice = generate({
      code: 'PUT',
      confirmable: true,
      messageId: peer.nextMessageId(),
      token: Buffer.from('bad2'),
      options: [
        { name: 'Uri-Path', value: Buffer.from('test') },
        { name: 'Block1', value: encodeBlock({ num: 0, more: true, szx: 0 }) },
        { name: 'Block1', value: encodeBlock({ num: 1, more: true, szx: 0 }) },
      ],
      payload: body(16),
    });
    assert.equal((await peer.exchange(twice)).code, '4.02', 'Block1 twice');
    const payload = body(40);
    assert.equal((await peer.upload(['test', 'after'], payload, 1)).code, '2.04');
    assert.ok(uploads.at(-1)!.body.equals(payload));
  });

  test('a single-block Block1 request (num 0, M=0) goes straight through, and its response carries Block1', async () => {
    const payload = body(10);
    const answer = await peer.exchange(peer.block(['test', 'one'], 0, false, 6, payload));
    assert.equal(answer.code, '2.04');
    assert.deepEqual(block1Of(answer), { num: 0, more: false, szx: 6 });
    assert.ok(uploads.at(-1)!.body.equals(payload));
  });

  test('a client restarting at block 0 starts a new body', async () => {
    const path = ['test', 'restart'];
    assert.equal((await peer.exchange(peer.block(path, 0, true, 0, body(16)))).code, '2.31');
    const payload = body(20);
    assert.equal((await peer.upload(path, payload, 0)).code, '2.04');
    assert.ok(uploads.at(-1)!.body.equals(payload));
  });

  test('requests without Block1 are not touched', async () => {
    const answer = await peer.exchange(
      generate({ code: 'PUT', confirmable: true, messageId: peer.nextMessageId(), token: Buffer.from('plain'), options: [{ name: 'Uri-Path', value: Buffer.from('test') }], payload: Buffer.from('hello') }),
    );
    assert.equal(answer.code, '2.04');
    assert.equal(option(answer, 'Block1'), undefined);
    assert.equal(uploads.at(-1)!.body.toString(), 'hello');
  });
});

describe('Block1 reassembly limits', () => {
  test('an idle reassembly expires: the next block is 4.08', async () => {
    const { node } = await recordingNode({ block1: { idleTimeoutMs: 150 } });
    const peer = await RawPeer.open(node.port);
    try {
      assert.equal((await peer.exchange(peer.block(['test', 'idle'], 0, true, 0, body(16)))).code, '2.31');
      await new Promise((resolve) => setTimeout(resolve, 400));
      assert.equal((await peer.exchange(peer.block(['test', 'idle'], 1, false, 0, body(16)))).code, '4.08');
    } finally {
      peer.close();
      await node.close();
    }
  });

  test('more concurrent reassemblies than maxConcurrent: 5.03 with Max-Age; a finished one frees its place', async () => {
    const { node, uploads } = await recordingNode({ block1: { maxConcurrent: 2 } });
    const peers = await Promise.all([1, 2, 3].map(() => RawPeer.open(node.port)));
    try {
      const [a, b, c] = peers as [RawPeer, RawPeer, RawPeer];
      assert.equal((await a.exchange(a.block(['test', 'x'], 0, true, 0, body(16)))).code, '2.31');
      assert.equal((await b.exchange(b.block(['test', 'x'], 0, true, 0, body(16)))).code, '2.31');
      const refused = await c.exchange(c.block(['test', 'x'], 0, true, 0, body(16)));
      assert.equal(refused.code, '5.03');
      assert.ok(decodeUint(option(refused, 'Max-Age')!) >= 1);
      assert.equal((await a.exchange(a.block(['test', 'x'], 1, false, 0, body(5)))).code, '2.04');
      const payload = body(32);
      assert.equal((await c.upload(['test', 'x'], payload, 0)).code, '2.04');
      assert.ok(uploads.at(-1)!.body.equals(payload));
    } finally {
      for (const p of peers) p.close();
      await node.close();
    }
  });

  test('a node preferring smaller blocks answers with its SZX and the client can continue in those', async () => {
    const { node, uploads } = await recordingNode({ block1: { maxSzx: 2 } });
    const peer = await RawPeer.open(node.port);
    try {
      const payload = body(300);
      const first = await peer.exchange(peer.block(['test', 'small'], 0, true, 4, payload.subarray(0, 256)));
      assert.equal(first.code, '2.31');
      // All 256 bytes are kept: the answer names the last 64-byte block they fill.
      assert.deepEqual(block1Of(first), { num: 3, more: true, szx: 2 });
      const last = await peer.exchange(peer.block(['test', 'small'], 4, false, 2, payload.subarray(256)));
      assert.equal(last.code, '2.04');
      assert.ok(uploads.at(-1)!.body.equals(payload));
    } finally {
      peer.close();
      await node.close();
    }
  });

  test('a duplicated final block while the handler is still busy: no second run; after the piggyback delay an empty ACK', async () => {
    const node = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, piggybackReplyMs: 100 });
    let runs = 0;
    node.route('slow', async (_req, res) => {
      runs += 1;
      await new Promise((resolve) => setTimeout(resolve, 600));
      respond(res, '2.04');
    });
    const peer = await RawPeer.open(node.port);
    try {
      assert.equal((await peer.exchange(peer.block(['slow'], 0, true, 0, body(16)))).code, '2.31');
      const last = peer.block(['slow'], 1, false, 0, body(4));
      const first = await peer.exchange(last); // the server's empty ACK after 100 ms
      assert.equal(first.code, '0.00');
      assert.equal(first.ack, true);
      const again = await peer.exchange(last);
      assert.equal(again.code, '0.00', 'the duplicate is acknowledged, not run');
      assert.equal(again.ack, true);
      await new Promise((resolve) => setTimeout(resolve, 800));
      assert.equal(runs, 1);
    } finally {
      peer.close();
      await node.close();
    }
  });
});
