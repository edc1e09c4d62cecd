import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { CoapResponse } from '../../common/coap/coap-client.js';
import { encodeUint } from '../../protocol/coap/index.js';
import { decodeContent, LwM2mContentFormat, parseLinks } from '../../protocol/lwm2m/index.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { requestOf, resultOf, type ClientProfile } from '../../gateway/transports/lwm2m/operation-mapping.js';
import { DEFAULT_LIFETIME_SECONDS, parseRegister, parseUpdate, RegistrationError } from '../../gateway/transports/lwm2m/registration.js';

const links = (text: string) => parseLinks(text);

describe('LwM2M registration parameters (Core 1.1 §6.2.1)', () => {
  test('a 1.1 Register: endpoint, lifetime, version, binding, the Q flag, announced formats, object links', () => {
    const r = parseRegister(['ep=urn:imei:490154203237511', 'lt=300', 'lwm2m=1.1', 'b=U', 'Q'], links('</>;rt="oma.lwm2m";ct="110 112 11542",</1/0>,</3/0>,</5/0>'));
    assert.equal(r.endpoint, 'urn:imei:490154203237511');
    assert.equal(r.lifetime, 300);
    assert.equal(r.lwm2mVersion, '1.1');
    assert.equal(r.binding, 'U');
    assert.equal(r.queueMode, true);
    assert.deepEqual(r.announcedFormats, [110, 112, 11542]);
    assert.deepEqual(r.objectLinks.map((l) => l.target), ['/1/0', '/3/0', '/5/0']);
    assert.deepEqual(r.rootPath, []);
  });

  test('a 1.0 Register: queue mode in the binding (b=UQ), defaults for what is left out', () => {
    const r = parseRegister(['ep=node-1', 'b=UQ'], links('</3/0>,</5/0>'));
    assert.equal(r.lwm2mVersion, '1.0');
    assert.equal(r.lifetime, DEFAULT_LIFETIME_SECONDS);
    assert.equal(r.binding, 'U');
    assert.equal(r.queueMode, true);
    const plain = parseRegister(['ep=node-2'], []);
    assert.equal(plain.binding, 'U');
    assert.equal(plain.queueMode, false);
  });

  test('an alternate root path is taken off the object links and kept for requests', () => {
    const r = parseRegister(['ep=alt', 'lwm2m=1.1'], links('</lwm2m>;rt="oma.lwm2m",</lwm2m/3/0>,</lwm2m/4/0>'));
    assert.deepEqual(r.rootPath, ['lwm2m']);
    assert.deepEqual(r.objectLinks.map((l) => l.target), ['/3/0', '/4/0']);
    assert.deepEqual(requestOf({ kind: 'read', path: LwM2mPath.parse('/3/0/0') }, { rootPath: r.rootPath, lwm2mVersion: '1.1' }).path, ['lwm2m', '3', '0', '0']);
  });

  test('bad parameters are refused with the parameter named', () => {
    const cases: [string[], RegExp][] = [
      [['lt=60'], /endpoint name "ep" is missing/],
      [['ep=a/b'], /endpoint name "a\/b" is not valid/],
      [['ep=x', 'lwm2m=2.0'], /LwM2M version "2.0" is not supported/],
      [['ep=x', 'lt=soon'], /lifetime "lt=soon"/],
      [['ep=x', 'lt=0'], /lifetime 0 out of range/],
      [['ep=x', 'b=Z'], /binding "b=Z"/],
      [['ep=x', 'ep=y'], /"ep" given twice/],
      [['ep=x', 'Q=1'], /"Q" is a flag/],
    ];
    for (const [query, message] of cases) assert.throws(() => parseRegister(query, []), (err: Error) => err instanceof RegistrationError && message.test(err.message), query.join('&'));
  });

  test('an Update changes only what it names; unknown parameters are refused', () => {
    assert.deepEqual(parseUpdate([], undefined, []), {});
    assert.deepEqual(parseUpdate(['lt=120', 'b=UQ'], undefined, []), { lifetime: 120, binding: 'U', queueMode: true });
    assert.deepEqual(parseUpdate([], links('</3/0>,</9/0>'), []).objectLinks?.map((l) => l.target), ['/3/0', '/9/0']);
    assert.throws(() => parseUpdate(['ep=other'], undefined, []), /"ep" is not allowed in an Update/);
  });
});

describe('model operations as LwM2M requests (Core 1.1 §6.3)', () => {
  const v10: ClientProfile = { lwm2mVersion: '1.0', rootPath: [] };
  const v11: ClientProfile = { lwm2mVersion: '1.1', rootPath: [] };
  const accept = (spec: ReturnType<typeof requestOf>) => spec.options?.find(([n]) => n === 'Accept')?.[1];

  test('Read: GET; Accept only for objects and instances of 1.1 clients (SenML CBOR unless announced otherwise)', () => {
    const resource = requestOf({ kind: 'read', path: LwM2mPath.parse('/3/0/0') }, v11);
    assert.equal(resource.method, 'GET');
    assert.deepEqual(resource.path, ['3', '0', '0']);
    assert.equal(accept(resource), undefined);
    assert.deepEqual(accept(requestOf({ kind: 'read', path: LwM2mPath.parse('/3/0') }, v11)), encodeUint(LwM2mContentFormat.SENML_CBOR));
    assert.deepEqual(accept(requestOf({ kind: 'read', path: LwM2mPath.parse('/3/0') }, { ...v11, announced: [110] })), encodeUint(LwM2mContentFormat.SENML_JSON));
    assert.equal(accept(requestOf({ kind: 'read', path: LwM2mPath.parse('/3/0') }, v10)), undefined);
  });

  test('Write: PUT replaces, POST updates; one value as text/plain (opaque as octet-stream), an instance in the client\'s format', () => {
    const path = LwM2mPath.parse('/1/0/1');
    const one = requestOf({ kind: 'write', path, mode: 'replace', content: [{ path, type: 'integer', value: 600 }] }, v10);
    assert.equal(one.method, 'PUT');
    assert.deepEqual(one.options, [['Content-Format', encodeUint(LwM2mContentFormat.TEXT)]]);
    assert.equal(Buffer.from(one.payload!).toString(), '600');
    const pkg = LwM2mPath.parse('/5/0/0');
    const opaque = requestOf({ kind: 'write', path: pkg, mode: 'replace', content: [{ path: pkg, type: 'opaque', value: new Uint8Array([1, 2]) }] }, v10);
    assert.deepEqual(opaque.options, [['Content-Format', encodeUint(LwM2mContentFormat.OPAQUE)]]);
    const instance = LwM2mPath.parse('/1/0');
    const content = [
      { path: LwM2mPath.parse('/1/0/1'), type: 'integer' as const, value: 600 },
      { path: LwM2mPath.parse('/1/0/6'), type: 'boolean' as const, value: true },
    ];
    const tlv = requestOf({ kind: 'write', path: instance, mode: 'update', content }, v10);
    assert.equal(tlv.method, 'POST');
    assert.deepEqual(tlv.options, [['Content-Format', encodeUint(LwM2mContentFormat.TLV)]]);
    assert.deepEqual(decodeContent(LwM2mContentFormat.TLV, tlv.payload!, instance).map((r) => r.value), [600, true]);
    const cbor = requestOf({ kind: 'write', path: instance, mode: 'replace', content }, v11);
    assert.deepEqual(cbor.options, [['Content-Format', encodeUint(LwM2mContentFormat.SENML_CBOR)]]);
  });

  test('Write, partial update of one resource: POST on its instance (POST on a resource would be Execute)', () => {
    const path = LwM2mPath.parse('/3/0/14');
    const update = requestOf({ kind: 'write', path, mode: 'update', content: [{ path, type: 'string', value: '+03:00' }] }, { ...v11, rootPath: ['lwm2m'] });
    assert.equal(update.method, 'POST');
    assert.deepEqual(update.path, ['lwm2m', '3', '0']);
    assert.deepEqual(update.options, [['Content-Format', encodeUint(LwM2mContentFormat.SENML_CBOR)]]);
    assert.deepEqual(
      decodeContent(LwM2mContentFormat.SENML_CBOR, update.payload!, LwM2mPath.parse('/3/0')).map((r) => [r.path.toString(), r.value]),
      [['/3/0/14', '+03:00']],
    );
    const v10update = requestOf({ kind: 'write', path, mode: 'update', content: [{ path, type: 'string', value: '+03:00' }] }, v10);
    assert.deepEqual([v10update.method, v10update.path], ['POST', ['3', '0']]);
    assert.deepEqual(v10update.options, [['Content-Format', encodeUint(LwM2mContentFormat.TLV)]]);
  });

  test('Execute, Discover, Delete, Write-Attributes, Observe, Cancel', () => {
    assert.deepEqual(requestOf({ kind: 'execute', path: LwM2mPath.parse('/3/0/4') }, v10), { method: 'POST', path: ['3', '0', '4'] });
    const withArgs = requestOf({ kind: 'execute', path: LwM2mPath.parse('/3/0/4'), args: "0='a'" }, v10);
    assert.equal(Buffer.from(withArgs.payload!).toString(), "0='a'");
    assert.deepEqual(accept(requestOf({ kind: 'discover', path: LwM2mPath.parse('/3') }, v10)), encodeUint(40));
    assert.equal(requestOf({ kind: 'delete', path: LwM2mPath.parse('/9/1') }, v10).method, 'DELETE');
    const attrs = requestOf({ kind: 'write-attributes', path: LwM2mPath.parse('/3/0/9'), attributes: { pmin: 10, pmax: 60, gt: 50.5 } }, v10);
    assert.deepEqual({ method: attrs.method, query: attrs.query, payload: attrs.payload }, { method: 'PUT', query: ['pmin=10', 'pmax=60', 'gt=50.5'], payload: undefined });
    assert.deepEqual(requestOf({ kind: 'cancel-observe', path: LwM2mPath.parse('/3/0/9') }, v10).options, [['Observe', encodeUint(1)]]);
  });

  test('answers: content decoded in the format the client chose; errors keep their code and diagnostic; garbage is 5.02', () => {
    const peer = { address: '127.0.0.1', port: 1 };
    const read = { kind: 'read' as const, path: LwM2mPath.parse('/3/0/9') };
    const text = resultOf(read, new CoapResponse('2.05', Buffer.from('87'), [{ name: 'Content-Format', value: encodeUint(0) }], peer), v10);
    assert.deepEqual(text.content?.map((r) => [r.path.toString(), r.value]), [['/3/0/9', 87]]);
    const noFormat = resultOf(read, new CoapResponse('2.05', Buffer.from('42'), [], peer), v10);
    assert.equal(noFormat.content?.[0]?.value, 42, 'a resource without Content-Format is text/plain');
    assert.deepEqual(resultOf(read, new CoapResponse('4.04', Buffer.from('no such resource'), [], peer), v10), { code: '4.04', message: 'no such resource' });
    const bad = resultOf({ kind: 'read', path: LwM2mPath.parse('/3/0') }, new CoapResponse('2.05', Buffer.from([0xff, 0x01]), [{ name: 'Content-Format', value: encodeUint(11542) }], peer), v10);
    assert.equal(bad.code, '5.02');
    assert.match(bad.message ?? '', /could not be decoded/);
    const created = resultOf({ kind: 'create', path: LwM2mPath.parse('/9'), content: [] }, new CoapResponse('2.01', Buffer.alloc(0), [{ name: 'Location-Path', value: Buffer.from('9') }, { name: 'Location-Path', value: Buffer.from('3') }], peer), v10);
    assert.deepEqual(created, { code: '2.01', location: '/9/3' });
  });
});
