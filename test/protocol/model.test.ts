import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  InvalidPathError,
  InvalidValueError,
  LwM2mPath,
  ResultCode,
  assertValueOfType,
  describeResultCode,
  formatTextValue,
  fromJsonValue,
  isSuccess,
  parseTextValue,
  resultCodeFromByte,
  resultCodeToByte,
  toJsonValue,
} from '../../protocol/model/index.js';

describe('LwM2mPath', () => {
  test('parses every level and prints it back', () => {
    for (const [text, length] of [['/', 0], ['/3', 1], ['/3/0', 2], ['/3/0/1', 3], ['/3/0/6/1', 4], ['/65534/65534/65534/65534', 4]] as const) {
      const path = LwM2mPath.parse(text);
      assert.equal(path.length, length);
      assert.equal(path.toString(), text);
    }
    assert.equal(LwM2mPath.parse('3/0/').toString(), '/3/0');
  });

  test('rejects what is not a path, naming the problem', () => {
    for (const bad of ['/3/x', '/3//0', '/-1', '/03', '/3/0/1/2/3', '/65535', '/3/0/1.5', '/ 3']) {
      assert.throws(() => LwM2mPath.parse(bad), InvalidPathError, bad);
    }
    assert.throws(() => LwM2mPath.parse('/3/x'), /segment "x" is not a decimal id/);
    assert.throws(() => LwM2mPath.of(1, 2, 3, 4, 5), InvalidPathError);
  });

  test('level predicates, prefixes and tree order', () => {
    const r = LwM2mPath.parse('/3/0/6/1');
    assert.ok(r.isResourceInstance());
    assert.ok(r.startsWith(LwM2mPath.parse('/3/0')));
    assert.ok(!r.startsWith(LwM2mPath.parse('/3/1')));
    assert.ok(r.startsWith(LwM2mPath.ROOT));
    assert.equal(r.parent().toString(), '/3/0/6');
    assert.equal(LwM2mPath.parse('/3/0').child(9).toString(), '/3/0/9');
    const sorted = ['/3/0/10', '/3/0/2', '/1/0', '/3/0/6/1', '/3/0/6/0', '/3'].map((p) => LwM2mPath.parse(p)).sort(LwM2mPath.compare);
    assert.deepEqual(sorted.map(String), ['/1/0', '/3', '/3/0/2', '/3/0/6/0', '/3/0/6/1', '/3/0/10']);
  });
});

describe('values', () => {
  test('text forms parse to the right JavaScript types and print back', () => {
    assert.equal(parseTextValue('integer', '-42'), -42);
    assert.equal(parseTextValue('integer', '9223372036854775807'), 9223372036854775807n);
    assert.equal(parseTextValue('unsigned', '18446744073709551615'), 18446744073709551615n);
    assert.equal(parseTextValue('float', '3.5'), 3.5);
    assert.equal(parseTextValue('boolean', '1'), true);
    assert.equal(parseTextValue('boolean', 'false'), false);
    assert.deepEqual(parseTextValue('opaque', 'AQID'), new Uint8Array([1, 2, 3]));
    assert.equal((parseTextValue('time', '1700000000') as Date).toISOString(), '2023-11-14T22:13:20.000Z');
    assert.deepEqual(parseTextValue('objlnk', '3:0'), { objectId: 3, instanceId: 0 });
    for (const [type, text] of [['integer', '-42'], ['boolean', '1'], ['opaque', 'AQID'], ['time', '1700000000'], ['objlnk', '3:0']] as const) {
      assert.equal(formatTextValue(type, parseTextValue(type, text)), text);
    }
  });

  test('out-of-range and malformed values are refused', () => {
    assert.throws(() => parseTextValue('integer', '9223372036854775808'), InvalidValueError);
    assert.throws(() => parseTextValue('unsigned', '-1'), InvalidValueError);
    assert.throws(() => parseTextValue('integer', '1.5'), InvalidValueError);
    assert.throws(() => parseTextValue('boolean', 'yes'), InvalidValueError);
    assert.throws(() => parseTextValue('opaque', 'not base64!'), InvalidValueError);
    assert.throws(() => parseTextValue('objlnk', '70000:1'), InvalidValueError);
    assert.throws(() => assertValueOfType('string', 5), InvalidValueError);
    assert.throws(() => assertValueOfType('none', 'x'), InvalidValueError);
    assert.throws(() => assertValueOfType('time', new Date(NaN)), InvalidValueError);
  });

  test('JSON values convert both ways', () => {
    assert.equal(fromJsonValue('integer', 600), 600);
    assert.equal(fromJsonValue('integer', '600'), 600);
    assert.equal(fromJsonValue('boolean', 1), true);
    assert.equal((fromJsonValue('time', 0) as Date).getTime(), 0);
    assert.throws(() => fromJsonValue('integer', 1.5), InvalidValueError);
    assert.throws(() => fromJsonValue('string', null), /cannot be given as null/);
    assert.equal(toJsonValue('integer', 2n ** 62n), '4611686018427387904');
    assert.equal(toJsonValue('opaque', new Uint8Array([255])), '/w==');
  });
});

describe('result codes', () => {
  test('bytes, names and success', () => {
    assert.equal(resultCodeToByte(ResultCode.NOT_FOUND), 0x84);
    assert.equal(resultCodeFromByte(0x45), '2.05');
    assert.equal(resultCodeFromByte(0x1f), undefined);
    assert.equal(describeResultCode('4.05'), '4.05 Method Not Allowed');
    assert.ok(isSuccess('2.04'));
    assert.ok(!isSuccess('5.04'));
  });
});
