import type { LwM2mValue, ResourceType } from '../../protocol/model/index.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { OBJECT_DEFINITIONS, ObjectRegistry, type ObjectDefinition, type ResourceDefinition } from '../../protocol/model/objects/index.js';
import type { TimedRecord } from '../../protocol/lwm2m/index.js';

/** Shared fixtures of the lwm2m-*.test.ts files: test object definitions, hex helpers, records. */

export function res(id: number, type: ResourceType, multiple = false, operations: ResourceDefinition['operations'] = 'RW'): ResourceDefinition {
  return { id, name: `res${id}`, operations, multiple, mandatory: false, type, description: '' };
}

export function obj(id: number, resources: ResourceDefinition[], multiple = true): ObjectDefinition {
  return { id, name: `test object ${id}`, urn: `urn:oma:lwm2m:x:${id}`, objectVersion: '1.0', lwm2mVersion: '1.1', multiple, mandatory: false, description: '', resources };
}

/** Every resource type, single and multiple: the round-trip object. */
export const ALL_TYPES = obj(9999, [
  res(0, 'string'),
  res(1, 'integer'),
  res(2, 'unsigned'),
  res(3, 'float'),
  res(4, 'boolean'),
  res(5, 'opaque'),
  res(6, 'time'),
  res(7, 'objlnk'),
  res(8, 'corelnk'),
  res(9, 'none', false, 'E'),
  res(10, 'integer', true),
  res(11, 'string', true),
  res(12, 'opaque', true),
  res(13, 'float', true),
  res(14, 'boolean', true),
  res(15, 'time', true),
  res(16, 'objlnk', true),
  res(17, 'unsigned', true),
  res(18, 'corelnk', true),
]);

/**
 * The shipped OMA objects plus the test objects of the vectors: 65/66/67 are the objects of the
 * object-link example (OMA-TS-LightweightM2M-V1_0 §6.4.3.3, 1.1 Core Table 7.4.4-4); 1024 and
 * 3442 are Leshan's test objects; 12, 31, 34 and 72 are used by Wakaama's tests and the 1.1
 * Core SenML tables; 3303/3308/3311 are IPSO objects of 1.1 Core Table 7.4.4-8.
 */
export const registry = new ObjectRegistry([
  ...OBJECT_DEFINITIONS,
  ALL_TYPES,
  obj(65, [res(0, 'objlnk', true, 'R'), res(1, 'string', false, 'R'), res(2, 'integer', false, 'R')]),
  obj(66, [res(0, 'string', false, 'R'), res(1, 'string', false, 'R'), res(2, 'objlnk', false, 'R')]),
  obj(67, [res(0, 'string', false, 'R'), res(1, 'string', false, 'R')]),
  obj(1024, [res(0, 'string'), res(1, 'float'), res(2, 'boolean')]),
  obj(3442, [res(130, 'float'), res(180, 'corelnk')]),
  obj(12, [res(1, 'integer'), res(2, 'float', true), res(3, 'float')]),
  obj(31, [res(0, 'string'), res(1, 'string')]),
  obj(34, [res(0, 'objlnk', true), res(1, 'string'), res(2, 'integer')]),
  obj(72, [res(2, 'float')]),
  obj(3303, [res(5700, 'float', false, 'R')]),
  obj(3308, [res(5900, 'float')]),
  obj(3311, [res(5850, 'boolean'), res(5851, 'integer')]),
]);

export const opts = { registry };

export const P = (s: string): LwM2mPath => LwM2mPath.parse(s);

export function hex(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s.replace(/\s+/g, ''), 'hex'));
}

export function toHex(b: Uint8Array): string {
  return Buffer.from(b).toString('hex');
}

export function utf8(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

export function text(b: Uint8Array): string {
  return Buffer.from(b).toString('utf8');
}

export function rec(path: string, type: ResourceType, value: LwM2mValue, time?: Date): TimedRecord {
  return time === undefined ? { path: P(path), type, value } : { path: P(path), type, value, time };
}

/** Records in a form node:assert compares readably (paths as strings). */
export function plain(records: readonly TimedRecord[]): unknown[] {
  return records.map((r) => ({ path: r.path.toString(), type: r.type, value: r.value, ...(r.time ? { time: r.time.toISOString() } : {}) }));
}

/**
 * Read /3/0 of the example client of OMA-TS-LightweightM2M-V1_0 §6.4.3.1 (the same values in
 * every format's example: §6.4.4 JSON, 1.1 Core Tables 7.4.4-2 SenML).
 */
export const DEVICE: TimedRecord[] = [
  rec('/3/0/0', 'string', 'Open Mobile Alliance'),
  rec('/3/0/1', 'string', 'Lightweight M2M Client'),
  rec('/3/0/2', 'string', '345000123'),
  rec('/3/0/3', 'string', '1.0'),
  rec('/3/0/6/0', 'integer', 1),
  rec('/3/0/6/1', 'integer', 5),
  rec('/3/0/7/0', 'integer', 3800),
  rec('/3/0/7/1', 'integer', 5000),
  rec('/3/0/8/0', 'integer', 125),
  rec('/3/0/8/1', 'integer', 900),
  rec('/3/0/9', 'integer', 100),
  rec('/3/0/10', 'integer', 15),
  rec('/3/0/11/0', 'integer', 0),
  rec('/3/0/13', 'time', new Date(1367491215000)),
  rec('/3/0/14', 'string', '+02:00'),
  rec('/3/0/16', 'string', 'U'),
];

/** One instance of object 9999 with a value of every type, edges included. */
export function allTypesInstance(instance = 0): TimedRecord[] {
  const p = (r: string): string => `/9999/${instance}/${r}`;
  return [
    rec(p('0'), 'string', 'héllo ✓ 😀 "quoted" \\ \n'),
    rec(p('1'), 'integer', -(2n ** 63n)),
    rec(p('2'), 'unsigned', 2n ** 64n - 1n),
    rec(p('3'), 'float', 22.4),
    rec(p('4'), 'boolean', true),
    rec(p('5'), 'opaque', Uint8Array.of(0, 1, 2, 0xfe, 0xff)),
    rec(p('6'), 'time', new Date(1700000000000)),
    rec(p('7'), 'objlnk', { objectId: 65535, instanceId: 65535 }),
    rec(p('8'), 'corelnk', '</3/0>;ver=1.1,</1/0>'),
    rec(p('10/0'), 'integer', -129),
    rec(p('10/1'), 'integer', 32768),
    rec(p('10/300'), 'integer', 2 ** 31),
    rec(p('10/65534'), 'integer', 2n ** 63n - 1n),
    rec(p('11/0'), 'string', ''),
    rec(p('11/1'), 'string', 'x'),
    rec(p('12/0'), 'opaque', new Uint8Array(0)),
    rec(p('12/1'), 'opaque', new Uint8Array(300).fill(7)),
    rec(p('13/0'), 'float', 0.5),
    rec(p('13/1'), 'float', -1e300),
    rec(p('13/2'), 'float', 20),
    rec(p('14/0'), 'boolean', false),
    rec(p('15/0'), 'time', new Date(0)),
    rec(p('15/1'), 'time', new Date(-86400000)),
    rec(p('16/0'), 'objlnk', { objectId: 3, instanceId: 0 }),
    rec(p('17/0'), 'unsigned', 255),
    rec(p('17/1'), 'unsigned', 256),
    rec(p('17/2'), 'unsigned', 2 ** 32),
    rec(p('18/0'), 'corelnk', '</>;rt="oma.lwm2m"'),
  ];
}
