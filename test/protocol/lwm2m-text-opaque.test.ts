import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContentDecodeError, ContentEncodeError, opaqueCodec, textCodec } from '../../protocol/lwm2m/index.js';
import { allTypesInstance, opts, P, plain, rec, text, utf8 } from './lwm2m-fixtures.js';

const decodeText = (s: string | Uint8Array, path: string) => textCodec.decode(typeof s === 'string' ? utf8(s) : s, P(path), opts);
const encodeText = (records: Parameters<typeof textCodec.encode>[0], path: string) => text(textCodec.encode(records, P(path), opts));

describe('text/plain', () => {
  test('OMA-TS-LightweightM2M-V1_0 §6.4.1: Read /3/0/0 is "Open Mobile Alliance"', () => {
    assert.equal(encodeText([rec('/3/0/0', 'string', 'Open Mobile Alliance')], '/3/0/0'), 'Open Mobile Alliance');
    assert.deepEqual(plain(decodeText('Open Mobile Alliance', '/3/0/0')), [{ path: '/3/0/0', type: 'string', value: 'Open Mobile Alliance' }]);
  });

  // eclipse-leshan/leshan leshan-lwm2m-core/src/test/java/org/eclipse/leshan/core/node/codec/LwM2mNodeEncoderTest.java
  // (text_encode_*) and LwM2mNodeDecoderTest.java (text_*)
  test('Leshan vectors: float, date, opaque as base64, integer', () => {
    assert.equal(encodeText([rec('/323/0/15', 'float', 56.4)], '/323/0/15'), '56.4');
    assert.equal(encodeText([rec('/3/0/13', 'time', new Date(1367491215000))], '/3/0/13'), '1367491215');
    assert.equal(encodeText([rec('/5/0/0', 'opaque', Uint8Array.of(1, 2, 3, 4, 5))], '/5/0/0'), 'AQIDBAU=');
    assert.deepEqual(plain(decodeText('AQIDBAU=', '/5/0/0')), [{ path: '/5/0/0', type: 'opaque', value: Uint8Array.of(1, 2, 3, 4, 5) }]);
    assert.deepEqual(plain(decodeText('100', '/3/0/9')), [{ path: '/3/0/9', type: 'integer', value: 100 }]);
    assert.deepEqual(plain(decodeText('MyManufacturer', '/3/0/0')), [{ path: '/3/0/0', type: 'string', value: 'MyManufacturer' }]);
    assert.throws(() => decodeText("!,-INVALID$_'", '/5/0/0'), ContentDecodeError);
    assert.throws(() => encodeText([rec('/3/0/6/0', 'integer', 1), rec('/3/0/6/1', 'integer', 5)], '/3/0/6'), ContentEncodeError);
  });

  test('every type round-trips at resource and resource-instance level', () => {
    for (const r of allTypesInstance()) {
      const path = r.path.toString();
      const encoded = textCodec.encode([r], r.path, opts);
      assert.deepEqual(plain(textCodec.decode(encoded, r.path, opts)), plain([r]), path);
    }
  });

  test('text forms of the types', () => {
    const cases: [string, Parameters<typeof rec>[1], Parameters<typeof rec>[2], string][] = [
      ['/9999/0/1', 'integer', -(2n ** 63n), '-9223372036854775808'],
      ['/9999/0/2', 'unsigned', 2n ** 64n - 1n, '18446744073709551615'],
      ['/9999/0/3', 'float', 20, '20.0'],
      ['/9999/0/3', 'float', -1.5e-7, '-1.5e-7'],
      ['/9999/0/4', 'boolean', true, '1'],
      ['/9999/0/4', 'boolean', false, '0'],
      ['/9999/0/7', 'objlnk', { objectId: 66, instanceId: 0 }, '66:0'],
      ['/9999/0/8', 'corelnk', '</3/0>', '</3/0>'],
    ];
    for (const [path, type, value, expected] of cases) assert.equal(encodeText([rec(path, type, value)], path), expected);
    assert.equal((decodeText('1.5E3', '/9999/0/3')[0]!.value as number), 1500);
    assert.deepEqual(plain(decodeText('', '/3/0/0')), [{ path: '/3/0/0', type: 'string', value: '' }]);
    // an unknown resource is a string
    assert.deepEqual(plain(decodeText('42', '/4242/0/1')), [{ path: '/4242/0/1', type: 'string', value: '42' }]);
  });

  test('malformed text is refused', () => {
    const bad: [string | Uint8Array, string, RegExp][] = [
      ['12a', '/3/0/9', /"12a" is not a valid integer/],
      [' 12', '/3/0/9', /not a valid integer/],
      ['', '/3/0/9', /not a valid integer/],
      ['9223372036854775808', '/3/0/9', /outside the signed 64-bit range/],
      ['-1', '/9999/0/2', /outside the unsigned 64-bit range/],
      ['1e999', '/9999/0/3', /not a valid float/],
      ['NaN', '/9999/0/3', /not a valid float/],
      ['true', '/1/0/6', /not a valid boolean/],
      ['2', '/1/0/6', /not a valid boolean/],
      ['2013-05-02', '/3/0/13', /not a valid time/],
      ['99999999999999999', '/3/0/13', /outside the range of a date/],
      ['66:', '/9999/0/7', /not an object link/],
      ['65536:0', '/9999/0/7', /not an object link/],
      ['AQIDBAU', '/5/0/0', /not a valid opaque/],
      [Uint8Array.of(0xc3, 0x28), '/3/0/0', /not valid UTF-8/],
      ['x', '/3/0', /one resource or resource instance/],
      ['x', '/3/0/4', /executable/],
      ['x', '/3/0/0/1', /single resource and has no instances/],
      ['1', '/3/0/6', /multiple resource/],
    ];
    for (const [input, path, message] of bad) {
      assert.throws(() => decodeText(input, path), (err: unknown) => err instanceof ContentDecodeError && message.test(err.message), `${String(input)} at ${path}`);
    }
    assert.throws(() => textCodec.decode(utf8('x'.repeat(11)), P('/3/0/0'), { ...opts, maxBytes: 10 }), /11 bytes exceed the 10-byte limit/);
  });

  test('encoding refuses what text cannot carry', () => {
    assert.throws(() => encodeText([rec('/9999/0/3', 'float', NaN)], '/9999/0/3'), /no decimal text form/);
    assert.throws(() => encodeText([], '/3/0/0'), /exactly one value/);
    assert.throws(() => encodeText([rec('/3/0/0', 'string', 'x')], '/3/0'), /one resource or resource instance/);
  });
});

describe('application/octet-stream', () => {
  test('the bytes of an opaque resource, both ways', () => {
    const bytes = Uint8Array.of(0, 1, 2, 255);
    assert.deepEqual(opaqueCodec.encode([rec('/5/0/0', 'opaque', bytes)], P('/5/0/0'), opts), bytes);
    assert.deepEqual(plain(opaqueCodec.decode(bytes, P('/5/0/0'), opts)), [{ path: '/5/0/0', type: 'opaque', value: bytes }]);
    assert.deepEqual(plain(opaqueCodec.decode(new Uint8Array(0), P('/9999/0/12/4'), opts)), [{ path: '/9999/0/12/4', type: 'opaque', value: new Uint8Array(0) }]);
    // an unknown resource is opaque
    assert.equal(opaqueCodec.decode(bytes, P('/4242/0/0'), opts)[0]!.type, 'opaque');
  });

  test('refuses other types, other levels and oversized payloads', () => {
    assert.throws(() => opaqueCodec.decode(Uint8Array.of(1), P('/3/0/9'), opts), /integer resource, not opaque/);
    assert.throws(() => opaqueCodec.decode(Uint8Array.of(1), P('/5/0'), opts), /one resource or resource instance/);
    assert.throws(() => opaqueCodec.decode(new Uint8Array(11), P('/5/0/0'), { ...opts, maxBytes: 10 }), ContentDecodeError);
    assert.throws(() => opaqueCodec.encode([rec('/3/0/0', 'string', 'x')], P('/3/0/0'), opts), /opaque values only/);
  });
});
