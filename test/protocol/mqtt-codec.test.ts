import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, test } from 'node:test';
import protobuf from 'protobufjs';
import { LwM2mPath, type LwM2mRecord, type Operation } from '../../protocol/model/index.js';
import {
  DEFAULT_MAX_MESSAGE_BYTES,
  decodeBootstrapRequest,
  decodeBootstrapResponse,
  decodeDeregisterMessage,
  decodeNotifyMessage,
  decodeRegisterMessage,
  decodeRequestMessage,
  decodeResponseMessage,
  decodeStatusMessage,
  decodeUpdateMessage,
  encodeBootstrapRequest,
  encodeBootstrapResponse,
  encodeDeregisterMessage,
  encodeNotifyMessage,
  encodeRegisterMessage,
  encodeRequestMessage,
  encodeResponseMessage,
  encodeStatusMessage,
  encodeUpdateMessage,
  MessageDecodeError,
} from '../../protocol/mqtt/codec.js';
import { DESCRIPTOR } from '../../protocol/mqtt/schema.generated.js';
import { generateSchemaSource, GENERATED_FILE } from '../../scripts/generate-proto.mjs';

const p = LwM2mPath.parse;
const rec = (path: string, type: LwM2mRecord['type'], value: LwM2mRecord['value']): LwM2mRecord => ({ path: p(path), type, value });

/** One record of every type, including 64-bit edge values. */
const EVERY_TYPE: LwM2mRecord[] = [
  rec('/3/0/0', 'string', 'ACME Ünïcode'),
  rec('/3/0/9', 'integer', -42),
  rec('/3/0/7/0', 'integer', -(2n ** 63n)),
  rec('/3/0/7/1', 'integer', 2n ** 63n - 1n),
  rec('/0/1/13', 'unsigned', 2n ** 64n - 1n),
  rec('/3303/0/5700', 'float', 21.375),
  rec('/1/0/6', 'boolean', true),
  rec('/0/1/5', 'opaque', new Uint8Array([0, 1, 2, 255])),
  rec('/3/0/13', 'time', new Date('2026-11-25T10:00:00Z')),
  rec('/1/0/10', 'objlnk', { objectId: 11, instanceId: 0 }),
  rec('/20/0/1', 'corelnk', '</3/0>;ver=1.2'),
];

const roundTrips: Array<[string, () => unknown, () => unknown]> = [];
function roundTrip<T>(name: string, value: T, encode: (v: T) => Uint8Array, decode: (b: Uint8Array) => T) {
  roundTrips.push([name, () => decode(encode(value)), () => value]);
}

roundTrip('BootstrapRequest', { requestId: 'r-1', endpoint: 'dev-0001' }, encodeBootstrapRequest, decodeBootstrapRequest);
roundTrip('BootstrapResponse', { requestId: 'r-1', code: '2.04' as const, content: EVERY_TYPE }, encodeBootstrapResponse, decodeBootstrapResponse);
roundTrip('BootstrapResponse (refused)', { requestId: 'r-2', code: '4.03' as const, message: 'not enrolled', content: [] }, encodeBootstrapResponse, decodeBootstrapResponse);
roundTrip(
  'RegisterMessage',
  {
    lwm2mVersion: '1.1',
    lifetime: 300,
    binding: 'M',
    queueMode: true,
    objectLinks: [
      { target: '/1', attributes: { ver: '1.2' } },
      { target: '/1/0', attributes: {} },
      { target: '/3/0', attributes: { flag: undefined } },
    ],
  },
  encodeRegisterMessage,
  decodeRegisterMessage,
);
roundTrip(
  'RegisterMessage (with the session the device kept)',
  {
    lwm2mVersion: '1.1',
    lifetime: 300,
    binding: 'M',
    queueMode: false,
    objectLinks: [{ target: '/3/0', attributes: {} }],
    session: {
      bootId: '5d0e6f1a-boot',
      observations: [
        { id: 'monitoring-1', path: p('/3/0/9'), attributes: { pmin: 30, pmax: 600 } },
        { id: 'monitoring-2', path: p('/20/0/4014'), attributes: { pmin: 0 } },
        { id: 'operator-7', path: p('/4/0'), attributes: { pmax: 60, gt: -90.5, lt: -110, st: 2 } },
      ],
    },
  },
  encodeRegisterMessage,
  decodeRegisterMessage,
);
roundTrip(
  'RegisterMessage (a session holding nothing)',
  { lwm2mVersion: '1.1', lifetime: 300, binding: 'M', queueMode: false, objectLinks: [], session: { bootId: 'b', observations: [] } },
  encodeRegisterMessage,
  decodeRegisterMessage,
);
roundTrip('UpdateMessage (lifetime only)', { lifetime: 120 }, encodeUpdateMessage, decodeUpdateMessage);
roundTrip('UpdateMessage (empty object list)', { objectLinks: [] }, encodeUpdateMessage, decodeUpdateMessage);
roundTrip('UpdateMessage (nothing)', {}, encodeUpdateMessage, decodeUpdateMessage);
roundTrip('DeregisterMessage', { reason: 'shutdown' }, encodeDeregisterMessage, decodeDeregisterMessage);
roundTrip('StatusMessage', { online: false, reason: 'connection lost' }, encodeStatusMessage, decodeStatusMessage);
roundTrip('StatusMessage (online)', { online: true }, encodeStatusMessage, decodeStatusMessage);
roundTrip('NotifyMessage', { observationId: 'o-1', path: p('/3/0'), sequence: 7, content: EVERY_TYPE.filter((r) => r.path.objectId === 3) }, encodeNotifyMessage, decodeNotifyMessage);
roundTrip(
  'ResponseMessage (read)',
  { id: 'q-1', result: { code: '2.05' as const, content: EVERY_TYPE } },
  encodeResponseMessage,
  decodeResponseMessage,
);
roundTrip(
  'ResponseMessage (discover with no links)',
  { id: 'q-2', result: { code: '2.05' as const, links: [] } },
  encodeResponseMessage,
  decodeResponseMessage,
);
roundTrip(
  'ResponseMessage (create)',
  { id: 'q-3', result: { code: '2.01' as const, location: '/20/1' } },
  encodeResponseMessage,
  decodeResponseMessage,
);
roundTrip('ResponseMessage (error)', { id: 'q-4', result: { code: '4.04' as const, message: 'no such resource' } }, encodeResponseMessage, decodeResponseMessage);

const OPERATIONS: Operation[] = [
  { kind: 'read', path: p('/3/0/0') },
  { kind: 'write', path: p('/3/0'), mode: 'update', content: [rec('/3/0/15', 'string', 'Europe/Zurich'), rec('/3/0/14', 'string', '+01:00')] },
  { kind: 'write', path: p('/3/0/7'), mode: 'replace', content: [rec('/3/0/7/0', 'integer', 3300)] },
  { kind: 'execute', path: p('/3/0/4') },
  { kind: 'execute', path: p('/20/0/4011'), args: "0='1'" },
  { kind: 'execute', path: p('/3/0/4'), args: '' },
  { kind: 'discover', path: LwM2mPath.ROOT },
  { kind: 'observe', path: p('/3/0/9') },
  { kind: 'cancel-observe', path: p('/3/0/9') },
  { kind: 'create', path: p('/20'), content: [rec('/20/1/4010', 'integer', 2)] },
  { kind: 'create', path: p('/20'), content: [] },
  { kind: 'delete', path: p('/20/1') },
  { kind: 'write-attributes', path: p('/3/0/9'), attributes: { pmin: 10, pmax: 60, gt: 80, lt: 20, st: 2.5 } },
  { kind: 'write-attributes', path: p('/3/0'), attributes: {} },
];
for (const [i, operation] of OPERATIONS.entries()) {
  roundTrip(`RequestMessage #${i} (${operation.kind})`, { id: `q-${i}`, operation }, encodeRequestMessage, decodeRequestMessage);
}

describe('DM-over-MQTT codec: round trips', () => {
  for (const [name, actual, expected] of roundTrips) {
    test(name, () => assert.deepEqual(actual(), expected()));
  }
});

describe('DM-over-MQTT codec: rejects malformed input with a reason', () => {
  const rejects = (fn: () => unknown, reason: RegExp) => {
    assert.throws(fn, (err: unknown) => {
      assert.ok(err instanceof MessageDecodeError, `expected MessageDecodeError, got ${String(err)}`);
      assert.match(err.reason, reason);
      return true;
    });
  };

  test('garbage bytes', () => {
    rejects(() => decodeRequestMessage(new Uint8Array([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])), /not a valid protobuf/);
    rejects(() => decodeRegisterMessage(Buffer.from('{"json": "is not protobuf"}')), /not a valid protobuf|version|lifetime|binding/);
  });

  test('every message type, truncated at every length, fails cleanly or decodes a valid prefix', () => {
    const samples: Array<[Uint8Array, (b: Uint8Array) => unknown]> = [
      [encodeBootstrapResponse({ requestId: 'r', code: '2.04', content: EVERY_TYPE }), decodeBootstrapResponse],
      [encodeRequestMessage({ id: 'q', operation: OPERATIONS[1]! }), decodeRequestMessage],
      [encodeResponseMessage({ id: 'q', result: { code: '2.05', content: EVERY_TYPE } }), decodeResponseMessage],
      [encodeRegisterMessage({ lwm2mVersion: '1.1', lifetime: 60, binding: 'M', queueMode: false, objectLinks: [{ target: '/3/0', attributes: {} }] }), decodeRegisterMessage],
      [encodeNotifyMessage({ observationId: 'o', path: p('/3/0/9'), sequence: 1, content: [rec('/3/0/9', 'integer', 5)] }), decodeNotifyMessage],
    ];
    let rejected = 0;
    for (const [bytes, decode] of samples) {
      for (let n = 0; n < bytes.length; n++) {
        try {
          decode(bytes.subarray(0, n));
        } catch (err) {
          assert.ok(err instanceof MessageDecodeError, `length ${n}: ${String(err)}`);
          rejected++;
        }
      }
    }
    assert.ok(rejected > 0);
  });

  test('oversized payloads are refused before parsing', () => {
    const big = new Uint8Array(DEFAULT_MAX_MESSAGE_BYTES + 1);
    rejects(() => decodeResponseMessage(big), /exceeds the 262144-byte limit/);
    const small = encodeResponseMessage({ id: 'q', result: { code: '2.05', content: EVERY_TYPE } });
    rejects(() => decodeResponseMessage(small, { maxMessageBytes: 16 }), /exceeds the 16-byte limit/);
    rejects(() => decodeResponseMessage(small, { maxRecords: 3 }), /records exceed the limit of 3/);
  });

  // Hand-built messages that protobuf accepts but the model does not.
  const root = protobuf.Root.fromJSON(DESCRIPTOR);
  const raw = (type: string, plain: Record<string, unknown>) => {
    const t = root.lookupType(`edgedm.v1.${type}`);
    return t.encode(t.fromObject(plain)).finish();
  };

  test('a request without id, kind or content', () => {
    rejects(() => decodeRequestMessage(raw('RequestMessage', { kind: 1, path: '/3/0/0' })), /id is missing/);
    rejects(() => decodeRequestMessage(raw('RequestMessage', { id: 'q', kind: 0, path: '/3/0/0' })), /unknown operation kind/);
    rejects(() => decodeRequestMessage(raw('RequestMessage', { id: 'q', kind: 2, writeMode: 1, path: '/3/0/15' })), /write without content/);
    rejects(
      () => decodeRequestMessage(raw('RequestMessage', { id: 'q', kind: 2, path: '/3/0/15', content: [{ path: '/3/0/15', type: 1, stringValue: 'x' }] })),
      /write without a write mode/,
    );
  });

  test('bad paths and records', () => {
    rejects(() => decodeRequestMessage(raw('RequestMessage', { id: 'q', kind: 1, path: '/3/x' })), /invalid LwM2M path/);
    rejects(() => decodeRequestMessage(raw('RequestMessage', { id: 'q', kind: 1, path: '/1/2/3/4/5' })), /more than four/);
    const write = (record: Record<string, unknown>) => raw('RequestMessage', { id: 'q', kind: 2, writeMode: 1, path: '/3/0', content: [record] });
    rejects(() => decodeRequestMessage(write({ path: '/3/0/15', type: 2, stringValue: 'x' })), /of type integer carries stringValue/);
    rejects(() => decodeRequestMessage(write({ path: '/3/0/15', type: 0, stringValue: 'x' })), /no valid type/);
    rejects(() => decodeRequestMessage(write({ path: '/3/0', type: 1, stringValue: 'x' })), /not a resource/);
    rejects(() => decodeRequestMessage(write({ path: '/4/0/1', type: 1, stringValue: 'x' })), /outside \/3\/0/);
    rejects(() => decodeRequestMessage(write({ path: '/3/0/1', type: 8, objlnkValue: { objectId: 70000, instanceId: 0 } })), /0\.\.65535/);
    rejects(() => decodeRequestMessage(write({ path: '/3/0/1', type: 1 })), /carries no value/);
  });

  test('unknown result codes and implausible registrations', () => {
    rejects(() => decodeResponseMessage(raw('ResponseMessage', { id: 'q', code: '2.99' })), /unknown result code "2.99"/);
    rejects(() => decodeResponseMessage(raw('ResponseMessage', { id: 'q', code: '' })), /unknown result code/);
    rejects(() => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '9.9', lifetime: 1, binding: 'M' })), /unsupported LwM2M version/);
    rejects(() => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '1.1', lifetime: 0, binding: 'M' })), /lifetime/);
    rejects(() => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '1.1', lifetime: 5, binding: 'X' })), /binding/);
    rejects(() => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '1.1', lifetime: 5, binding: 'M', session: { bootId: '' } })), /boot_id is missing/);
    rejects(
      () => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '1.1', lifetime: 5, binding: 'M', session: { bootId: 'b', observations: [{ id: 'o', path: 'not-a-path' }] } })),
      /path/i,
    );
    rejects(
      () => decodeRegisterMessage(raw('RegisterMessage', { lwm2mVersion: '1.1', lifetime: 5, binding: 'M', objectLinks: [{ target: 'evil' }] })),
      /not a path/,
    );
    rejects(
      () => decodeNotifyMessage(raw('NotifyMessage', { observationId: 'o', path: '/3/0/9', content: [{ path: '/4/0/2', type: 2, integerValue: 1 }] })),
      /outside/,
    );
  });

  test('non-binary payloads', () => {
    rejects(() => decodeStatusMessage('online' as unknown as Uint8Array), /not binary/);
  });
});

describe('generated schema', () => {
  test('schema.generated.ts is current with edgedm.proto', () => {
    assert.equal(readFileSync(GENERATED_FILE, 'utf8'), generateSchemaSource(), 'run `npm run generate:proto`');
  });
});
