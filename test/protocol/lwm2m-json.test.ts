import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ContentDecodeError, lwm2mJsonCodec } from '../../protocol/lwm2m/index.js';
import { allTypesInstance, DEVICE, opts, P, plain, rec, text, utf8 } from './lwm2m-fixtures.js';

const NOW = new Date('2024-01-01T00:00:00Z');
const decode = (s: string | Uint8Array, path: string, o: object = {}) => lwm2mJsonCodec.decode(typeof s === 'string' ? utf8(s) : s, P(path), { ...opts, now: NOW, ...o });
const encode = (records: Parameters<typeof lwm2mJsonCodec.encode>[0], path: string) => text(lwm2mJsonCodec.encode(records, P(path), opts));

// Read /3/0 in LwM2M JSON: the example of OMA-TS-LightweightM2M-V1_0 §6.4.4, as
// eclipse-leshan/leshan leshan-lwm2m-core/src/test/java/org/eclipse/leshan/core/node/codec/
// LwM2mNodeEncoderTest.java (json_encode_device_object_instance) writes it.
const DEVICE_JSON =
  '{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"1","sv":"Lightweight M2M Client"},{"n":"2","sv":"345000123"},' +
  '{"n":"3","sv":"1.0"},{"n":"6/0","v":1},{"n":"6/1","v":5},{"n":"7/0","v":3800},{"n":"7/1","v":5000},{"n":"8/0","v":125},' +
  '{"n":"8/1","v":900},{"n":"9","v":100},{"n":"10","v":15},{"n":"11/0","v":0},{"n":"13","v":1367491215},{"n":"14","sv":"+02:00"},' +
  '{"n":"16","sv":"U"}]}';

describe('LwM2M JSON: specification, Leshan and Wakaama vectors', () => {
  test('§6.4.4 Read /3/0, byte for byte both ways', () => {
    assert.equal(encode(DEVICE, '/3/0'), DEVICE_JSON);
    assert.deepEqual(plain(decode(DEVICE_JSON, '/3/0')), plain(DEVICE));
  });

  test('Leshan: base name "/" and absent base name give the same instance', () => {
    // LwM2mNodeDecoderTest json_device_object_instance0_with_empty_root_basename / _without_basename
    const rooted = DEVICE_JSON.replace('"bn":"/3/0/"', '"bn":"/"').replace(/"n":"/g, '"n":"3/0/');
    const absolute = DEVICE_JSON.replace('"bn":"/3/0/",', '').replace(/"n":"/g, '"n":"/3/0/');
    assert.deepEqual(plain(decode(rooted, '/3/0')), plain(DEVICE));
    assert.deepEqual(plain(decode(absolute, '/3/0')), plain(DEVICE));
  });

  test('Leshan json_custom_object_instance: a base name without leading slash, float and boolean', () => {
    const json = '{"bn":"1024/0/", "e":[{"n":"0","sv":"a string"},{"n":"1","v":10.5},{"n":"2","bv":true}]}';
    assert.deepEqual(plain(decode(json, '/1024/0')), plain([rec('/1024/0/0', 'string', 'a string'), rec('/1024/0/1', 'float', 10.5), rec('/1024/0/2', 'boolean', true)]));
  });

  test('Leshan json_cut_basename_name_in_the_middle_of_an_id: names concatenate as strings', () => {
    const json = '{"bn":"3/0/1","e":[{"n":"1/0","v":0},{"n":"1/1","v":0}]}';
    assert.deepEqual(plain(decode(json, '/3/0/11')), plain([rec('/3/0/11/0', 'integer', 0), rec('/3/0/11/1', 'integer', 0)]));
  });

  test('Leshan json_timestamped_resources: bt + t, read as SenML times (relative below 2^28)', () => {
    const json = '{"bn":"/1024/0/1","e":[{"v":22.9,"t":-30},{"v":22.4,"t":-5},{"v":24.1,"t":-50}],"bt":25462634}';
    const at = (s: number) => new Date(NOW.getTime() + s * 1000);
    assert.deepEqual(plain(decode(json, '/1024/0/1')), plain([
      rec('/1024/0/1', 'float', 22.9, at(25462604)),
      rec('/1024/0/1', 'float', 22.4, at(25462629)),
      rec('/1024/0/1', 'float', 24.1, at(25462584)),
    ]));
  });

  test('Wakaama tests/data_tlv_json_lwm2m_data_test.c test_9: object links at the root, whitespace ignored', () => {
    const json = `{ "bn":"/",
      "e":[
        {"n":"34/0/0/0","ov":"66:0"}, {"n":"34/0/0/1","ov":"66:1"}, {"n":"34/0/1","sv":"8613800755500"},
        {"n":"34/0/2","v":1}, {"n":"66/0/0","sv":"myService1"}, {"n":"66/0/1","sv":"Internet.15.234"},
        {"n":"66/0/2","ov":"31:0"}, {"n":"66/1/0","sv":"myService2"}, {"n":"66/1/1","sv":"Internet.15.235"},
        {"n":"66/1/2","ov":"65535:65535"}, {"n":"31/0/0","sv":"85.76.76.84"}, {"n":"31/0/1","sv":"85.76.255.255"}]
    }`;
    const records = decode(json, '/');
    assert.equal(records.length, 12);
    assert.deepEqual(records[9]!.value, { objectId: 65535, instanceId: 65535 });
    assert.equal(encode(records, '/'), json.replace(/\s+(?=(?:[^"]*"[^"]*")*[^"]*$)/g, ''));
  });

  test('Wakaama test_11/12/13: base names joined with "/1" and with an empty name', () => {
    assert.deepEqual(plain(decode('{"bn":"/5/0/1","e":[{"n":"","sv":"http"}]}', '/5/0/1')), [{ path: '/5/0/1', type: 'string', value: 'http' }]);
    assert.deepEqual(plain(decode('{"bn":"/5/0","e":[{"n":"/1","sv":"http"}]}', '/5/0')), [{ path: '/5/0/1', type: 'string', value: 'http' }]);
    assert.equal(encode([rec('/5/0/1', 'string', 'http')], '/5/0/1'), '{"bn":"/5/0/1","e":[{"sv":"http"}]}');
  });

  test('Leshan json_empty_*: {"e":[]} is empty content; {} is malformed', () => {
    assert.deepEqual(decode('{"e":[]}', '/2'), []);
    assert.deepEqual(decode('{"bn":"2/0", "e":[]}', '/2/0'), []);
    assert.throws(() => decode('{}', '/2'), /no "e" array/);
  });
});

describe('LwM2M JSON: round trips of every type', () => {
  test('opaque as base64 "sv", objlnk as "ov", times as absolute "t"', () => {
    const records = allTypesInstance(3);
    for (const path of ['/9999', '/9999/3', '/']) {
      assert.deepEqual(plain(decode(lwm2mJsonCodec.encode(records, P(path), opts), path)), plain(records), path);
    }
    const t = new Date(1700000000123);
    const timed = [rec('/9999/0/3', 'float', 1.5, t), rec('/9999/0/3', 'float', 2.5, new Date(1700000001000)), rec('/9999/0/0', 'string', 'now')];
    const json = encode(timed, '/9999/0');
    assert.equal(json, '{"bn":"/9999/0/","e":[{"n":"3","v":1.5,"t":1700000000.123},{"n":"3","v":2.5,"t":1700000001},{"n":"0","sv":"now"}]}');
    assert.deepEqual(plain(decode(json, '/9999/0')), plain(timed));
    assert.equal(encode([rec('/9999/0/5', 'opaque', Uint8Array.of(0xab, 0xcd, 0xef))], '/9999/0/5'), '{"bn":"/9999/0/5","e":[{"sv":"q83v"}]}');
  });

  test('integers beyond 2^53 keep every digit', () => {
    // Leshan senml_json_decode_long: 9223372036854775800 does not fit a double
    assert.deepEqual(plain(decode('{"bn":"/1/0/2","e":[{"v":9223372036854775800}]}', '/1/0/2')), [{ path: '/1/0/2', type: 'integer', value: 9223372036854775800n }]);
  });
});

describe('LwM2M JSON: malformed input', () => {
  const bad: [string | Uint8Array, string, RegExp][] = [
    ['', '/3/0', /not JSON: unexpected end of input/],
    ['{"bn":"/3/0/","e":[', '/3/0', /not JSON/],
    ['{"bn":"/3/0/","e":[]} x', '/3/0', /unexpected content after the JSON value/],
    ['[]', '/3/0', /is a JSON object/],
    ['{"bn":3,"e":[]}', '/3/0', /"bn" is not a string/],
    ['{"e":{}}', '/3/0', /"e" is not an array/],
    ['{"e":[1]}', '/3/0', /entry 0 is not a JSON object/],
    // Leshan json_missing_value_for_resource
    ['{"bn":"2/0/","e":[{"n":"0"}]}', '/2/0/0', /entry 0 \(2\/0\/0\) carries no value/],
    ['{"bn":"/3/0/","e":[{"n":"9","v":1,"sv":"1"}]}', '/3/0', /both "v" and "sv"/],
    // Leshan json_invalid_instance_2_resources_with_the_same_id / _multi_resource_2_instances_with_the_same_id
    ['{"bn":"3/0/","e":[{"n":"1","sv":"client1"},{"n":"1","sv":"client2"}]}', '/3/0', /\/3\/0\/1 appears more than once/],
    ['{"bn":"3/0/11/","e":[{"n":"1","v":2},{"n":"1","v":0}]}', '/3/0/11', /appears more than once/],
    ['{"bn":"/3/0/","e":[{"n":"9","sv":"100"}]}', '/3/0', /integer resource but the record carries "sv"/],
    ['{"bn":"/3/0/","e":[{"n":"9","v":1.5}]}', '/3/0', /1.5 is not an integer/],
    ['{"bn":"/3/0/","e":[{"n":"9","v":9223372036854775808}]}', '/3/0', /outside the signed 64-bit range/],
    ['{"bn":"/3/0/","e":[{"n":"9","v":1e999}]}', '/3/0', /out of range/],
    ['{"bn":"/3/0/","e":[{"n":"0","bv":1}]}', '/3/0', /"bv" is not a boolean/],
    ['{"bn":"/9999/0/","e":[{"n":"5","sv":"**"}]}', '/9999/0', /is not base64/],
    ['{"bn":"/9999/0/","e":[{"n":"7","ov":"1:2:3"}]}', '/9999/0', /not an object link/],
    ['{"bn":"/3/0/","e":[{"n":"09","v":1}]}', '/3/0', /not an LwM2M resource path/],
    ['{"bn":"/3/0","e":[{"n":"9","v":1}]}', '/3/0', /\/3\/09.* not an LwM2M resource path/],
    ['{"bn":"/3/0/","e":[{"n":"65535","v":1}]}', '/3/0', /id 65535 is not an integer in 0..65534/],
    ['{"bn":"/1/0/","e":[{"n":"1","v":1}]}', '/3/0', /outside the request path/],
    ['{"bn":"/3/","e":[{"n":"0","v":1}]}', '/3', /not a resource or resource instance/],
    ['{"bn":"/3/0/","e":[{"n":"6","v":1}]}', '/3/0', /multiple resource/],
    ['{"bn":"/3/0/","e":[{"n":"9","v":1,"x_":1}]}', '/3/0', /must-understand key "x_"/],
    ['{"bn":"/3/0/","bn":"/1/0/","e":[]}', '/3/0', /duplicate key "bn"/],
    ['{"bn":"/3/0/\\ud800","e":[]}', '/3/0', /lone surrogate/],
    ['{"bn":"/3/0/","e":[{"n":"0","sv":"a\u0001b"}]}', '/3/0', /control character/],
    [Uint8Array.of(0x7b, 0xff, 0x7d), '/3/0', /not valid UTF-8/],
    [`{"e":${'['.repeat(100)}${']'.repeat(100)}}`, '/3/0', /nested deeper than 8/],
  ];
  for (const [input, path, message] of bad) {
    test(`${typeof input === 'string' ? input.slice(0, 60) : 'bytes'} at ${path}`, () => {
      assert.throws(() => decode(input, path), (err: unknown) => err instanceof ContentDecodeError && message.test(err.message));
    });
  }

  test('size and count limits', () => {
    assert.throws(() => decode(DEVICE_JSON, '/3/0', { maxBytes: 100 }), /bytes exceed the 100-byte limit/);
    assert.throws(() => decode(DEVICE_JSON, '/3/0', { maxRecords: 3 }), /16 entries exceed the limit of 3/);
  });

  test('encoding refuses floats JSON cannot write and times that would read as relative', () => {
    assert.throws(() => encode([rec('/9999/0/3', 'float', Infinity)], '/9999/0'), /no JSON form/);
    assert.throws(() => encode([rec('/9999/0/3', 'float', 1, new Date(500000))], '/9999/0'), /would read as relative/);
  });
});
