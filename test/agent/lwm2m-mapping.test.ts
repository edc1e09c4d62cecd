import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseCoapUri } from '../../agent/bindings/lwm2m/accounts.js';
import type { RequestView } from '../../agent/bindings/lwm2m/coap-reply.js';
import { attributesOf, contentReply, operationOf, readFormat, resultReply, type Mapped } from '../../agent/bindings/lwm2m/dm-mapping.js';
import { bootstrapRequest, deregisterRequest, registerRequest, updateRequest } from '../../agent/bindings/lwm2m/registration-requests.js';
import { parseRegister, parseUpdate } from '../../gateway/transports/lwm2m/registration.js';
import { decodeLinks, encodeContent, LwM2mContentFormat } from '../../protocol/lwm2m/index.js';
import { LwM2mPath, type LwM2mRecord, type Operation } from '../../protocol/model/index.js';

const p = LwM2mPath.parse;
const ctx = { nextInstanceId: () => 3 };

function view(method: string, path: string, more: Partial<RequestView> = {}): RequestView {
  return { method, path: path.split('/').filter(Boolean), query: [], accept: undefined, contentFormat: undefined, observe: undefined, block2: undefined, payload: new Uint8Array(0), ...more };
}

function op(mapped: Mapped): Operation {
  if ('reply' in mapped) assert.fail(`expected an operation, got ${mapped.reply.code} ${Buffer.from(mapped.reply.payload ?? []).toString()}`);
  return mapped.operation;
}

function code(mapped: Mapped): string {
  return 'reply' in mapped ? mapped.reply.code : 'operation';
}

describe('LwM2M client: CoAP requests as model operations (Core 1.1 §6.3)', () => {
  test('GET: read, discover with Accept 40, observe with Observe 0, cancel with Observe 1', () => {
    assert.deepEqual(op(operationOf(view('GET', '3/0/0'), ctx)), { kind: 'read', path: p('/3/0/0') });
    assert.equal(op(operationOf(view('GET', '3/0', { accept: LwM2mContentFormat.LINK }), ctx)).kind, 'discover');
    assert.equal(op(operationOf(view('GET', '3/0/13', { observe: 0 }), ctx)).kind, 'observe');
    assert.equal(op(operationOf(view('GET', '3/0/13', { observe: 1 }), ctx)).kind, 'cancel-observe');
    assert.equal(op(operationOf(view('GET', '', {}), ctx)).path.isRoot(), true);
    assert.equal(code(operationOf(view('GET', '3/0', { accept: LwM2mContentFormat.TEXT }), ctx)), '4.06', 'text/plain is for one resource');
    assert.equal(code(operationOf(view('GET', '3/0', { accept: 50 }), ctx)), '4.06');
    assert.equal(code(operationOf(view('GET', '3/0', { accept: LwM2mContentFormat.LINK, observe: 0 }), ctx)), '4.00');
    assert.equal(code(operationOf(view('GET', 'rd/x'), ctx)), '4.04');
  });

  test('PUT: write replace with content; write-attributes from the query without it', () => {
    const write = op(operationOf(view('PUT', '1/0/1', { contentFormat: LwM2mContentFormat.TEXT, payload: Buffer.from('120') }), ctx));
    assert.deepEqual(write, { kind: 'write', path: p('/1/0/1'), mode: 'replace', content: [{ path: p('/1/0/1'), type: 'integer', value: 120 }] });
    const noFormat = op(operationOf(view('PUT', '1/0/1', { payload: Buffer.from('60') }), ctx));
    assert.equal(noFormat.kind === 'write' && noFormat.content[0]!.value, 60, 'a resource without Content-Format is text/plain');
    assert.deepEqual(op(operationOf(view('PUT', '3/0/9', { query: ['pmin=5', 'pmax=60', 'st=0.5'] }), ctx)), {
      kind: 'write-attributes',
      path: p('/3/0/9'),
      attributes: { pmin: 5, pmax: 60, st: 0.5 },
    });
    const removal = op(operationOf(view('PUT', '3/0/9', { query: ['pmin'] }), ctx));
    assert.ok(removal.kind === 'write-attributes' && 'pmin' in removal.attributes && removal.attributes.pmin === undefined, 'a bare name removes the attribute');
    assert.equal(code(operationOf(view('PUT', '3/0/15'), ctx)), '4.00', 'a write needs content');
    assert.equal(code(operationOf(view('PUT', '3/0/15', { contentFormat: 50, payload: Buffer.from('"x"') }), ctx)), '4.15');
    assert.equal(code(operationOf(view('PUT', '3/0', { contentFormat: LwM2mContentFormat.TLV, payload: Buffer.from([0xc8]) }), ctx)), '4.00');
  });

  test('POST: execute on a resource (arguments as text), update on an instance, create on an object', () => {
    assert.deepEqual(op(operationOf(view('POST', '3/0/4'), ctx)), { kind: 'execute', path: p('/3/0/4') });
    assert.deepEqual(op(operationOf(view('POST', '20/0/4012', { payload: Buffer.from("0='1'") }), ctx)), { kind: 'execute', path: p('/20/0/4012'), args: "0='1'" });
    const content: LwM2mRecord[] = [{ path: p('/1/0/3'), type: 'integer', value: 300 }];
    const update = op(operationOf(view('POST', '1/0', { contentFormat: LwM2mContentFormat.SENML_CBOR, payload: encodeContent(LwM2mContentFormat.SENML_CBOR, content, p('/1/0')) }), ctx));
    assert.deepEqual(update, { kind: 'write', path: p('/1/0'), mode: 'update', content });
    const created = op(operationOf(view('POST', '2', { contentFormat: LwM2mContentFormat.TLV, payload: encodeContent(LwM2mContentFormat.TLV, [{ path: p('/2/5/3'), type: 'integer', value: 1 }], p('/2')) }), ctx));
    assert.deepEqual(created, { kind: 'create', path: p('/2'), content: [{ path: p('/2/5/3'), type: 'integer', value: 1 }] });
    const bare = encodeContent(LwM2mContentFormat.TLV, [{ path: p('/2/0/3'), type: 'integer', value: 1 }], p('/2/0'));
    const legacy = op(operationOf(view('POST', '2', { contentFormat: LwM2mContentFormat.TLV, payload: bare }), ctx));
    assert.deepEqual(legacy, { kind: 'create', path: p('/2'), content: [{ path: p('/2/3/3'), type: 'integer', value: 1 }] }, 'bare TLV resources go to the next instance');
    assert.equal(code(operationOf(view('POST', '3/0/6/0'), ctx)), '4.05');
    assert.equal(code(operationOf(view('POST', ''), ctx)), '4.05');
    assert.deepEqual(op(operationOf(view('DELETE', '2/1'), ctx)), { kind: 'delete', path: p('/2/1') });
    assert.equal(code(operationOf(view('FETCH', '3/0'), ctx)), '4.05');
  });

  test('Write-Attributes values: whole non-negative periods, finite thresholds, no duplicates, no unknown names', () => {
    assert.deepEqual(attributesOf(['gt=-3.5', 'lt=1e2']), { attributes: { gt: -3.5, lt: 100 } });
    for (const bad of [['pmin=-1'], ['pmax=1.5'], ['st=-2'], ['gt=abc'], ['pmin=1', 'pmin=2'], ['dim=3'], ['gt=']]) {
      assert.ok('reply' in attributesOf(bad), bad.join('&'));
    }
  });
});

describe('LwM2M client: answers', () => {
  const one: LwM2mRecord[] = [{ path: p('/3/0/0'), type: 'string', value: 'ACME' }];
  test('formats: Accept decides; without it text/plain for one value, octet-stream for opaque, TLV for the rest', () => {
    assert.equal(readFormat(undefined, p('/3/0/0'), one), LwM2mContentFormat.TEXT);
    assert.equal(readFormat(undefined, p('/5/0/0'), [{ path: p('/5/0/0'), type: 'opaque', value: new Uint8Array(3) }]), LwM2mContentFormat.OPAQUE);
    assert.equal(readFormat(undefined, p('/3/0'), one), LwM2mContentFormat.TLV);
    assert.equal(readFormat(undefined, p('/3/0/6'), [{ path: p('/3/0/6/0'), type: 'integer', value: 1 }]), LwM2mContentFormat.TLV);
    assert.equal(readFormat(LwM2mContentFormat.SENML_CBOR, p('/3/0'), one), LwM2mContentFormat.SENML_CBOR);
    assert.equal(readFormat(1542, p('/3/0'), one), LwM2mContentFormat.TLV, 'a legacy number is answered under the current one');
    assert.equal(readFormat(LwM2mContentFormat.TEXT, p('/3/0'), one), undefined);
    assert.equal(contentReply('2.05', LwM2mContentFormat.TEXT, p('/3/0/6'), [{ path: p('/3/0/6/0'), type: 'integer', value: 1 }, { path: p('/3/0/6/1'), type: 'integer', value: 5 }]).code, '4.06');
  });

  test('results: errors with their message, Create with its Location-Path, Discover in link format', () => {
    const failed = resultReply({ kind: 'read', path: p('/9/0') }, { code: '4.04', message: 'object 9 is not supported' }, undefined);
    assert.equal(failed.code, '4.04');
    assert.equal(Buffer.from(failed.payload!).toString(), 'object 9 is not supported');
    assert.deepEqual(resultReply({ kind: 'create', path: p('/2'), content: [] }, { code: '2.01', location: '/2/4' }, undefined), { code: '2.01', locationPath: ['2', '4'] });
    const discover = resultReply({ kind: 'discover', path: p('/3/0') }, { code: '2.05', links: [{ target: '/3/0', attributes: {} }] }, undefined);
    assert.equal(discover.contentFormat, LwM2mContentFormat.LINK);
    assert.equal(Buffer.from(discover.payload!).toString(), '</3/0>');
    assert.deepEqual(resultReply({ kind: 'delete', path: p('/2/4') }, { code: '2.02' }, undefined), { code: '2.02' });
  });
});

describe('LwM2M client: registration requests (Core 1.1 §6.2), read back by the gateway parser', () => {
  const links = [{ target: '/1/0', attributes: {} }, { target: '/3/0', attributes: {} }];
  test('Register carries what the server needs; Update only what changed; De-register and Bootstrap-Request', () => {
    const register = registerRequest({ endpoint: 'dev-1', lifetime: 300, queueMode: true, objectLinks: links });
    assert.equal(register.method, 'POST');
    assert.deepEqual(register.path, ['rd']);
    assert.equal(Buffer.from(register.payload!).toString(), '</>;rt="oma.lwm2m";ct="110 112 11542",</1/0>,</3/0>');
    const parsed = parseRegister(register.query!, decodeLinks(register.payload!));
    assert.equal(parsed.endpoint, 'dev-1');
    assert.equal(parsed.lifetime, 300);
    assert.equal(parsed.lwm2mVersion, '1.1');
    assert.equal(parsed.queueMode, true);
    assert.deepEqual(parsed.announcedFormats, [110, 112, 11542]);
    assert.deepEqual(parsed.objectLinks.map((l) => l.target), ['/1/0', '/3/0']);

    const update = updateRequest(['rd', 'abc'], { lifetime: 120 });
    assert.deepEqual([update.method, update.path, update.query, update.payload], ['POST', ['rd', 'abc'], ['lt=120'], undefined]);
    assert.deepEqual(parseUpdate(update.query!, undefined, []), { lifetime: 120 });
    const withLinks = updateRequest(['rd', 'abc'], { objectLinks: links });
    assert.deepEqual(parseUpdate(withLinks.query!, decodeLinks(withLinks.payload!), []).objectLinks?.map((l) => l.target), ['/1/0', '/3/0']);
    assert.deepEqual(deregisterRequest(['rd', 'abc']), { method: 'DELETE', path: ['rd', 'abc'] });
    assert.deepEqual(bootstrapRequest('dev-1'), { method: 'POST', path: ['bs'], query: ['ep=dev-1'] });
    assert.deepEqual(bootstrapRequest('dev-1', 112).query, ['ep=dev-1', 'pct=112']);
  });

  test('server URIs: coap:// only, default port 5683, IPv6 literals', () => {
    assert.deepEqual(parseCoapUri('coap://127.0.0.1:5783'), { uri: 'coap://127.0.0.1:5783', host: '127.0.0.1', port: 5783 });
    assert.equal(parseCoapUri('coap://lwm2m.example.com')?.port, 5683);
    assert.equal(parseCoapUri('coap://[::1]:5684')?.host, '::1');
    assert.equal(parseCoapUri('coaps://lwm2m.example.com'), undefined, 'no DTLS yet');
    assert.equal(parseCoapUri('mqtt://127.0.0.1:1883'), undefined);
    assert.equal(parseCoapUri('not a uri'), undefined);
  });
});
