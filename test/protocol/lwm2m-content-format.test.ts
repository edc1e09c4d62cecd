import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  canonicalContentFormat,
  chooseContentFormat,
  codecFor,
  ContentDecodeError,
  ContentEncodeError,
  contentFormatInfo,
  contentFormatOfMediaType,
  decodeContent,
  encodeContent,
  isLegacyContentFormat,
  LwM2mContentFormat,
  parseAnnouncedFormats,
  RECORD_CONTENT_FORMATS,
  type TimedRecord,
} from '../../protocol/lwm2m/index.js';
import { allTypesInstance, DEVICE, opts, P, plain, utf8 } from './lwm2m-fixtures.js';

describe('content-format registry', () => {
  test('current numbers, legacy numbers, media types', () => {
    assert.deepEqual(
      [0, 40, 42, 110, 112, 11542, 11543].map((id) => contentFormatInfo(id)?.mediaType),
      ['text/plain;charset=utf-8', 'application/link-format', 'application/octet-stream', 'application/senml+json', 'application/senml+cbor', 'application/vnd.oma.lwm2m+tlv', 'application/vnd.oma.lwm2m+json'],
    );
    assert.deepEqual([1541, 1542, 1543, 1544].map(canonicalContentFormat), [0, 11542, 11543, 42]);
    assert.ok(isLegacyContentFormat(1542) && !isLegacyContentFormat(11542));
    assert.equal(canonicalContentFormat(50), undefined);
    assert.equal(contentFormatOfMediaType('application/vnd.oma.lwm2m+tlv'), 11542);
    assert.equal(contentFormatOfMediaType('application/vnd.oma.lwm2m+opaque'), 42);
    assert.equal(contentFormatOfMediaType('text/plain; charset=utf-8'), 0);
    assert.equal(contentFormatOfMediaType('application/json'), undefined);
  });

  test('legacy numbers decode as what they stand for and are never emitted', () => {
    assert.deepEqual(plain(decodeContent(1542, encodeContent(LwM2mContentFormat.TLV, DEVICE, P('/3/0'), opts), P('/3/0'), opts)), plain(DEVICE));
    assert.deepEqual(plain(decodeContent(1541, utf8('100'), P('/3/0/9'), opts)), [{ path: '/3/0/9', type: 'integer', value: 100 }]);
    assert.equal(decodeContent(1544, Uint8Array.of(1), P('/5/0/0'), opts).length, 1);
    assert.equal(decodeContent(1543, utf8('{"e":[]}'), P('/3/0'), opts).length, 0);
    for (const legacy of [1541, 1542, 1543, 1544]) {
      assert.throws(() => encodeContent(legacy, [], P('/3/0'), opts), (e: unknown) => e instanceof ContentEncodeError && /legacy number/.test(e.message));
    }
    assert.throws(() => encodeContent(40, [], P('/3/0'), opts), ContentEncodeError);
    assert.throws(() => decodeContent(50, utf8('{}'), P('/3/0'), opts), ContentDecodeError);
    assert.equal(codecFor(1542)?.format, 11542);
  });

  test('every record format round-trips the example client and an instance of every type', () => {
    const all = allTypesInstance(2);
    for (const format of RECORD_CONTENT_FORMATS) {
      if (format === LwM2mContentFormat.TEXT || format === LwM2mContentFormat.OPAQUE) continue;
      for (const [records, path] of [[DEVICE, '/3/0'], [all, '/9999/2']] as [TimedRecord[], string][]) {
        const bytes = encodeContent(format, records, P(path), opts);
        assert.deepEqual(plain(decodeContent(format, bytes, P(path), opts)), plain(records), `${format} ${path}`);
      }
    }
  });
});

describe('chooseContentFormat', () => {
  const instance = P('/3/0');
  const resource = P('/3/0/0');

  test('an Accept option names the format; legacy numbers get their current number', () => {
    assert.equal(chooseContentFormat(112, instance, { lwm2mVersion: '1.0' }), 112);
    assert.equal(chooseContentFormat(1542, instance), 11542);
    assert.equal(chooseContentFormat(0, resource), 0);
    assert.equal(chooseContentFormat(1544, P('/5/0/0')), 42);
  });

  test('an Accept it cannot honour is undefined (4.06 Not Acceptable)', () => {
    assert.equal(chooseContentFormat(0, instance), undefined);
    assert.equal(chooseContentFormat(42, instance), undefined);
    assert.equal(chooseContentFormat(40, instance), undefined);
    assert.equal(chooseContentFormat(50, instance), undefined);
    assert.equal(chooseContentFormat(60, resource), undefined);
  });

  test('without Accept: TLV for 1.0 clients, SenML CBOR for 1.1+, or what a 1.1 client announced', () => {
    assert.equal(chooseContentFormat(undefined, instance), 11542);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.0' }), 11542);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.1' }), 112);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.2' }), 112);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.1', announced: [110, 11543] }), 110);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.1', announced: parseAnnouncedFormats('60 1542') }), 11542);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: '1.1', announced: [60] }), 112);
    assert.equal(chooseContentFormat(undefined, instance, { lwm2mVersion: 'x' }), 11542);
  });

  test('parseAnnouncedFormats skips what is not a Content-Format number', () => {
    assert.deepEqual(parseAnnouncedFormats(undefined), []);
    assert.deepEqual(parseAnnouncedFormats('110'), [110]);
    assert.deepEqual(parseAnnouncedFormats(' 60  110 x 070 99999 112 '), [60, 110, 112]);
  });
});
