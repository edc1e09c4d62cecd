import assert from 'node:assert/strict';
import { once } from 'node:events';
import { after, describe, test } from 'node:test';
import { CipherSuite, type CipherSuiteName } from '../../../common/dtls/cipher-suites.js';
import { DtlsClient, type DtlsClientOptions } from '../../../common/dtls/dtls-client.js';
import { DtlsServer, type DtlsServerOptions } from '../../../common/dtls/dtls-server.js';
import { DtlsError } from '../../../common/dtls/errors.js';
import { ContentType, parseRecords } from '../../../common/dtls/record.js';
import type { DtlsSession } from '../../../common/dtls/session.js';
import { Socket } from 'node:dgram';
import { createServer as createCoapServer } from 'coap';
import { generate, parse } from 'coap-packet';
import { DtlsSocket } from '../../../common/dtls/dtls-socket.js';
import { UdpRelay } from './relay.js';

const KEY = Buffer.from('0123456789abcdef0123456789abcdef', 'hex');
const FAST = { initialMs: 100, maxMs: 800, maxRetransmissions: 5 };
const SUITES: CipherSuiteName[] = ['TLS_PSK_WITH_AES_128_CCM_8', 'TLS_PSK_WITH_AES_128_CBC_SHA256'];

const closers: (() => unknown)[] = [];
after(async () => {
  for (const c of closers.reverse()) await c();
});

async function echoServer(opts: Partial<DtlsServerOptions> = {}): Promise<DtlsServer> {
  const server = await DtlsServer.listen({ host: '127.0.0.1', port: 0, psk: (id) => (id.toString() === 'device-1' ? KEY : undefined), retransmit: FAST, ...opts });
  server.on('message', (data: Buffer, rinfo) => server.send(Buffer.concat([Buffer.from('echo:'), data]), rinfo.port, rinfo.address));
  closers.push(() => server.close());
  return server;
}

async function client(port: number, opts: Partial<DtlsClientOptions> = {}): Promise<{ client: DtlsClient; session: DtlsSession }> {
  const c = await DtlsClient.connect({ host: '127.0.0.1', port, psk: { identity: Buffer.from('device-1'), key: KEY }, retransmit: FAST, ...opts });
  closers.push(() => c.client.close());
  return c;
}

async function roundTrip(c: DtlsClient, port: number, text: string): Promise<string> {
  const answer = once(c, 'message');
  c.send(Buffer.from(text), port, '127.0.0.1');
  const [data] = (await answer) as [Buffer];
  return data.toString();
}

describe('DTLS 1.2 PSK: our client and our server over loopback', () => {
  for (const suite of SUITES) {
    test(`${suite}: handshake fragmented to a 256-byte MTU, data both ways`, async () => {
      const server = await echoServer({ cipherSuites: [suite], mtu: 256, identityHint: 'hint-'.repeat(60) });
      const relay = await UdpRelay.start(server.address().port);
      closers.push(() => relay.close());
      let hintSeen: Buffer | undefined;
      const { client: c, session } = await client(relay.port, {
        cipherSuites: [suite],
        mtu: 256,
        psk: (hint) => ((hintSeen = hint), { identity: Buffer.from('device-1'), key: KEY }),
      });
      assert.equal(session.cipherSuite, CipherSuite[suite]);
      assert.equal(session.established?.extendedMasterSecret, true);
      assert.equal(hintSeen?.toString(), 'hint-'.repeat(60));
      assert.equal(await roundTrip(c, relay.port, 'hello'), 'echo:hello');
      const handshake = relay.seen.filter((s) => parseRecords(s.datagram).records.some((r) => r.type === ContentType.handshake));
      assert.ok(handshake.every((s) => s.datagram.length <= 256), `sizes ${handshake.map((s) => s.datagram.length)}`);
      // The 300-byte hint makes the ServerKeyExchange span several records.
      assert.ok(handshake.filter((s) => s.dir === 'toClient').length >= 3);
      assert.equal(server.stats.helloVerifyRequests, 1, 'one cookie exchange');
    });
  }

  test('a ClientHello with a forged cookie gets a new HelloVerifyRequest and no state', async () => {
    const server = await echoServer();
    const relay = await UdpRelay.start(server.address().port);
    closers.push(() => relay.close());
    relay.drop = (dir, d) => {
      if (dir !== 'toServer') return false;
      const [r] = parseRecords(d).records;
      // Second ClientHello (message_seq 1) the first time: corrupt its cookie's last byte.
      if (r && r.type === ContentType.handshake && r.fragment[0] === 1 && r.fragment.readUInt16BE(4) === 1 && server.stats.badCookies === 0) {
        const forged = Buffer.from(d);
        const cookieLengthAt = 13 + 12 + 2 + 32 + 1;
        forged[cookieLengthAt + forged[cookieLengthAt]!]! ^= 0xff;
        relay.inject('toServer', forged);
        return true;
      }
      return false;
    };
    await client(relay.port);
    assert.equal(server.stats.badCookies, 1);
    assert.ok(server.stats.helloVerifyRequests >= 2);
    assert.equal(server.sessionCount, 1);
  });

  test('retransmission: lost flights are sent again and the handshake completes', async () => {
    const server = await echoServer({ mtu: 256 });
    const relay = await UdpRelay.start(server.address().port);
    closers.push(() => relay.close());
    // Drop the first ServerHello flight, the first client Finished flight and the first server
    // Finished flight: each side must retransmit.
    const dropped: string[] = [];
    relay.drop = (dir, d) => {
      const types = parseRecords(d).records.map((r) => (r.type === ContentType.handshake && r.epoch === 0 ? r.fragment[0] : r.type === ContentType.changeCipherSpec ? 'ccs' : `e${r.epoch}`));
      const key = `${dir}:${types.join(',')}`;
      const lose = (types.includes(2) || types.includes(16) || (dir === 'toClient' && types.includes('ccs'))) && !dropped.includes(key);
      if (lose) dropped.push(key);
      return lose;
    };
    const t0 = Date.now();
    const { client: c } = await client(relay.port, { mtu: 256 });
    assert.ok(dropped.length >= 3, dropped.join(' '));
    assert.ok(c.stats.retransmissions >= 2, `client retransmitted ${c.stats.retransmissions}`);
    assert.ok(server.stats.retransmissions >= 1, `server retransmitted ${server.stats.retransmissions}`);
    assert.ok(Date.now() - t0 < 3000);
    assert.equal(await roundTrip(c, relay.port, 'after loss'), 'echo:after loss');
  });

  test('a replayed application record is dropped and counted', async () => {
    const server = await echoServer();
    const relay = await UdpRelay.start(server.address().port);
    closers.push(() => relay.close());
    const { client: c } = await client(relay.port);
    const got: string[] = [];
    server.on('message', (d: Buffer) => got.push(d.toString()));
    await roundTrip(c, relay.port, 'once');
    const record = relay.seen.filter((s) => s.dir === 'toServer').at(-1)!.datagram;
    assert.equal(parseRecords(record).records[0]!.type, ContentType.applicationData);
    relay.inject('toServer', record);
    relay.inject('toServer', record);
    await roundTrip(c, relay.port, 'twice');
    assert.deepEqual(got, ['once', 'twice']);
    assert.equal(server.stats.replayed, 2);
  });

  test('renegotiation (RFC 5746): new epoch, records of the old epoch dropped', async () => {
    const server = await echoServer({ renegotiation: true });
    const relay = await UdpRelay.start(server.address().port);
    closers.push(() => relay.close());
    const { client: c, session } = await client(relay.port);
    await roundTrip(c, relay.port, 'epoch 1');
    const oldRecord = relay.seen.filter((s) => s.dir === 'toServer').at(-1)!.datagram;
    const result = await c.renegotiate(relay.port, '127.0.0.1');
    assert.equal(result.cipherSuite, CipherSuite.TLS_PSK_WITH_AES_128_CCM_8);
    assert.deepEqual(session.epoch, { read: 2, write: 2 });
    assert.equal(await roundTrip(c, relay.port, 'epoch 2'), 'echo:epoch 2');
    const before = server.stats.oldEpoch;
    relay.inject('toServer', oldRecord);
    await roundTrip(c, relay.port, 'still epoch 2');
    assert.equal(server.stats.oldEpoch, before + 1);
  });

  test('renegotiation refused by default with a no_renegotiation warning; the session goes on', async () => {
    const server = await echoServer();
    const { client: c } = await client(server.address().port);
    const renegotiation = c.renegotiate(server.address().port, '127.0.0.1');
    renegotiation.catch(() => {});
    await new Promise((r) => setTimeout(r, 150));
    assert.ok(c.stats.alertsReceived >= 1);
    assert.equal(server.sessionCount, 1);
  });

  test('wrong PSK: the server refuses with bad_record_mac and the client is told', async () => {
    const server = await echoServer();
    const closed = once(server, 'sessionClosed');
    await assert.rejects(client(server.address().port, { psk: { identity: Buffer.from('device-1'), key: Buffer.alloc(16, 1) } }), (err: DtlsError) => {
      assert.equal(err.alert, 'bad_record_mac');
      assert.equal(err.remote, true);
      return true;
    });
    const [, err] = (await closed) as [DtlsSession, DtlsError];
    assert.equal(err.alert, 'bad_record_mac');
    assert.equal(err.remote, false);
    assert.equal(server.stats.handshakesFailed, 1);
  });

  test('a server with another key for the identity is refused by the client', async () => {
    // The server holds a different key: the client's Finished fails at the server, which says so.
    const server = await echoServer({ psk: () => Buffer.alloc(16, 2) });
    await assert.rejects(client(server.address().port), { alert: 'bad_record_mac' });
    assert.equal(server.sessionCount, 0);
  });

  test('unknown identity: unknown_psk_identity', async () => {
    const server = await echoServer();
    await assert.rejects(client(server.address().port, { psk: { identity: Buffer.from('nobody'), key: KEY } }), { alert: 'unknown_psk_identity', remote: true });
  });

  test('no suite in common: handshake_failure', async () => {
    const server = await echoServer({ cipherSuites: ['TLS_PSK_WITH_AES_128_CBC_SHA256'] });
    await assert.rejects(client(server.address().port, { cipherSuites: ['TLS_PSK_WITH_AES_128_CCM_8'] }), { alert: 'handshake_failure', remote: true });
  });

  test('close_notify ends the session on both sides', async () => {
    const server = await echoServer();
    const { client: c, session } = await client(server.address().port);
    const closed = once(server, 'sessionClosed');
    session.close();
    const [, err] = await closed;
    assert.equal(err, undefined);
    assert.equal(server.sessionCount, 0);
    assert.equal(c.sessionCount, 0);
  });

  test('a handshake to a silent peer times out after the retransmissions', async () => {
    const silent = await UdpRelay.start(9); // forwards to the discard port: nobody answers
    closers.push(() => silent.close());
    const t0 = Date.now();
    await assert.rejects(client(silent.port, { retransmit: { initialMs: 50, maxMs: 100, maxRetransmissions: 3 } }), (err: DtlsError) => err instanceof DtlsError && /no answer/.test(err.message));
    assert.ok(Date.now() - t0 < 2000);
  });

  test('idle sessions are closed', async () => {
    const server = await echoServer({ idleTimeoutMs: 300 });
    const { session } = await client(server.address().port);
    const closed = once(session, 'close');
    await closed;
    assert.equal(server.stats.sessionsIdleClosed, 1);
  });
});

describe('DtlsSocket under the coap library', () => {
  test('is a dgram.Socket to the library: a duplicate Confirmable POST is answered from its cache, not handled twice', async () => {
    const server = await DtlsServer.listen({ host: '127.0.0.1', port: 0, psk: () => KEY });
    closers.push(() => server.close());
    const socket = new DtlsSocket(server);
    assert.ok(socket instanceof Socket);
    let handled = 0;
    const coapServer = createCoapServer();
    coapServer.on('request', (_req: unknown, res: { code: string; end(b?: string): void }) => {
      handled++;
      res.code = '2.01';
      res.end('created');
    });
    coapServer.listen(socket as never);
    closers.push(() => coapServer.close());
    const { client: c } = await client(server.address().port);
    const post = generate({ confirmable: true, code: '0.02', messageId: 4242, token: Buffer.from([1, 2]), options: [{ name: 'Uri-Path', value: Buffer.from('rd') }] });
    const answers: string[] = [];
    c.on('message', (d: Buffer) => answers.push(`${parse(d).code} ${parse(d).payload.toString()}`));
    c.send(post, server.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    c.send(post, server.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(answers, ['2.01 created', '2.01 created']);
    assert.equal(handled, 1);
  });
});
