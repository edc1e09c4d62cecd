import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CipherSuite, NULL_PROTECTION, deriveProtection } from '../../../common/dtls/cipher-suites.js';
import { CookieJar } from '../../../common/dtls/cookie.js';
import { FragmentReassembly } from '../../../common/dtls/fragment-reassembly.js';
import { HandshakeType, fragmentHandshake, parseHandshakeFragments, decodeClientHello, encodeClientHello } from '../../../common/dtls/handshake-messages.js';
import { masterSecret, prf, pskPremasterSecret } from '../../../common/dtls/prf.js';
import { ContentType, DTLS_1_2, encodeRecord, parseRecords } from '../../../common/dtls/record.js';
import { ReplayWindow } from '../../../common/dtls/replay-window.js';

describe('TLS 1.2 PRF (P_SHA256)', () => {
  test('the IETF TLS WG test vector (100 bytes)', () => {
    // Secret, seed and label from the TLS WG list (msg03416, Nov 2009); the expected output is
    // that of tompetersen/bachelor-thesis PseudoRandomFunction.java (confirmed on the OASIS
    // PKCS#11 list) and also what `openssl kdf TLS1-PRF` prints for these inputs.
    const out = prf(Buffer.from('9bbe436ba940f017b17652849a71db35', 'hex'), 'test label', Buffer.from('a0ba9f936cda311827a6f796ffd5198c', 'hex'), 100);
    assert.equal(
      out.toString('hex'),
      'e3f229ba727be17b8d122620557cd453c2aab21d07c3d495329b52d4e61edb5a6b301791e90d35c9c9a46b4e14baf9af0fa022f7077def17abfd3797c0564bab4fbc91666e9def9b97fce34f796789baa48082d122ee42c5a72e5a5110fff70187347b66',
    );
  });

  test('a shorter output is a prefix of a longer one', () => {
    const s = Buffer.from('secret');
    assert.deepEqual(prf(s, 'l', Buffer.from('seed'), 7), prf(s, 'l', Buffer.from('seed'), 70).subarray(0, 7));
  });

  test('PSK premaster secret (RFC 4279 §2): N zeros and the PSK, each with a 16-bit length', () => {
    assert.equal(pskPremasterSecret(Buffer.from('abc')).toString('hex'), '0003000000' + '0003616263');
  });

  test('extended master secret differs from the classic one', () => {
    const pms = pskPremasterSecret(Buffer.from('k'));
    const r = Buffer.alloc(32, 1);
    assert.notDeepEqual(masterSecret(pms, r, r), masterSecret(pms, r, r, Buffer.alloc(32, 2)));
    assert.equal(masterSecret(pms, r, r).length, 48);
  });
});

describe('record protection', () => {
  for (const suite of [CipherSuite.TLS_PSK_WITH_AES_128_CCM_8, CipherSuite.TLS_PSK_WITH_AES_128_CBC_SHA256]) {
    test(`0x${suite.toString(16)}: round trip, tamper and header binding`, () => {
      const keys = deriveProtection(suite, Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2));
      for (const len of [0, 1, 15, 16, 31, 32, 33, 100, 1000]) {
        const pt = Buffer.alloc(len, 0x5a);
        const ct = keys.client.encrypt(23, DTLS_1_2, 1, 42, pt);
        assert.deepEqual(keys.client.decrypt(23, DTLS_1_2, 1, 42, ct), pt);
        assert.throws(() => keys.client.decrypt(23, DTLS_1_2, 1, 43, ct), { alert: 'bad_record_mac' });
        assert.throws(() => keys.client.decrypt(22, DTLS_1_2, 1, 42, ct), { alert: 'bad_record_mac' });
        assert.throws(() => keys.server.decrypt(23, DTLS_1_2, 1, 42, ct), { alert: 'bad_record_mac' });
        for (const i of [0, ct.length >> 1, ct.length - 1]) {
          const bad = Buffer.from(ct);
          bad[i]! ^= 1;
          assert.throws(() => keys.client.decrypt(23, DTLS_1_2, 1, 42, bad), { alert: 'bad_record_mac' });
        }
        assert.throws(() => keys.client.decrypt(23, DTLS_1_2, 1, 42, ct.subarray(0, ct.length - 1)), { alert: 'bad_record_mac' });
      }
    });
  }

  test('CCM_8 nonce: 4-byte salt from the key block + 8-byte explicit nonce = epoch and sequence', () => {
    const keys = deriveProtection(CipherSuite.TLS_PSK_WITH_AES_128_CCM_8, Buffer.alloc(48, 7), Buffer.alloc(32, 1), Buffer.alloc(32, 2));
    const ct = keys.client.encrypt(23, DTLS_1_2, 3, 0x010203040506, Buffer.from('x'));
    assert.equal(ct.subarray(0, 8).toString('hex'), '0003010203040506');
    assert.equal(ct.length, 8 + 1 + 8);
  });

  test('null protection is the identity', () => {
    assert.deepEqual(NULL_PROTECTION.encrypt(22, DTLS_1_2, 0, 0, Buffer.from('a')), Buffer.from('a'));
  });
});

describe('replay window (RFC 6347 §4.1.2.6)', () => {
  test('accepts new, rejects repeats and too old, slides', () => {
    const w = new ReplayWindow();
    for (const s of [0, 1, 2, 5, 3]) {
      assert.ok(w.check(s), `fresh ${s}`);
      w.accept(s);
    }
    for (const s of [0, 1, 2, 3, 5]) assert.equal(w.check(s), false, `replay ${s}`);
    assert.ok(w.check(4));
    w.accept(100);
    assert.equal(w.check(36), false, 'left of the window');
    assert.ok(w.check(37));
    assert.ok(w.check(99));
    w.accept(2 ** 48 - 1);
    assert.equal(w.check(100), false);
    assert.equal(w.check(2 ** 48 - 1), false);
    assert.ok(w.check(2 ** 48 - 2));
  });
});

describe('cookies', () => {
  test('bound to address and ClientHello parameters; current and previous secret accepted', () => {
    let now = 0;
    const jar = new CookieJar(1000, () => now);
    const input = { address: '127.0.0.1', port: 5000, params: Buffer.from('hello') };
    const c = jar.make(input);
    assert.ok(jar.verify(c, input));
    assert.equal(jar.verify(c, { ...input, port: 5001 }), false);
    assert.equal(jar.verify(c, { ...input, address: '127.0.0.2' }), false);
    assert.equal(jar.verify(c, { ...input, params: Buffer.from('hellO') }), false);
    now = 1500; // one rotation: still good
    assert.ok(jar.verify(c, input));
    now = 2600; // two rotations: gone
    assert.equal(jar.verify(c, input), false);
  });
});

describe('handshake fragmentation and reassembly', () => {
  test('any order, duplicates and overlaps give the message once', () => {
    const body = Buffer.from(Array.from({ length: 1000 }, (_, i) => i & 0xff));
    const frags = fragmentHandshake(HandshakeType.client_hello, 0, body, 100).flatMap(parseHandshakeFragments);
    assert.ok(frags.every((f) => f.fragmentLength + 12 <= 100));
    const r = new FragmentReassembly();
    const order = [...frags].reverse();
    order.push(frags[3]!, { ...frags[2]!, fragmentOffset: 10, fragmentLength: 50, body: body.subarray(10, 60) });
    let out: unknown[] = [];
    for (const f of order) {
      const got = r.add(f, 0);
      if (Array.isArray(got)) out = out.concat(got);
    }
    assert.equal(out.length, 1);
    assert.deepEqual((out[0] as { body: Buffer }).body, body);
    assert.equal(r.add(frags[0]!, 0), 'old');
    assert.equal(r.add({ ...frags[0]!, messageSeq: 50 }, 0), 'ignored');
  });

  test('ClientHello codec round trip and record framing', () => {
    const hello = { clientVersion: DTLS_1_2, random: Buffer.alloc(32, 9), sessionId: Buffer.alloc(0), cookie: Buffer.alloc(32, 3), cipherSuites: [0xc0a8, 0xae], compressionMethods: Buffer.from([0]), extensions: [{ type: 23, data: Buffer.alloc(0) }] };
    const decoded = decodeClientHello(encodeClientHello(hello));
    assert.deepEqual({ ...decoded, cookieInput: undefined }, { ...hello, cookieInput: undefined });
    const rec = encodeRecord({ type: ContentType.handshake, version: DTLS_1_2, epoch: 1, seq: 2 ** 40, fragment: Buffer.from('abc') });
    const { records, malformed } = parseRecords(Buffer.concat([rec, rec.subarray(0, 10)]));
    assert.equal(records.length, 1);
    assert.equal(records[0]!.seq, 2 ** 40);
    assert.equal(malformed, 1);
  });
});
