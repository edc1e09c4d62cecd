import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContentDecodeError, ContentEncodeError, decodeLinks, tlvCodec } from '../../protocol/lwm2m/index.js';
import { allTypesInstance, DEVICE, hex, opts, P, plain, rec, toHex } from './lwm2m-fixtures.js';

const decode = (h: string | Uint8Array, path: string, o: object = {}) => tlvCodec.decode(typeof h === 'string' ? hex(h) : h, P(path), { ...opts, ...o });
const encode = (records: Parameters<typeof tlvCodec.encode>[0], path: string) => toHex(tlvCodec.encode(records, P(path), opts));

// Read /3/0 of the example client: OMA-TS-LightweightM2M-V1_0 §6.4.3.1 ("Single Object Instance
// Request Example"); the same bytes are ENCODED_DEVICE_WITHOUT_INSTANCE in eclipse-leshan/leshan
// leshan-lwm2m-core/src/test/java/org/eclipse/leshan/core/node/codec/LwM2mNodeEncoderTest.java.
const DEVICE_TLV =
  'c800144f70656e204d6f62696c6520416c6c69616e6365c801164c69676874776569676874204d324d20436c69656e74c80209333435303030313233c303312e30' +
  '860641000141010588070842000ed842011388870841007d42010384c10964c10a0f830b410000c40d5182428fc60e2b30323a3030c11055';
// Read /3: §6.4.3.2 A) — the same resources inside one object-instance TLV (Leshan: ENCODED_DEVICE_WITH_INSTANCE).
const DEVICE_WITH_INSTANCE_TLV = '080079' + DEVICE_TLV;
// Read /2: §6.4.3.2 B) — two Access Control instances (Leshan LwM2mNodeDecoderTest.java: ENCODED_ACL).
const ACL_TLV = '08000ec10001c101008302417f07c1037f080212c10003c101008702417f0761013601c1037f';
// Read /1: §6.4.3.2 C) — one Server instance (Leshan LwM2mNodeDecoderTest.java: ENCODED_SERVER).
const SERVER_TLV = '08000fc10001c40100015180c10601c10755';
// Read /65/0: §6.4.3.3 example 1) — object links in a multiple resource (Leshan: ENCODED_OBJ65).
const OBJ65_TLV = '88000c440000420000440100420001c8010d38363133383030373535353030c40212345678';
// Read /66: §6.4.3.3 example 2) — two instances with an object link each (Leshan: ENCODED_OBJ66).
const OBJ66_TLV =
  '080026c8000b6d79536572766963652031c8010f496e7465726e65742e31352e323334c40200430000' +
  '080126c8000b6d79536572766963652032c8010f496e7465726e65742e31352e323335c402ffffffff';
// Read /3442/0 of Leshan's test object: a core-link resource (Leshan: ENCODED_OBJ3442).
const OBJ3442_TLV =
  '080072c8b46f3c2f3e3b72743d226f6d612e6c776d326d223b63743d223630203131302031313220313534322031353433203131353432203131353433222c3c2f313e3b7665723d312e312c3c2f312f303e2c3c2f323e2c3c2f333e3b7665723d312e312c3c2f332f303e2c3c2f333434322f303e';

describe('TLV: specification and Leshan vectors', () => {
  test('§6.4.3.1 Read /3/0: decodes to the example client and encodes back byte for byte', () => {
    assert.deepEqual(plain(decode(DEVICE_TLV, '/3/0')), plain(DEVICE));
    assert.equal(encode(DEVICE, '/3/0'), DEVICE_TLV);
  });

  test('§6.4.3.2 A) Read /3: one object-instance TLV; also accepted at /3/0', () => {
    assert.equal(encode(DEVICE, '/3'), DEVICE_WITH_INSTANCE_TLV);
    assert.deepEqual(plain(decode(DEVICE_WITH_INSTANCE_TLV, '/3')), plain(DEVICE));
    assert.deepEqual(plain(decode(DEVICE_WITH_INSTANCE_TLV, '/3/0')), plain(DEVICE));
  });

  test('§6.4.3.2 B) Read /2: two ACL instances, a 16-bit resource-instance id', () => {
    const records = decode(ACL_TLV, '/2');
    assert.deepEqual(plain(records), plain([
      rec('/2/0/0', 'integer', 1),
      rec('/2/0/1', 'integer', 0),
      rec('/2/0/2/127', 'integer', 7),
      rec('/2/0/3', 'integer', 127),
      rec('/2/2/0', 'integer', 3),
      rec('/2/2/1', 'integer', 0),
      rec('/2/2/2/127', 'integer', 7),
      rec('/2/2/2/310', 'integer', 1),
      rec('/2/2/3', 'integer', 127),
    ]));
    assert.equal(encode(records, '/2'), ACL_TLV);
  });

  test('§6.4.3.2 C) Read /1: Server instance with a 4-byte integer and a boolean', () => {
    const records = decode(SERVER_TLV, '/1');
    assert.deepEqual(plain(records), plain([rec('/1/0/0', 'integer', 1), rec('/1/0/1', 'integer', 86400), rec('/1/0/6', 'boolean', true), rec('/1/0/7', 'string', 'U')]));
    assert.equal(encode(records, '/1'), SERVER_TLV);
  });

  test('§6.4.3.3 Read /65/0 and /66: object links, including the null link 65535:65535', () => {
    const o65 = decode(OBJ65_TLV, '/65/0');
    assert.deepEqual(plain(o65), plain([
      rec('/65/0/0/0', 'objlnk', { objectId: 66, instanceId: 0 }),
      rec('/65/0/0/1', 'objlnk', { objectId: 66, instanceId: 1 }),
      rec('/65/0/1', 'string', '8613800755500'),
      rec('/65/0/2', 'integer', 305419896),
    ]));
    assert.equal(encode(o65, '/65/0'), OBJ65_TLV);
    const o66 = decode(OBJ66_TLV, '/66');
    assert.deepEqual(plain(o66), plain([
      rec('/66/0/0', 'string', 'myService 1'),
      rec('/66/0/1', 'string', 'Internet.15.234'),
      rec('/66/0/2', 'objlnk', { objectId: 67, instanceId: 0 }),
      rec('/66/1/0', 'string', 'myService 2'),
      rec('/66/1/1', 'string', 'Internet.15.235'),
      rec('/66/1/2', 'objlnk', { objectId: 65535, instanceId: 65535 }),
    ]));
    assert.equal(encode(o66, '/66'), OBJ66_TLV);
  });

  test('Leshan ENCODED_OBJ3442: a corelnk value is the link-format text', () => {
    const [r] = decode(OBJ3442_TLV, '/3442/0');
    assert.equal(r!.type, 'corelnk');
    const links = decodeLinks(new TextEncoder().encode(r!.value as string));
    // Leshan LwM2mNodeDecoderTest.assertObj3442Instance: 7 links with 2,1,0,0,1,0,0 attributes
    assert.deepEqual(links.map((l) => l.target), ['/', '/1', '/1/0', '/2', '/3', '/3/0', '/3442/0']);
    assert.deepEqual(links.map((l) => Object.keys(l.attributes).length), [2, 1, 0, 0, 1, 0, 0]);
    assert.equal(links[0]!.attributes.ct, '60 110 112 1542 1543 11542 11543');
    assert.equal(encode(decode(OBJ3442_TLV, '/3442/0'), '/3442'), OBJ3442_TLV);
  });

  test('Read /3/0/6 Available Power Sources: multiple-resource TLV out, both forms in', () => {
    // Leshan LwM2mNodeDecoderTest tlv_power_source__array_values / __multiple_resource
    const expected = plain([rec('/3/0/6/0', 'integer', 1), rec('/3/0/6/1', 'integer', 5)]);
    assert.deepEqual(plain(decode('410001410105', '/3/0/6')), expected);
    assert.deepEqual(plain(decode('8606410001410105', '/3/0/6')), expected);
    assert.equal(encode(decode('410001410105', '/3/0/6'), '/3/0/6'), '8606410001410105');
    assert.equal(encode([rec('/3/0/6/1', 'integer', 5)], '/3/0/6/1'), '410105');
    assert.deepEqual(plain(decode('410105', '/3/0/6/1')), [{ path: '/3/0/6/1', type: 'integer', value: 5 }]);
  });

  test('single resources: a resource-with-value TLV', () => {
    // Leshan tlv_manufacturer_resource: "MyManufacturer" at /3/0/0
    const bytes = 'c8000e' + Buffer.from('MyManufacturer').toString('hex');
    assert.deepEqual(plain(decode(bytes, '/3/0/0')), [{ path: '/3/0/0', type: 'string', value: 'MyManufacturer' }]);
    assert.equal(encode([rec('/3/0/9', 'integer', 100)], '/3/0/9'), 'c10964');
  });

  test('empty payloads: no instance, no resource; an empty multiple resource; not a single resource', () => {
    // Leshan tlv_empty_object / tlv_empty_instance / tlv_empty_multi_resource / tlv_empty_single_resource
    assert.deepEqual(decode('', '/2'), []);
    assert.deepEqual(decode('', '/2/0'), []);
    assert.deepEqual(decode('', '/3/0/6'), []);
    assert.throws(() => decode('', '/2/0/0'), ContentDecodeError);
    assert.equal(encode([], '/3/0/6'), '8006');
    assert.equal(encode([], '/3/0'), '');
  });

  test('value widths: integers in 1/2/4/8 bytes, unsigned as unsigned, floats in 4 or 8', () => {
    const cases: [string, Parameters<typeof rec>[1], Parameters<typeof rec>[2], string][] = [
      ['/9999/0/1', 'integer', 127, 'c1017f'],
      ['/9999/0/1', 'integer', 128, 'c2010080'],
      ['/9999/0/1', 'integer', -128, 'c10180'],
      ['/9999/0/1', 'integer', -129, 'c201ff7f'],
      ['/9999/0/1', 'integer', 32768, 'c40100008000'],
      ['/9999/0/1', 'integer', 2 ** 31, 'c801080000000080000000'],
      ['/9999/0/1', 'integer', -(2n ** 63n), 'c801088000000000000000'],
      ['/9999/0/2', 'unsigned', 255, 'c102ff'],
      ['/9999/0/2', 'unsigned', 65535, 'c202ffff'],
      ['/9999/0/2', 'unsigned', 2n ** 64n - 1n, 'c80208ffffffffffffffff'],
      ['/9999/0/3', 'float', 0.5, 'c4033f000000'],
      ['/9999/0/3', 'float', 22.4, 'c803084036666666666666'],
      ['/9999/0/4', 'boolean', false, 'c10400'],
      ['/9999/0/6', 'time', new Date(-1000), 'c106ff'],
      ['/9999/0/7', 'objlnk', { objectId: 0x1234, instanceId: 0x5678 }, 'c40712345678'],
    ];
    for (const [path, type, value, bytes] of cases) {
      const r = rec(path, type, value);
      assert.equal(encode([r], '/9999/0'), bytes, `${type} ${String(value)}`);
      assert.deepEqual(plain(decode(bytes, '/9999/0')), plain([r]), `${type} ${String(value)}`);
    }
    // a 16-bit length field and a 16-bit id
    const long = rec('/9999/0/5', 'opaque', new Uint8Array(300).fill(1));
    assert.equal(encode([long], '/9999/0').slice(0, 8), 'd005012c');
    assert.equal(encode([rec('/9999/0/10/300', 'integer', 1)], '/9999/0/10/300'), '61012c01');
  });
});

describe('TLV: round trips of every type', () => {
  test('an instance with every type, single and multiple, at every level', () => {
    const records = allTypesInstance(7);
    for (const path of ['/9999', '/9999/7']) {
      assert.deepEqual(plain(decode(tlvCodec.encode(records, P(path), opts), path)), plain(records), path);
    }
    for (const r of records) {
      const path = r.path.isResourceInstance() ? r.path.parent().toString() : r.path.toString();
      const subset = records.filter((x) => x.path.startsWith(P(path)));
      assert.deepEqual(plain(decode(tlvCodec.encode(subset, P(path), opts), path)), plain(subset), path);
    }
  });

  test('a resource the registry does not know is read as opaque', () => {
    assert.deepEqual(plain(decode('c10564', '/4242/0')), [{ path: '/4242/0/5', type: 'opaque', value: Uint8Array.of(0x64) }]);
  });
});

describe('TLV: malformed input', () => {
  const bad: [string, string, string, RegExp][] = [
    ['truncated value (Leshan decode_tlv_with_truncated_value)', 'c800c8', '/3/0', /declares 200 bytes of value but 0 remain/],
    ['garbage (Leshan decode_broken_tlv)', '0011223344556677889900', '/3', /./],
    ['truncated header', 'c8', '/3/0', /truncated in its header/],
    ['truncated 16-bit id', 'e800', '/3/0', /truncated in its header/],
    ['truncated 24-bit length', 'd80000ff', '/3/0', /truncated in its header/],
    ['id above 65534', 'e1ffff05', '/9999/0', /id 65535, above 65534/],
    ['resource-instance id above 65534', '840a61ffff01', '/9999/0', /above 65534/],
    ['integer of 3 bytes', 'c309000001', '/3/0', /1, 2, 4 or 8 bytes long, not 3/],
    ['float of 2 bytes', 'c2030000', '/9999/0', /4 or 8 bytes long, not 2/],
    ['boolean of 2 bytes', 'c2060101', '/1/0', /1 bytes long, not 2/],
    ['boolean byte 2', 'c10602', '/1/0', /neither 0 nor 1/],
    ['objlnk of 3 bytes', 'c302004300', '/66/0', /4 bytes long, not 3/],
    ['string not UTF-8', 'c200c328', '/3/0', /not valid UTF-8/],
    ['time beyond a Date', 'c80d087fffffffffffffff', '/3/0', /outside the range of a date/],
    ['two resources with one id (Leshan tlv_invalid_object__instance_2_resources_with_the_same_id)', 'c10964c10964', '/3/0', /id 9 appears twice/],
    ['two instances with one id (Leshan tlv_invalid_object_2_instances_with_the_same_id)', '00010001', '/2', /id 1 appears twice/],
    ['two resource instances with one id (Leshan tlv_invalid_multi_resource_2_instance_with_the_same_id)', '8606410001410005', '/3/0/6', /./],
    ['a resource instance inside an object instance', '080003410001', '/3', /resource instance TLV cannot appear inside object instance 0/],
    ['an object instance inside an object instance', '0800020001', '/3', /object instance TLV cannot appear inside object instance 0/],
    ['a multiple-resource TLV for a single resource', '8309410064', '/3/0', /single resource but byte 0 starts a multiple-resource TLV/],
    ['a single value for a multiple resource', 'c10601', '/3/0', /multiple resource: values belong to its instances/],
    ['a resource outside the request path', 'c10a0f', '/3/0/9', /outside the request path/],
    ['an instance outside the request path', '080103c10964', '/3/0', /object instance 1 is outside the request path/],
    ['resources without an instance at object level', 'c10964', '/3', /outside any object instance/],
    ['a value for an executable resource', 'c004', '/3/0', /executable resource and carries no value/],
    ['a resource instance at instance level', '410001', '/3/0', /resource instance TLV at byte 0 is not a resource of \/3\/0/],
    ['an object instance among resources', 'c10964080003c10964', '/3/0', /object instance TLV at byte 3 is not a resource/],
    ['an object instance at resource level', '080003c10964', '/3/0/9', /resource path takes one resource TLV/],
    ['the root path', 'c10964', '/', /object, object instance or resource path/],
  ];
  for (const [name, bytes, path, message] of bad) {
    test(name, () => {
      assert.throws(() => decode(bytes, path), (err: unknown) => err instanceof ContentDecodeError && message.test(err.message) && err.format === 'tlv');
    });
  }

  test('size and count limits', () => {
    assert.throws(() => decode(DEVICE_TLV, '/3/0', { maxBytes: 50 }), /bytes exceed the 50-byte limit/);
    assert.throws(() => decode(DEVICE_TLV, '/3/0', { maxRecords: 5 }), /more than 5 values/);
    assert.throws(() => tlvCodec.decode('c10964' as unknown as Uint8Array, P('/3/0'), opts), /payload is not binary/);
  });

  test('every truncation of a valid payload is refused with ContentDecodeError, never a crash', () => {
    const full = hex(ACL_TLV);
    for (let n = 1; n < full.length; n++) {
      try {
        decode(full.subarray(0, n), '/2');
      } catch (err) {
        assert.ok(err instanceof ContentDecodeError, `prefix ${n}: ${String(err)}`);
      }
    }
  });

  test('random bytes never escape as anything but ContentDecodeError', () => {
    let seed = 42;
    const random = (): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 24) }, () => Math.floor(random() * 256));
      for (const path of ['/3', '/3/0', '/3/0/6', '/9999/0', '/9999/0/10/1']) {
        try {
          decode(bytes, path);
        } catch (err) {
          assert.ok(err instanceof ContentDecodeError, `${toHex(bytes)} at ${path}: ${String(err)}`);
        }
      }
    }
  });
});

describe('TLV: encoding refuses what TLV cannot say', () => {
  test('times, types that disagree with the definition, executables, shapes', () => {
    const t = new Date(1700000000000);
    assert.throws(() => encode([rec('/3/0/9', 'integer', 1, t)], '/3/0'), ContentEncodeError);
    assert.throws(() => encode([rec('/3/0/9', 'string', '1')], '/3/0'), /defined as integer/);
    assert.throws(() => encode([rec('/3/0/4', 'string', '')], '/3/0'), /defined as none/);
    assert.throws(() => encode([rec('/3/0/6', 'integer', 1)], '/3/0'), /multiple resource/);
    assert.throws(() => encode([rec('/3/0/9/0', 'integer', 1)], '/3/0'), /single resource/);
    assert.throws(() => encode([rec('/3/0/9', 'integer', 1), rec('/3/0/9', 'integer', 2)], '/3/0'), /more than once/);
    assert.throws(() => encode([rec('/1/0/1', 'integer', 1)], '/3/0'), /outside the request path/);
    assert.throws(() => encode([rec('/3/0/9', 'integer', 1.5)], '/3/0'), /not an integer/);
    assert.throws(() => encode([], '/3/0/9'), /no value for \/3\/0\/9/);
    assert.throws(() => encode([rec('/3/0/0', 'string', 'a\ud800')], '/3/0'), /lone surrogate/);
    assert.throws(() => encode(DEVICE, '/'), /object, object instance or resource path/);
  });
});
