import {
  assertValueOfType,
  InvalidPathError,
  InvalidValueError,
  LwM2mPath,
  normaliseInteger,
  RESOURCE_TYPES,
  type LwM2mRecord,
  type LwM2mValue,
  type ObjectLink,
  type ResourceType,
} from '../model/index.js';
import { defaultObjectRegistry, type ObjectRegistry, type ResourceDefinition } from '../model/objects/index.js';
import type { LwM2mContentFormat } from './content-format.js';
import { ContentDecodeError, ContentEncodeError } from './errors.js';

/**
 * What the codecs carry: the model's flat records, plus the measurement time that SenML and
 * LwM2M JSON can attach to a value (notifications with history, Send). TLV, text and opaque
 * carry no time. A record without `time` is a current value.
 */
export interface TimedRecord extends LwM2mRecord {
  time?: Date;
}

/** 256 KiB, the limit of the DM-over-MQTT codec: far above any LwM2M payload we exchange. */
export const DEFAULT_MAX_CONTENT_BYTES = 256 * 1024;
export const DEFAULT_MAX_RECORDS = 10_000;

export interface DecodeOptions {
  /** Object definitions that give resources their types; the OMA objects edgedm ships by default. */
  registry?: ObjectRegistry;
  /** A larger payload is refused before it is parsed. */
  maxBytes?: number;
  /** More values than this (or links, for link format) are refused. */
  maxRecords?: number;
  /** What SenML relative times (below 2^28 s, RFC 8428 §4.5.3) count from; the decode time by default. */
  now?: Date;
}

export interface EncodeOptions {
  registry?: ObjectRegistry;
}

/** Encodes the records of a response or request at `path` (the request's path). */
export interface ContentEncoder {
  readonly format: LwM2mContentFormat;
  encode(records: readonly TimedRecord[], path: LwM2mPath, options?: EncodeOptions): Uint8Array;
}

/** Decodes a payload for the request at `path`; every record lies at or below it. */
export interface ContentDecoder {
  readonly format: LwM2mContentFormat;
  decode(payload: Uint8Array, path: LwM2mPath, options?: DecodeOptions): TimedRecord[];
}

export type ContentCodec = ContentEncoder & ContentDecoder;

// ---- decoding ------------------------------------------------------------------------------

/**
 * The state of one decode: the request path, the limits and the records so far. Every check a
 * decoder needs on a value lives here, so the formats agree on what is malformed.
 */
export class DecodeContext {
  readonly registry: ObjectRegistry;
  readonly maxBytes: number;
  readonly maxRecords: number;
  readonly now: Date;
  readonly records: TimedRecord[] = [];
  private readonly seen = new Set<string>();
  /** Resource path + time → whether it was seen as a single value or as instances. */
  private readonly shapes = new Map<string, 'single' | 'multiple'>();

  constructor(
    readonly format: string,
    readonly path: LwM2mPath,
    options: DecodeOptions = {},
  ) {
    this.registry = options.registry ?? defaultObjectRegistry;
    this.maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
    this.maxRecords = options.maxRecords ?? DEFAULT_MAX_RECORDS;
    this.now = options.now ?? new Date();
    if (!(path instanceof LwM2mPath)) throw new ContentDecodeError(format, String(path), 'the request path is not an LwM2mPath');
  }

  fail(reason: string): never {
    throw new ContentDecodeError(this.format, this.path.toString(), reason);
  }

  /** The payload is bytes and within the size limit. */
  checkPayload(payload: unknown): asserts payload is Uint8Array {
    if (!(payload instanceof Uint8Array)) this.fail('payload is not binary');
    if (payload.length > this.maxBytes) this.fail(`${payload.length} bytes exceed the ${this.maxBytes}-byte limit`);
  }

  /** Strict UTF-8: invalid sequences are refused, not replaced. */
  utf8(bytes: Uint8Array, what: string): string {
    try {
      return UTF8.decode(bytes);
    } catch {
      return this.fail(`${what} is not valid UTF-8`);
    }
  }

  pathOf(ids: readonly number[]): LwM2mPath {
    try {
      return LwM2mPath.of(...ids);
    } catch (err) {
      if (err instanceof InvalidPathError) return this.fail(err.message);
      throw err;
    }
  }

  /**
   * A record name of SenML or LwM2M JSON: `/3/0/1` or `/3/0/6/1`, decimal ids without leading
   * zeros, no trailing slash. `leadingSlash: 'optional'` also takes `3/0/1` (LwM2M JSON 1.0
   * clients send base names without the slash).
   */
  parseName(name: string, leadingSlash: 'required' | 'optional'): LwM2mPath {
    const re = leadingSlash === 'required' ? NAME_RE : NAME_RE_OPTIONAL_SLASH;
    if (!re.test(name)) this.fail(`record name "${truncate(name)}" is not an LwM2M resource path`);
    return this.pathOf(name.replace(/^\//, '').split('/').map(Number));
  }

  /**
   * The definition of the resource a value at `path` belongs to, after the checks every value
   * gets: resource or resource-instance level, inside the request path, not an executable,
   * single/multiple as defined. Undefined for a resource the registry does not know.
   */
  target(path: LwM2mPath): ResourceDefinition | undefined {
    if (!path.isResource() && !path.isResourceInstance()) this.fail(`${path} is not a resource or resource instance`);
    if (!path.startsWith(this.path)) this.fail(`${path} is outside the request path`);
    const def = this.registry.resource(path.objectId!, path.resourceId!);
    if (!def) return undefined;
    if (def.type === 'none') this.fail(`${path} is ${def.operations === 'E' ? 'an executable resource' : 'a resource without a type'} and carries no value`);
    if (def.multiple && path.isResource()) this.fail(`${path} is a multiple resource: values belong to its instances`);
    if (!def.multiple && path.isResourceInstance()) this.fail(`${path.parent()} is a single resource and has no instances`);
    return def;
  }

  /** Adds one value, refusing duplicates and values that are not of their type. */
  add(path: LwM2mPath, type: ResourceType, value: LwM2mValue, time?: Date): void {
    try {
      assertValueOfType(type, value);
    } catch (err) {
      if (err instanceof InvalidValueError) this.fail(`${path}: ${err.message}`);
      throw err;
    }
    const at = time === undefined ? '' : `@${time.getTime()}`;
    const key = `${path}${at}`;
    if (this.seen.has(key)) this.fail(`${path} appears more than once${time === undefined ? '' : ` at ${time.toISOString()}`}`);
    const resourceKey = `${path.isResource() ? path : path.parent()}${at}`;
    const shape = path.isResource() ? 'single' : 'multiple';
    const known = this.shapes.get(resourceKey);
    if (known !== undefined && known !== shape) this.fail(`${path.isResource() ? path : path.parent()} is given both as a single value and as instances`);
    if (this.records.length >= this.maxRecords) this.fail(`more than ${this.maxRecords} values`);
    this.seen.add(key);
    this.shapes.set(resourceKey, shape);
    this.records.push(time === undefined ? { path, type, value } : { path, type, value, time });
  }

  /** A time in seconds since the epoch, as a Date (fractions kept to the millisecond). */
  dateOfSeconds(seconds: number | bigint, what: string): Date {
    const s = Number(seconds);
    if (!Number.isFinite(s) || Math.abs(s) > MAX_DATE_SECONDS) this.fail(`${what} ${String(seconds)} is outside the range of a date`);
    return new Date(Math.round(s * 1000));
  }

  /**
   * SenML time resolution (RFC 8428 §4.5.3): base time + time; 0 means "now" (no time); values
   * below 2^28 are relative to now, larger ones are seconds since the epoch.
   */
  resolveTime(seconds: number): Date | undefined {
    if (!Number.isFinite(seconds)) this.fail(`time ${seconds} is not a number`);
    if (seconds === 0) return undefined;
    if (seconds < RELATIVE_TIME_LIMIT) return this.dateOfSeconds(this.now.getTime() / 1000 + seconds, 'time');
    return this.dateOfSeconds(seconds, 'time');
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
const SEGMENT = '(?:0|[1-9][0-9]{0,4})';
const NAME_RE = new RegExp(`^(?:/${SEGMENT}){1,4}$`);
const NAME_RE_OPTIONAL_SLASH = new RegExp(`^/?${SEGMENT}(?:/${SEGMENT}){0,3}$`);
/** ±8.64e15 ms is the range of a JavaScript Date. */
const MAX_DATE_SECONDS = 8.64e12;
/** RFC 8428 §4.5.3: times below 2^28 seconds are relative to the current time. */
export const RELATIVE_TIME_LIMIT = 2 ** 28;

export function truncate(s: string, max = 40): string {
  return s.length > max ? `${s.slice(0, max)}…` : s;
}

// ---- values carried with an explicit kind (SenML, LwM2M JSON) -------------------------------

/** A value as SenML or LwM2M JSON carries it, before the object definition gives it a type. */
export type WireValue =
  | { kind: 'number'; label: string; num: number | bigint }
  | { kind: 'string'; label: string; text: string }
  | { kind: 'boolean'; label: string; bool: boolean }
  | { kind: 'bytes'; label: string; bytes: Uint8Array }
  | { kind: 'objlnk'; label: string; text: string };

/** The type a value takes when the registry does not know its resource: the format's own kind. */
const TYPE_OF_KIND: Record<WireValue['kind'], ResourceType> = {
  number: 'float',
  string: 'string',
  boolean: 'boolean',
  bytes: 'opaque',
  objlnk: 'objlnk',
};

/**
 * Gives a wire value its resource type and JavaScript form. `opaqueAsBase64` is LwM2M JSON 1.0,
 * where opaque travels as a base64 string in `sv`.
 */
export function typedValue(ctx: DecodeContext, path: LwM2mPath, def: ResourceDefinition | undefined, w: WireValue, opaqueAsBase64 = false): { type: ResourceType; value: LwM2mValue } {
  const type = def?.type ?? TYPE_OF_KIND[w.kind];
  const wrong = (): never => ctx.fail(`${path} is a ${type} resource but the record carries "${w.label}"`);
  switch (type) {
    case 'integer':
    case 'unsigned':
      if (w.kind !== 'number') return wrong();
      return { type, value: integerOf(ctx, path, type, w.num) };
    case 'float':
      if (w.kind !== 'number') return wrong();
      return { type, value: Number(w.num) };
    case 'time':
      if (w.kind !== 'number') return wrong();
      return { type, value: ctx.dateOfSeconds(w.num, `${path} time value`) };
    case 'boolean':
      if (w.kind !== 'boolean') return wrong();
      return { type, value: w.bool };
    case 'string':
    case 'corelnk':
      if (w.kind !== 'string') return wrong();
      return { type, value: w.text };
    case 'opaque':
      if (w.kind === 'bytes') return { type, value: w.bytes };
      if (opaqueAsBase64 && w.kind === 'string') {
        const bytes = decodeBase64(w.text);
        if (!bytes) ctx.fail(`${path}: "${truncate(w.text)}" is not base64`);
        return { type, value: bytes };
      }
      return wrong();
    case 'objlnk':
      if (w.kind !== 'objlnk') return wrong();
      return { type, value: parseObjectLink(ctx, path, w.text) };
    case 'none':
      return ctx.fail(`${path} carries no value`);
  }
}

export function integerOf(ctx: DecodeContext, path: LwM2mPath, type: 'integer' | 'unsigned', num: number | bigint): number | bigint {
  if (typeof num === 'number' && !Number.isInteger(num)) ctx.fail(`${path}: ${num} is not an integer`);
  const b = BigInt(num);
  if (type === 'integer' && (b < INT64_MIN || b > INT64_MAX)) ctx.fail(`${path}: ${b} is outside the signed 64-bit range`);
  if (type === 'unsigned' && (b < 0n || b > UINT64_MAX)) ctx.fail(`${path}: ${b} is outside the unsigned 64-bit range`);
  return normaliseInteger(b);
}

export const INT64_MIN = -(2n ** 63n);
export const INT64_MAX = 2n ** 63n - 1n;
export const UINT64_MAX = 2n ** 64n - 1n;

/** `66:0`: object id and instance id, each 0..65535 (65535:65535 is the null link). */
export function parseObjectLink(ctx: DecodeContext, path: LwM2mPath, text: string): ObjectLink {
  const m = /^(0|[1-9][0-9]{0,4}):(0|[1-9][0-9]{0,4})$/.exec(text);
  const link = m ? { objectId: Number(m[1]), instanceId: Number(m[2]) } : undefined;
  if (!link || link.objectId > 0xffff || link.instanceId > 0xffff) return ctx.fail(`${path}: "${truncate(text)}" is not an object link`);
  return link;
}

export function formatObjectLink(l: ObjectLink): string {
  return `${l.objectId}:${l.instanceId}`;
}

// ---- base64 ------------------------------------------------------------------------------

/**
 * Decodes base64. `standard`: RFC 4648 §4, padded (text/plain and LwM2M JSON). `any`: also the
 * URL-safe alphabet of §5 and missing padding, as RFC 8428 writes SenML `vd` and as some
 * implementations write it anyway. Undefined when the text is not base64.
 */
export function decodeBase64(text: string, mode: 'standard' | 'any' = 'standard'): Uint8Array | undefined {
  const standard = /^[A-Za-z0-9+/]*={0,2}$/.test(text);
  const url = /^[A-Za-z0-9_-]*={0,2}$/.test(text);
  if (!standard && !(url && mode === 'any')) return undefined;
  const body = text.replace(/=+$/, '');
  const padded = text.length !== body.length;
  if (body.length % 4 === 1) return undefined;
  if (mode === 'standard' ? text.length % 4 !== 0 : padded && text.length % 4 !== 0) return undefined;
  return new Uint8Array(Buffer.from(body, standard ? 'base64' : 'base64url'));
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

export function encodeBase64Url(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64url');
}

// ---- encoding ------------------------------------------------------------------------------

/** The checks every encoder makes on the records it is given, with the same messages. */
export class EncodeContext {
  readonly registry: ObjectRegistry;

  constructor(
    readonly format: string,
    readonly path: LwM2mPath,
    options: EncodeOptions = {},
  ) {
    this.registry = options.registry ?? defaultObjectRegistry;
    if (!(path instanceof LwM2mPath)) throw new ContentEncodeError(format, String(path), 'the request path is not an LwM2mPath');
  }

  fail(reason: string): never {
    throw new ContentEncodeError(this.format, this.path.toString(), reason);
  }

  /**
   * Every record is a value of its type at a resource or resource instance inside the request
   * path, agrees with the object definition, and appears once (per time).
   */
  check(records: readonly TimedRecord[], allowTime: boolean): void {
    if (!Array.isArray(records)) this.fail('records are not an array');
    const seen = new Set<string>();
    const shapes = new Map<string, 'single' | 'multiple'>();
    for (const r of records) {
      if (typeof r !== 'object' || r === null || !(r.path instanceof LwM2mPath)) this.fail('a record has no LwM2mPath');
      const p = r.path;
      if (!p.isResource() && !p.isResourceInstance()) this.fail(`record ${p} is not a resource or resource instance`);
      if (!p.startsWith(this.path)) this.fail(`record ${p} is outside the request path`);
      if (!(RESOURCE_TYPES as readonly string[]).includes(r.type) || r.type === 'none') this.fail(`record ${p} has no value type (${String(r.type)})`);
      try {
        assertValueOfType(r.type, r.value);
      } catch (err) {
        if (err instanceof InvalidValueError) this.fail(`record ${p}: ${err.message}`);
        throw err;
      }
      if ((r.type === 'string' || r.type === 'corelnk') && LONE_SURROGATE.test(r.value as string)) this.fail(`record ${p} is not valid Unicode (lone surrogate)`);
      const def = this.registry.resource(p.objectId!, p.resourceId!);
      if (def) {
        if (def.type !== r.type) this.fail(`record ${p} is a ${r.type} but the resource is defined as ${def.type}`);
        if (def.multiple && p.isResource()) this.fail(`record ${p} is a multiple resource: values belong to its instances`);
        if (!def.multiple && p.isResourceInstance()) this.fail(`record ${p}: ${p.parent()} is a single resource and has no instances`);
      }
      if (r.time !== undefined) {
        if (!allowTime) this.fail(`record ${p} has a time, which ${this.format} cannot carry`);
        if (!(r.time instanceof Date) || Number.isNaN(r.time.getTime())) this.fail(`record ${p} has an invalid time`);
        if (r.time.getTime() / 1000 < RELATIVE_TIME_LIMIT) this.fail(`record ${p}: a time before 1978-07-04 would read as relative (RFC 8428 §4.5.3)`);
      }
      const at = r.time === undefined ? '' : `@${r.time.getTime()}`;
      const key = `${p}${at}`;
      if (seen.has(key)) this.fail(`record ${p} appears more than once`);
      seen.add(key);
      const resourceKey = `${p.isResource() ? p : p.parent()}${at}`;
      const shape = p.isResource() ? 'single' : 'multiple';
      if ((shapes.get(resourceKey) ?? shape) !== shape) this.fail(`${p.isResource() ? p : p.parent()} is given both as a single value and as instances`);
      shapes.set(resourceKey, shape);
    }
  }

  /**
   * The base name and names of SenML and LwM2M JSON: a record at the request path itself (a
   * single resource, a resource instance) is named by the base name alone; otherwise the base
   * name is the request path with a trailing slash and each name the rest of the record's path.
   */
  names(records: readonly TimedRecord[]): { bn: string; name(r: TimedRecord): string | undefined } {
    const exact = records.length > 0 && records.every((r) => r.path.equals(this.path));
    if (exact) return { bn: this.path.toString(), name: () => undefined };
    const bn = this.path.isRoot() ? '/' : `${this.path}/`;
    return { bn, name: (r) => r.path.segments().slice(this.path.length).join('/') };
  }
}

/** In a `u` regular expression a surrogate pair is one code point: only lone halves match. */
export const LONE_SURROGATE = /\p{Cs}/u;

/** Seconds since the epoch of a time value (LwM2M time resources are whole seconds). */
export function secondsOf(d: Date): number {
  return Math.floor(d.getTime() / 1000);
}

/**
 * A float as JSON and text write it: shortest round-trip digits, and `.0` on integral values
 * so the text still reads as a float (as Leshan writes them). Undefined for NaN and ±Infinity.
 */
export function formatFloat(v: number): string | undefined {
  if (!Number.isFinite(v)) return undefined;
  if (Object.is(v, -0)) return '-0.0';
  if (Number.isInteger(v) && Math.abs(v) < 1e21) return `${v}.0`;
  return String(v);
}

/** A record time for SenML `bt` and LwM2M JSON `t`: seconds, with milliseconds as a fraction. */
export function timeSeconds(d: Date): number {
  return d.getTime() / 1000;
}

export function integerText(v: LwM2mValue): string {
  return BigInt(v as number | bigint).toString();
}

export const UTF8_ENCODER = new TextEncoder();
