/**
 * Resource data types of the LwM2M 1.1 data model (Appendix C of the core TS),
 * and the JavaScript values that carry them.
 */
export const RESOURCE_TYPES = [
  'string',
  'integer',
  'unsigned',
  'float',
  'boolean',
  'opaque',
  'time',
  'objlnk',
  'corelnk',
  'none',
] as const;

/** `none` is the type of executable resources, which carry no value. */
export type ResourceType = (typeof RESOURCE_TYPES)[number];

export interface ObjectLink {
  objectId: number;
  instanceId: number;
}

/**
 * The JavaScript form of each type:
 * string/corelnk → string; integer/unsigned → number, or bigint outside ±2^53;
 * float → number; boolean → boolean; opaque → Uint8Array; time → Date; objlnk → ObjectLink.
 */
export type LwM2mValue = string | number | bigint | boolean | Uint8Array | Date | ObjectLink;

export class InvalidValueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidValueError';
  }
}

const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const UINT64_MAX = 2n ** 64n - 1n;

function toBigInt(v: number | bigint): bigint {
  return typeof v === 'bigint' ? v : BigInt(v);
}

/** Narrows a bigint back to number when it is exactly representable. */
export function normaliseInteger(v: bigint): number | bigint {
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

export function isObjectLink(v: unknown): v is ObjectLink {
  return (
    typeof v === 'object' &&
    v !== null &&
    !(v instanceof Uint8Array) &&
    !(v instanceof Date) &&
    Number.isInteger((v as ObjectLink).objectId) &&
    Number.isInteger((v as ObjectLink).instanceId)
  );
}

/** Checks that `value` is a valid JavaScript form of `type`; throws InvalidValueError otherwise. */
export function assertValueOfType(type: ResourceType, value: LwM2mValue): void {
  const fail = (why: string): never => {
    throw new InvalidValueError(`value ${describe(value)} is not a valid ${type}: ${why}`);
  };
  switch (type) {
    case 'string':
    case 'corelnk':
      if (typeof value !== 'string') fail('expected a string');
      return;
    case 'integer':
    case 'unsigned': {
      if (typeof value === 'number' && !Number.isInteger(value)) fail('not an integer');
      if (typeof value !== 'number' && typeof value !== 'bigint') fail('expected an integer');
      const b = toBigInt(value as number | bigint);
      if (type === 'integer' && (b < INT64_MIN || b > INT64_MAX)) fail('outside the signed 64-bit range');
      if (type === 'unsigned' && (b < 0n || b > UINT64_MAX)) fail('outside the unsigned 64-bit range');
      return;
    }
    case 'float':
      if (typeof value !== 'number') fail('expected a number');
      return;
    case 'boolean':
      if (typeof value !== 'boolean') fail('expected a boolean');
      return;
    case 'opaque':
      if (!(value instanceof Uint8Array)) fail('expected bytes');
      return;
    case 'time':
      if (!(value instanceof Date) || Number.isNaN(value.getTime())) fail('expected a valid Date');
      return;
    case 'objlnk': {
      if (!isObjectLink(value)) fail('expected {objectId, instanceId}');
      const link = value as ObjectLink;
      if (link.objectId < 0 || link.objectId > 65535 || link.instanceId < 0 || link.instanceId > 65535) fail('ids outside 0..65535');
      return;
    }
    case 'none':
      fail('executable resources carry no value');
  }
}

/**
 * Parses the textual form of a value, as typed by an operator or carried by LwM2M text/plain:
 * booleans are `0`/`1` (also `true`/`false`), time is Unix seconds or ISO 8601,
 * opaque is base64, objlnk is `objectId:instanceId`.
 */
export function parseTextValue(type: ResourceType, text: string): LwM2mValue {
  const fail = (): never => {
    throw new InvalidValueError(`"${text}" is not a valid ${type}`);
  };
  switch (type) {
    case 'string':
    case 'corelnk':
      return text;
    case 'integer':
    case 'unsigned': {
      if (!/^-?\d+$/.test(text.trim())) fail();
      const v = normaliseInteger(BigInt(text.trim()));
      assertValueOfType(type, v);
      return v;
    }
    case 'float': {
      const t = text.trim();
      if (t === '' || Number.isNaN(Number(t))) fail();
      return Number(t);
    }
    case 'boolean': {
      const t = text.trim().toLowerCase();
      if (t === '1' || t === 'true') return true;
      if (t === '0' || t === 'false') return false;
      return fail();
    }
    case 'opaque': {
      const t = text.trim();
      if (!/^[A-Za-z0-9+/]*={0,2}$/.test(t) || t.length % 4 !== 0) fail();
      return new Uint8Array(Buffer.from(t, 'base64'));
    }
    case 'time': {
      const t = text.trim();
      if (/^-?\d+$/.test(t)) return new Date(Number(t) * 1000);
      const d = new Date(t);
      if (Number.isNaN(d.getTime())) fail();
      return d;
    }
    case 'objlnk': {
      const m = /^(\d{1,5}):(\d{1,5})$/.exec(text.trim());
      if (!m) return fail();
      const link = { objectId: Number(m[1]), instanceId: Number(m[2]) };
      assertValueOfType('objlnk', link);
      return link;
    }
    case 'none':
      return fail();
  }
}

/** The LwM2M text/plain form of a value (the inverse of parseTextValue). */
export function formatTextValue(type: ResourceType, value: LwM2mValue): string {
  switch (type) {
    case 'boolean':
      return value ? '1' : '0';
    case 'opaque':
      return Buffer.from(value as Uint8Array).toString('base64');
    case 'time':
      return String(Math.floor((value as Date).getTime() / 1000));
    case 'objlnk': {
      const l = value as ObjectLink;
      return `${l.objectId}:${l.instanceId}`;
    }
    default:
      return String(value);
  }
}

/** A JSON-safe form for APIs: bigint → string, bytes → base64, Date → ISO string. */
export function toJsonValue(type: ResourceType, value: LwM2mValue): string | number | boolean | ObjectLink {
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  if (type === 'objlnk') return value as ObjectLink;
  return value as string | number | boolean;
}

function describe(v: unknown): string {
  if (v instanceof Uint8Array) return `<${v.length} bytes>`;
  if (typeof v === 'bigint') return `${v}n`;
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

/**
 * The inverse of toJsonValue, for values arriving as JSON (REST API, CLI): strings are parsed
 * in their text form (so "1" is a valid integer and "true" a boolean), numbers and booleans
 * are taken as they are, an objlnk may be `{objectId, instanceId}`.
 */
export function fromJsonValue(type: ResourceType, json: unknown): LwM2mValue {
  if (typeof json === 'string') return parseTextValue(type, json);
  let value: LwM2mValue;
  if (typeof json === 'number') {
    if (type === 'time') value = new Date(json * 1000);
    else if (type === 'boolean' && (json === 0 || json === 1)) value = json === 1;
    else value = json;
  } else if (typeof json === 'boolean' || isObjectLink(json)) {
    value = json;
  } else {
    throw new InvalidValueError(`a ${type} value cannot be given as ${json === null ? 'null' : typeof json}`);
  }
  assertValueOfType(type, value);
  return value;
}
