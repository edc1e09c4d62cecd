import type { LwM2mValue, ObjectLink, ResourceType } from '../model/index.js';
import {
  decodeBase64,
  DecodeContext,
  encodeBase64,
  EncodeContext,
  formatFloat,
  formatObjectLink,
  integerOf,
  integerText,
  parseObjectLink,
  secondsOf,
  truncate,
  UTF8_ENCODER,
  type ContentCodec,
} from './common.js';
import { LwM2mContentFormat } from './content-format.js';

/**
 * text/plain (Content-Format 0; legacy 1541): one value of a single resource or resource
 * instance, as LwM2M 1.1 Core §7.4.1 and Appendix C spell it: decimal integers and floats,
 * booleans `0`/`1`, time as Unix seconds, opaque as base64, objlnk as `66:0`.
 * A resource the registry does not know is read as a string.
 */
export const textCodec: ContentCodec = {
  format: LwM2mContentFormat.TEXT,

  encode(records, path, options) {
    const ctx: EncodeContext = new EncodeContext('text', path, options);
    ctx.check(records, false);
    if (!path.isResource() && !path.isResourceInstance()) ctx.fail('text/plain carries the value of one resource or resource instance');
    if (records.length !== 1 || !records[0]!.path.equals(path)) ctx.fail(`text/plain carries exactly one value at ${path}, got ${records.length} record(s)`);
    const r = records[0]!;
    return UTF8_ENCODER.encode(formatText(ctx, r.type, r.value));
  },

  decode(payload, path, options) {
    const ctx: DecodeContext = new DecodeContext('text', path, options);
    ctx.checkPayload(payload);
    if (!path.isResource() && !path.isResourceInstance()) ctx.fail('text/plain carries the value of one resource or resource instance');
    const def = ctx.target(path);
    const type = def?.type ?? 'string';
    const text = ctx.utf8(payload, 'the payload');
    ctx.add(path, type, parseText(ctx, type, text));
    return ctx.records;
  },
};

function formatText(ctx: EncodeContext, type: ResourceType, value: LwM2mValue): string {
  switch (type) {
    case 'integer':
    case 'unsigned':
      return integerText(value);
    case 'float':
      return formatFloat(value as number) ?? ctx.fail(`${String(value)} has no decimal text form`);
    case 'boolean':
      return value ? '1' : '0';
    case 'time':
      return String(secondsOf(value as Date));
    case 'opaque':
      return encodeBase64(value as Uint8Array);
    case 'objlnk':
      return formatObjectLink(value as ObjectLink);
    default:
      return value as string;
  }
}

const INTEGER_RE = /^[+-]?[0-9]+$/;
const FLOAT_RE = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;

function parseText(ctx: DecodeContext, type: ResourceType, text: string): LwM2mValue {
  const bad = (): never => ctx.fail(`"${truncate(text)}" is not a valid ${type}`);
  switch (type) {
    case 'string':
    case 'corelnk':
      return text;
    case 'integer':
    case 'unsigned':
      if (!INTEGER_RE.test(text)) return bad();
      return integerOf(ctx, ctx.path, type, BigInt(text));
    case 'float': {
      if (!FLOAT_RE.test(text)) return bad();
      const v = Number(text);
      return Number.isFinite(v) ? v : bad();
    }
    case 'boolean':
      if (text === '1') return true;
      if (text === '0') return false;
      return bad();
    case 'time':
      if (!INTEGER_RE.test(text)) return bad();
      return ctx.dateOfSeconds(BigInt(text), 'time');
    case 'opaque':
      return decodeBase64(text) ?? bad();
    case 'objlnk':
      return parseObjectLink(ctx, ctx.path, text);
    case 'none':
      return bad();
  }
}
