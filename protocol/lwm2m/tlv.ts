import { MAX_ID, sortRecords, type LwM2mPath, type LwM2mValue, type ObjectLink, type ResourceType } from '../model/index.js';
import { DecodeContext, EncodeContext, secondsOf, UTF8_ENCODER, type ContentCodec, type TimedRecord } from './common.js';
import { LwM2mContentFormat } from './content-format.js';

/**
 * OMA LwM2M TLV (Content-Format 11542; legacy 1542), OMA-TS-LightweightM2M-V1_0 §6.4.3.
 *
 * Each TLV is a type byte, an 8- or 16-bit identifier, an optional 8/16/24-bit length and the
 * value:
 *
 * | type byte bits | meaning |
 * |---|---|
 * | 7-6 | 00 object instance, 01 resource instance, 10 multiple resource, 11 resource with value |
 * | 5 | identifier length: 0 = 8 bits, 1 = 16 bits |
 * | 4-3 | length field: 00 = none (length in bits 2-0), 01 = 8, 10 = 16, 11 = 24 bits |
 * | 2-0 | the length of the value when bits 4-3 are 00 |
 *
 * What the request path expects, encoding as Leshan does and decoding what real clients send:
 *
 * | request path | encoded as | also decoded |
 * |---|---|---|
 * | `/O` | one object-instance TLV per instance | — |
 * | `/O/I` | the instance's resource TLVs | a single object-instance TLV with id I |
 * | `/O/I/R` single | one resource-with-value TLV | — |
 * | `/O/I/R` multiple | one multiple-resource TLV | its bare resource-instance TLVs |
 * | `/O/I/R/RI` | one resource-instance TLV | — |
 *
 * Values (Appendix C): integers signed big-endian in 1, 2, 4 or 8 bytes (the fewest that hold
 * them), unsigned integers likewise unsigned, floats in 4 bytes when exact else 8, booleans one
 * byte 0/1, time as a signed integer of seconds, objlnk as two 16-bit ids, strings and core
 * links UTF-8, opaque as is. TLV carries no types, so decoding takes them from the object
 * definitions; a resource the registry does not know is read as opaque.
 */
export const tlvCodec: ContentCodec = {
  format: LwM2mContentFormat.TLV,
  encode: encodeTlv,
  decode: decodeTlv,
};

const OBJECT_INSTANCE = 0;
const RESOURCE_INSTANCE = 1;
const MULTIPLE_RESOURCE = 2;
const RESOURCE_VALUE = 3;
const TYPE_NAMES = ['object instance', 'resource instance', 'multiple resource', 'resource'] as const;
const ALL_TYPES = [OBJECT_INSTANCE, RESOURCE_INSTANCE, MULTIPLE_RESOURCE, RESOURCE_VALUE];
const MAX_TLV_LENGTH = 0xffffff;

interface Tlv {
  type: number;
  id: number;
  /** The value bytes, or the nested TLVs' bytes of an object instance or multiple resource. */
  value: Uint8Array;
  children?: Tlv[];
  /** Byte offset in the payload, for messages. */
  at: number;
}

// ---- decoding ------------------------------------------------------------------------------

export function decodeTlv(payload: Uint8Array, path: LwM2mPath, options?: Parameters<ContentCodec['decode']>[2]): TimedRecord[] {
  const ctx: DecodeContext = new DecodeContext('tlv', path, options);
  ctx.checkPayload(payload);
  if (path.isRoot()) ctx.fail('TLV content belongs to an object, object instance or resource path');
  const top = parse(ctx, payload, 0, ALL_TYPES, 'at top level', { leaves: 0 });
  const objectId = path.objectId!;

  if (path.isObject()) {
    for (const t of top) {
      if (t.type !== OBJECT_INSTANCE) {
        ctx.fail(`a ${TYPE_NAMES[t.type]} TLV at byte ${t.at} is outside any object instance (decode a Create without instance at /${objectId}/{new id})`);
      }
      decodeResources(ctx, ctx.pathOf([objectId, t.id]), t.children!);
    }
  } else if (path.isObjectInstance()) {
    const instanceId = path.instanceId!;
    if (top.length === 1 && top[0]!.type === OBJECT_INSTANCE) {
      if (top[0]!.id !== instanceId) ctx.fail(`object instance ${top[0]!.id} is outside the request path`);
      decodeResources(ctx, path, top[0]!.children!);
    } else {
      decodeResources(ctx, path, top);
    }
  } else if (path.isResource()) {
    const def = ctx.registry.resource(objectId, path.resourceId!);
    if (top.length === 0) {
      if (def && !def.multiple) ctx.fail(`no value for the single resource ${path}`);
    } else if (top.length === 1 && (top[0]!.type === RESOURCE_VALUE || top[0]!.type === MULTIPLE_RESOURCE)) {
      decodeResources(ctx, path.parent(), top);
    } else if (top.every((t) => t.type === RESOURCE_INSTANCE)) {
      decodeInstances(ctx, path, top);
    } else {
      ctx.fail(`a resource path takes one resource TLV or resource-instance TLVs, not ${describe(top)}`);
    }
  } else {
    if (top.length !== 1 || top[0]!.type !== RESOURCE_INSTANCE) ctx.fail(`a resource-instance path takes one resource-instance TLV, not ${describe(top)}`);
    const t = top[0]!;
    if (t.id !== path.resourceInstanceId) ctx.fail(`resource instance ${t.id} is outside the request path`);
    decodeLeaf(ctx, path, t);
  }
  return ctx.records;
}

/** The resource TLVs of one object instance. */
function decodeResources(ctx: DecodeContext, instancePath: LwM2mPath, tlvs: Tlv[]): void {
  for (const t of tlvs) {
    if (t.type !== RESOURCE_VALUE && t.type !== MULTIPLE_RESOURCE) ctx.fail(`a ${TYPE_NAMES[t.type]} TLV at byte ${t.at} is not a resource of ${instancePath}`);
    const resourcePath = ctx.pathOf([instancePath.objectId!, instancePath.instanceId!, t.id]);
    if (t.type === RESOURCE_VALUE) {
      decodeLeaf(ctx, resourcePath, t);
    } else {
      const def = ctx.registry.resource(resourcePath.objectId!, t.id);
      if (def && !def.multiple) ctx.fail(`${resourcePath} is a single resource but byte ${t.at} starts a multiple-resource TLV`);
      decodeInstances(ctx, resourcePath, t.children!);
    }
  }
}

function decodeInstances(ctx: DecodeContext, resourcePath: LwM2mPath, tlvs: Tlv[]): void {
  for (const t of tlvs) decodeLeaf(ctx, ctx.pathOf([...resourcePath.segments(), t.id]), t);
}

function decodeLeaf(ctx: DecodeContext, path: LwM2mPath, t: Tlv): void {
  const def = ctx.target(path);
  const type = def?.type ?? 'opaque';
  ctx.add(path, type, decodeValue(ctx, path, type, t.value));
}

/** Parses a sequence of TLVs, and the TLVs nested in object instances and multiple resources. */
function parse(ctx: DecodeContext, bytes: Uint8Array, base: number, allowed: readonly number[], where: string, count: { leaves: number }): Tlv[] {
  const out: Tlv[] = [];
  const ids = new Set<number>();
  let i = 0;
  while (i < bytes.length) {
    const at = base + i;
    const header = bytes[i++]!;
    const type = header >> 6;
    const idBytes = header & 0x20 ? 2 : 1;
    const lengthBytes = (header >> 3) & 0x03;
    if (i + idBytes + lengthBytes > bytes.length) ctx.fail(`TLV at byte ${at} is truncated in its header`);
    let id = bytes[i++]!;
    if (idBytes === 2) id = (id << 8) | bytes[i++]!;
    let length = header & 0x07;
    if (lengthBytes > 0) {
      length = 0;
      for (let k = 0; k < lengthBytes; k++) length = length * 256 + bytes[i++]!;
    }
    if (length > bytes.length - i) ctx.fail(`${TYPE_NAMES[type]} TLV ${id} at byte ${at} declares ${length} bytes of value but ${bytes.length - i} remain`);
    if (!allowed.includes(type)) ctx.fail(`a ${TYPE_NAMES[type]} TLV cannot appear ${where} (byte ${at})`);
    if (id > MAX_ID) ctx.fail(`${TYPE_NAMES[type]} TLV at byte ${at} has id ${id}, above ${MAX_ID}`);
    if (ids.has(id)) ctx.fail(`id ${id} appears twice ${where} (byte ${at})`);
    ids.add(id);
    const value = bytes.subarray(i, i + length);
    const valueAt = base + i;
    i += length;
    const tlv: Tlv = { type, id, value, at };
    if (type === OBJECT_INSTANCE) {
      tlv.children = parse(ctx, value, valueAt, [MULTIPLE_RESOURCE, RESOURCE_VALUE], `inside object instance ${id}`, count);
    } else if (type === MULTIPLE_RESOURCE) {
      tlv.children = parse(ctx, value, valueAt, [RESOURCE_INSTANCE], `inside multiple resource ${id}`, count);
    } else if (++count.leaves > ctx.maxRecords) {
      ctx.fail(`more than ${ctx.maxRecords} values`);
    }
    out.push(tlv);
  }
  return out;
}

function describe(tlvs: Tlv[]): string {
  if (tlvs.length === 0) return 'nothing';
  return tlvs.map((t) => `a ${TYPE_NAMES[t.type]} TLV`).join(', ');
}

function decodeValue(ctx: DecodeContext, path: LwM2mPath, type: ResourceType, b: Uint8Array): LwM2mValue {
  const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const badLength = (allowed: string): never => ctx.fail(`${path}: a TLV ${type} is ${allowed} bytes long, not ${b.length}`);
  switch (type) {
    case 'integer':
    case 'time': {
      let n: number | bigint;
      if (b.length === 1) n = view.getInt8(0);
      else if (b.length === 2) n = view.getInt16(0);
      else if (b.length === 4) n = view.getInt32(0);
      else if (b.length === 8) n = view.getBigInt64(0);
      else return badLength('1, 2, 4 or 8');
      if (type === 'time') return ctx.dateOfSeconds(n, 'time');
      return typeof n === 'bigint' ? normalise(n) : n;
    }
    case 'unsigned':
      if (b.length === 1) return view.getUint8(0);
      if (b.length === 2) return view.getUint16(0);
      if (b.length === 4) return view.getUint32(0);
      if (b.length === 8) return normalise(view.getBigUint64(0));
      return badLength('1, 2, 4 or 8');
    case 'float':
      if (b.length === 4) return view.getFloat32(0);
      if (b.length === 8) return view.getFloat64(0);
      return badLength('4 or 8');
    case 'boolean':
      if (b.length !== 1) return badLength('1');
      if (b[0]! > 1) ctx.fail(`${path}: boolean byte ${b[0]} is neither 0 nor 1`);
      return b[0] === 1;
    case 'objlnk':
      if (b.length !== 4) return badLength('4');
      return { objectId: view.getUint16(0), instanceId: view.getUint16(2) };
    case 'string':
    case 'corelnk':
      return ctx.utf8(b, `${path}`);
    case 'opaque':
      return new Uint8Array(b);
    case 'none':
      return ctx.fail(`${path} carries no value`);
  }
}

function normalise(n: bigint): number | bigint {
  return n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n;
}

// ---- encoding ------------------------------------------------------------------------------

export function encodeTlv(records: readonly TimedRecord[], path: LwM2mPath, options?: Parameters<ContentCodec['encode']>[2]): Uint8Array {
  const ctx: EncodeContext = new EncodeContext('tlv', path, options);
  ctx.check(records, false);
  if (path.isRoot()) ctx.fail('TLV content belongs to an object, object instance or resource path');
  const sorted = sortRecords([...records]);
  const out: Uint8Array[] = [];

  if (path.isObject()) {
    for (const group of groupBy(sorted, (r) => r.path.instanceId!)) {
      out.push(tlv(ctx, OBJECT_INSTANCE, group.id, concat(encodeResources(ctx, group.records))));
    }
  } else if (path.isObjectInstance()) {
    out.push(...encodeResources(ctx, sorted));
  } else if (path.isResource()) {
    if (sorted.length === 1 && sorted[0]!.path.isResource()) {
      out.push(...encodeResources(ctx, sorted));
    } else if (sorted.length === 0) {
      const def = ctx.registry.resource(path.objectId!, path.resourceId!);
      if (!def?.multiple) ctx.fail(`no value for ${path}`);
      out.push(tlv(ctx, MULTIPLE_RESOURCE, path.resourceId!, new Uint8Array(0)));
    } else {
      out.push(...encodeResources(ctx, sorted));
    }
  } else {
    if (sorted.length !== 1) ctx.fail(`a resource instance carries one value, got ${sorted.length}`);
    const r = sorted[0]!;
    out.push(tlv(ctx, RESOURCE_INSTANCE, path.resourceInstanceId!, encodeValue(r.type, r.value)));
  }
  return concat(out);
}

/** The resource TLVs of sorted records of one instance: single values, or instances grouped. */
function encodeResources(ctx: EncodeContext, records: readonly TimedRecord[]): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const group of groupBy(records, (r) => r.path.resourceId!)) {
    const first = group.records[0]!;
    if (first.path.isResource()) {
      out.push(tlv(ctx, RESOURCE_VALUE, group.id, encodeValue(first.type, first.value)));
    } else {
      const instances = group.records.map((r) => tlv(ctx, RESOURCE_INSTANCE, r.path.resourceInstanceId!, encodeValue(r.type, r.value)));
      out.push(tlv(ctx, MULTIPLE_RESOURCE, group.id, concat(instances)));
    }
  }
  return out;
}

function groupBy(records: readonly TimedRecord[], key: (r: TimedRecord) => number): { id: number; records: TimedRecord[] }[] {
  const groups: { id: number; records: TimedRecord[] }[] = [];
  for (const r of records) {
    const id = key(r);
    const last = groups[groups.length - 1];
    if (last && last.id === id) last.records.push(r);
    else groups.push({ id, records: [r] });
  }
  return groups;
}

function tlv(ctx: EncodeContext, type: number, id: number, value: Uint8Array): Uint8Array {
  const length = value.length;
  if (length > MAX_TLV_LENGTH) ctx.fail(`a ${TYPE_NAMES[type]} value of ${length} bytes exceeds the TLV limit of ${MAX_TLV_LENGTH}`);
  const header: number[] = [];
  let typeByte = type << 6;
  if (id > 0xff) typeByte |= 0x20;
  let lengthField: number[] = [];
  if (length < 8) typeByte |= length;
  else if (length <= 0xff) (typeByte |= 0x08), (lengthField = [length]);
  else if (length <= 0xffff) (typeByte |= 0x10), (lengthField = [length >> 8, length & 0xff]);
  else (typeByte |= 0x18), (lengthField = [length >> 16, (length >> 8) & 0xff, length & 0xff]);
  header.push(typeByte);
  if (id > 0xff) header.push(id >> 8, id & 0xff);
  else header.push(id);
  header.push(...lengthField);
  const out = new Uint8Array(header.length + length);
  out.set(header, 0);
  out.set(value, header.length);
  return out;
}

function encodeValue(type: ResourceType, value: LwM2mValue): Uint8Array {
  switch (type) {
    case 'integer':
      return signedBytes(BigInt(value as number | bigint));
    case 'time':
      return signedBytes(BigInt(secondsOf(value as Date)));
    case 'unsigned':
      return unsignedBytes(BigInt(value as number | bigint));
    case 'float': {
      const v = value as number;
      if (Math.fround(v) === v || Number.isNaN(v)) {
        const b = new Uint8Array(4);
        new DataView(b.buffer).setFloat32(0, v);
        return b;
      }
      const b = new Uint8Array(8);
      new DataView(b.buffer).setFloat64(0, v);
      return b;
    }
    case 'boolean':
      return Uint8Array.of(value ? 1 : 0);
    case 'objlnk': {
      const l = value as ObjectLink;
      return Uint8Array.of(l.objectId >> 8, l.objectId & 0xff, l.instanceId >> 8, l.instanceId & 0xff);
    }
    case 'opaque':
      return value as Uint8Array;
    case 'string':
    case 'corelnk':
      return UTF8_ENCODER.encode(value as string);
    case 'none':
      throw new Error('unreachable: checked by EncodeContext');
  }
}

/** The fewest of 1, 2, 4, 8 bytes that hold `n` as a signed big-endian integer. */
function signedBytes(n: bigint): Uint8Array {
  if (n >= -0x80n && n <= 0x7fn) return Uint8Array.of(Number(n) & 0xff);
  if (n >= -0x8000n && n <= 0x7fffn) {
    const b = new Uint8Array(2);
    new DataView(b.buffer).setInt16(0, Number(n));
    return b;
  }
  if (n >= -0x80000000n && n <= 0x7fffffffn) {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, Number(n));
    return b;
  }
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigInt64(0, n);
  return b;
}

/** The fewest of 1, 2, 4, 8 bytes that hold `n` as an unsigned big-endian integer. */
function unsignedBytes(n: bigint): Uint8Array {
  const size = n <= 0xffn ? 1 : n <= 0xffffn ? 2 : n <= 0xffffffffn ? 4 : 8;
  const b = new Uint8Array(size);
  const view = new DataView(b.buffer);
  if (size === 1) view.setUint8(0, Number(n));
  else if (size === 2) view.setUint16(0, Number(n));
  else if (size === 4) view.setUint32(0, Number(n));
  else view.setBigUint64(0, n);
  return b;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const p of parts) {
    out.set(p, offset);
    offset += p.length;
  }
  return out;
}
