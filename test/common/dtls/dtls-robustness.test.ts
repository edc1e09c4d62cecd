import assert from 'node:assert/strict';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { DtlsClient } from '../../../common/dtls/dtls-client.js';
import { DtlsServer } from '../../../common/dtls/dtls-server.js';
import { DtlsError } from '../../../common/dtls/errors.js';
import {
  HandshakeType,
  decodeClientHello,
  decodeHelloVerifyRequest,
  decodeServerHello,
  encodeClientHello,
  encodeFragment,
  encodeHandshake,
  parseHandshakeFragments,
} from '../../../common/dtls/handshake-messages.js';
import { ContentType, DTLS_1_2, encodeRecord, parseRecords } from '../../../common/dtls/record.js';
import type { DtlsLogger } from '../../../common/dtls/stats.js';
import { UdpRelay } from './relay.js';

const KEY = Buffer.from('robustness-key');
const closers: (() => unknown)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

/** Deterministic PRNG (mulberry32), so a failing input can be reproduced from the seed. */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mutate(input: Buffer, rand: () => number): Buffer {
  const b = Buffer.from(input);
  const int = (n: number) => Math.floor(rand() * n);
  switch (int(7)) {
    case 0: // bit flips
      for (let i = 0, n = 1 + int(4); i < n && b.length; i++) b[int(b.length)]! ^= 1 << int(8);
      return b;
    case 1: // interesting bytes
      for (let i = 0, n = 1 + int(3); i < n && b.length; i++) b[int(b.length)] = [0, 0xff, 0x7f, 0x80, 1][int(5)]!;
      return b;
    case 2: // truncation
      return b.subarray(0, int(b.length + 1));
    case 3: // garbage appended
      return Buffer.concat([b, Buffer.from(Array.from({ length: int(40) }, () => int(256)))]);
    case 4: {
      // a length field (record length at 11, handshake lengths at 14, 22) set to something odd
      const at = [11, 14, 22, 25, 13 + 12 + 2 + 32][int(5)]!;
      if (at + 1 < b.length) b.writeUInt16BE([0, 1, 0xffff, b.length, b.length + 1][int(5)]!, at);
      return b;
    }
    case 5: // epoch or sequence number changed
      if (b.length > 11) b.writeUInt16BE(int(4), 3), b.writeUIntBE(int(2 ** 20), 5, 6);
      return b;
    default: // random datagram
      return Buffer.from(Array.from({ length: int(300) }, () => int(256)));
  }
}

function clientHelloDatagram(random: Buffer, cookie: Buffer = Buffer.alloc(0), messageSeq = 0, seq = 0): Buffer {
  const body = encodeClientHello({ clientVersion: DTLS_1_2, random, sessionId: Buffer.alloc(0), cookie, cipherSuites: [0xc0a8, 0xae], compressionMethods: Buffer.from([0]), extensions: [{ type: 0xff01, data: Buffer.from([0]) }] });
  return encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, seq, fragment: encodeHandshake(HandshakeType.client_hello, messageSeq, body) });
}

/** A server whose internal failures (bugs, not peer errors) are collected. */
async function server(opts: Partial<Parameters<typeof DtlsServer.listen>[0]> = {}): Promise<{ server: DtlsServer; bugs: unknown[] }> {
  const bugs: unknown[] = [];
  const log: DtlsLogger = {
    debug: (o) => (o as { alert?: string }).alert === 'internal_error' && bugs.push(o),
    info: () => {},
    warn: (o) => bugs.push(o),
  };
  const s = await DtlsServer.listen({ host: '127.0.0.1', port: 0, psk: (id) => (id.toString() === 'dev' ? KEY : undefined), log, retransmit: { initialMs: 200, maxMs: 400, maxRetransmissions: 2 }, ...opts });
  s.on('message', (d: Buffer, r: RemoteInfo) => s.send(d, r.port, r.address));
  closers.push(() => s.close());
  return { server: s, bugs };
}

async function captureHandshake(): Promise<Buffer[]> {
  const { server: s } = await server({ mtu: 200, identityHint: 'h'.repeat(150) });
  const relay = await UdpRelay.start(s.address().port);
  closers.push(() => relay.close());
  const { client } = await DtlsClient.connect({ host: '127.0.0.1', port: relay.port, psk: { identity: Buffer.from('dev'), key: KEY }, mtu: 200 });
  client.send(Buffer.from('data'), relay.port, '127.0.0.1');
  await once(client, 'message');
  await client.close();
  return relay.seen.map((s) => s.datagram);
}

describe('DTLS robustness', () => {
  test('fuzz: 120,000 mutated datagrams through the parsers: only DtlsErrors, never a crash', async () => {
    const seeds = await captureHandshake();
    const rand = rng(0xd715);
    let records = 0;
    let decodeErrors = 0;
    for (let i = 0; i < 120_000; i++) {
      const input = mutate(seeds[i % seeds.length]!, rand);
      const parsed = parseRecords(input);
      for (const r of parsed.records) {
        records++;
        if (r.type !== ContentType.handshake) continue;
        try {
          for (const f of parseHandshakeFragments(r.fragment)) {
            if (f.fragmentOffset !== 0 || f.fragmentLength !== f.length) continue;
            if (f.msgType === HandshakeType.client_hello) decodeClientHello(f.body);
            else if (f.msgType === HandshakeType.server_hello) decodeServerHello(f.body);
            else if (f.msgType === HandshakeType.hello_verify_request) decodeHelloVerifyRequest(f.body);
          }
        } catch (err) {
          assert.ok(err instanceof DtlsError, `input ${input.toString('hex')}: ${(err as Error).stack}`);
          decodeErrors++;
        }
      }
    }
    assert.ok(records > 50_000 && decodeErrors > 1000, `${records} records, ${decodeErrors} decode errors`);
  });

  test('fuzz: 100,000 mutated datagrams into a live server (stateless path and an established session)', async () => {
    const seeds = await captureHandshake();
    const { server: s, bugs } = await server({ maxSessions: 50 });
    const { client } = await DtlsClient.connect({ host: '127.0.0.1', port: s.address().port, psk: { identity: Buffer.from('dev'), key: KEY } });
    closers.push(() => client.close());
    const legit = client.address();
    const rand = rng(42);
    const onDatagram = (s as unknown as { onDatagram(m: Buffer, r: RemoteInfo): void }).onDatagram.bind(s);
    for (let i = 0; i < 100_000; i++) {
      const input = mutate(seeds[i % seeds.length]!, rand);
      // Half to the established session's address, half from strangers.
      const rinfo = i % 2 ? { address: '127.0.0.1', family: 'IPv4' as const, port: legit.port, size: input.length } : { address: '127.0.0.2', family: 'IPv4' as const, port: 1000 + (i % 5000), size: input.length };
      onDatagram(input, rinfo);
    }
    assert.deepEqual(bugs, []);
    assert.ok(s.sessionCount <= 50);
    const st = s.stats;
    assert.ok(st.malformedRecords + st.malformedMessages + st.badRecordMac + st.replayed + st.oldEpoch + st.strayDatagrams + st.unexpected + st.futureEpoch > 10_000, JSON.stringify(st));
    // The established session survived (epoch-0 junk is old-epoch, epoch-1 junk fails to
    // authenticate) and a new client is served too.
    const session = client.session(s.address().port, '127.0.0.1');
    assert.equal(session?.state, 'connected');
    const echoed = once(client, 'message');
    client.send(Buffer.from('still here'), s.address().port, '127.0.0.1');
    assert.equal(((await echoed) as [Buffer])[0].toString(), 'still here');
    const again = await DtlsClient.connect({ host: '127.0.0.1', port: s.address().port, psk: { identity: Buffer.from('dev'), key: KEY } });
    closers.push(() => again.client.close());
    again.client.send(Buffer.from('alive?'), s.address().port, '127.0.0.1');
    const [answer] = (await once(again.client, 'message')) as [Buffer];
    assert.equal(answer.toString(), 'alive?');
  });

  test('hostile peer: replayed and old-epoch records, truncated and oversized fragments', async () => {
    const { server: s, bugs } = await server();
    const relay = await UdpRelay.start(s.address().port);
    closers.push(() => relay.close());
    const { client, session } = await DtlsClient.connect({ host: '127.0.0.1', port: relay.port, psk: { identity: Buffer.from('dev'), key: KEY } });
    closers.push(() => client.close());
    const echo = async (text: string) => {
      const answer = once(client, 'message');
      client.send(Buffer.from(text), relay.port, '127.0.0.1');
      return ((await answer) as [Buffer])[0].toString();
    };
    assert.equal(await echo('one'), 'one');
    const appRecord = relay.seen.filter((x) => x.dir === 'toServer').at(-1)!.datagram;
    const handshakeRecords = relay.seen.filter((x) => x.dir === 'toServer' && parseRecords(x.datagram).records[0]?.epoch === 0).map((x) => x.datagram);
    const before = { ...s.stats };
    for (let i = 0; i < 20; i++) relay.inject('toServer', appRecord); // replays
    const r = parseRecords(appRecord).records[0]!;
    relay.inject('toServer', encodeRecord({ ...r, epoch: 0, seq: 999 })); // epoch 0 application data
    relay.inject('toServer', encodeRecord({ ...r, epoch: 7 })); // a future epoch that never comes
    relay.inject('toServer', appRecord.subarray(0, appRecord.length - 3)); // truncated record
    relay.inject('toServer', Buffer.concat([appRecord.subarray(0, 11), Buffer.from([0xff, 0xff]), appRecord.subarray(13)])); // length past the datagram
    // Handshake fragments in epoch 0: truncated body, fragment past its message, oversized message.
    const frag = (f: Parameters<typeof encodeFragment>[0], lie = 0) => {
      const enc = encodeFragment(f);
      if (lie) enc.writeUIntBE(lie, 9, 3);
      return encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 0, seq: 5000 + Math.floor(Math.random() * 1e6), fragment: enc });
    };
    relay.inject('toServer', frag({ msgType: 16, length: 100, messageSeq: 9, fragmentOffset: 0, body: Buffer.alloc(10) }, 50));
    relay.inject('toServer', frag({ msgType: 16, length: 100, messageSeq: 9, fragmentOffset: 95, body: Buffer.alloc(10) }));
    relay.inject('toServer', frag({ msgType: 16, length: 16_000_000, messageSeq: 9, fragmentOffset: 0, body: Buffer.alloc(10) }));
    for (const d of handshakeRecords) relay.inject('toServer', d); // the whole old handshake again
    assert.equal(await echo('two'), 'two');
    const st = s.stats;
    assert.ok(st.replayed >= before.replayed + 20, `replayed ${st.replayed}`);
    assert.ok(st.oldEpoch >= before.oldEpoch + 1, `oldEpoch ${st.oldEpoch}`);
    assert.ok(st.futureEpoch >= before.futureEpoch + 1, `futureEpoch ${st.futureEpoch}`);
    assert.ok(st.malformedRecords >= before.malformedRecords + 2, `malformedRecords ${st.malformedRecords}`);
    assert.equal(session.state, 'connected');
    assert.equal(s.sessionCount, 1);
    assert.deepEqual(bugs, []);
  });

  test('flood: 10,000 ClientHellos from 200 source ports, then 400 cookie-verified half-open handshakes, while a client keeps being answered', async () => {
    const { server: s, bugs } = await server({ maxSessions: 100 });
    const port = s.address().port;
    const { client } = await DtlsClient.connect({ host: '127.0.0.1', port, psk: { identity: Buffer.from('dev'), key: KEY } });
    closers.push(() => client.close());
    let answers = 0;
    client.on('message', () => answers++);
    const ping = setInterval(() => client.send(Buffer.from('ping'), port, '127.0.0.1'), 20);
    closers.push(() => clearInterval(ping));

    const sockets: Socket[] = [];
    for (let i = 0; i < 200; i++) {
      const sock = createSocket('udp4');
      await new Promise<void>((r) => sock.bind(0, '127.0.0.1', r));
      sockets.push(sock);
      closers.push(() => sock.close());
    }
    global.gc?.();
    const heapBefore = process.memoryUsage().heapUsed;
    // Phase 1: cookie-less ClientHellos. The server answers each with a HelloVerifyRequest and keeps nothing.
    let hvrs = 0;
    for (const sock of sockets) sock.on('message', () => hvrs++);
    for (let round = 0; round < 50; round++) {
      for (const [i, sock] of sockets.entries()) {
        sock.send(clientHelloDatagram(Buffer.alloc(32, round)), port, '127.0.0.1');
        // Paced a little (bursts of 50), so the flood is not simply lost in the kernel's receive
        // buffer (~200 small datagrams by default) before the server sees it.
        if (i % 50 === 49) await new Promise((r) => setTimeout(r, 2));
      }
    }
    const deadline = Date.now() + 10_000;
    while (s.stats.helloVerifyRequests < 9_000 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // Every ClientHello that reached the server was answered statelessly; on a busy host a few
    // may be lost in the socket buffers before that.
    assert.ok(s.stats.helloVerifyRequests >= 9_000, `HVRs ${s.stats.helloVerifyRequests} of 10,000`);
    assert.equal(s.sessionCount, 1, 'no state for unverified clients');
    for (const sock of sockets) sock.removeAllListeners('message');

    // Phase 2: the attacker completes the cookie exchange from 400 addresses (2 per socket, by
    // changing the random) and leaves every handshake half open.
    let verified = 0;
    for (const sock of sockets) {
      sock.on('message', (m: Buffer) => {
        const rec = parseRecords(m).records[0];
        if (!rec || rec.type !== ContentType.handshake) return;
        const [f] = parseHandshakeFragments(rec.fragment);
        if (f?.msgType !== HandshakeType.hello_verify_request) return;
        const { cookie } = decodeHelloVerifyRequest(f.body);
        const random = (sock as unknown as { random: Buffer }).random;
        verified++;
        sock.send(clientHelloDatagram(random, cookie, 1, 1), port, '127.0.0.1');
      });
    }
    for (let k = 0; k < 2; k++) {
      for (const [i, sock] of sockets.entries()) {
        const random = Buffer.alloc(32, 0);
        random.writeUInt32BE(i * 2 + k);
        (sock as unknown as { random: Buffer }).random = random;
        sock.send(clientHelloDatagram(random), port, '127.0.0.1');
      }
      await new Promise((r) => setTimeout(r, 300));
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.ok(verified >= 300, `verified ${verified}`);
    assert.ok(s.sessionCount <= 100, `sessions ${s.sessionCount}`);
    assert.ok(s.stats.sessionsEvicted >= 200, `evicted ${s.stats.sessionsEvicted}`);
    const answersDuringFlood = answers;
    assert.ok(answersDuringFlood > 10, `answers ${answersDuringFlood}`);
    // The established client was never evicted, and still gets answers.
    const before = answers;
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(answers > before);
    assert.equal(client.session(port, '127.0.0.1')?.state, 'connected');
    global.gc?.();
    const grown = (process.memoryUsage().heapUsed - heapBefore) / 2 ** 20;
    assert.ok(grown < 64, `heap grew ${grown.toFixed(1)} MiB`);
    // Half-open handshakes give up on their own (retransmissions exhausted).
    const deadline2 = Date.now() + 5_000;
    while (s.halfOpenCount > 0 && Date.now() < deadline2) await new Promise((r) => setTimeout(r, 50));
    assert.equal(s.halfOpenCount, 0);
    assert.deepEqual(bugs, []);
    clearInterval(ping);
  });
});
