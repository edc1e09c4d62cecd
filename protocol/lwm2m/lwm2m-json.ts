import type { ObjectLink } from '../model/index.js';
import {
  DecodeContext,
  encodeBase64,
  EncodeContext,
  formatFloat,
  formatObjectLink,
  integerText,
  secondsOf,
  timeSeconds,
  truncate,
  typedValue,
  UTF8_ENCODER,
  type ContentCodec,
  type TimedRecord,
  type WireValue,
} from './common.js';
import { LwM2mContentFormat } from './content-format.js';
import { isJsonObject, JsonNumber, jsonString, type JsonObject, type JsonValue } from './json.js';
import { parseOrFail } from './senml-json.js';

/**
 * LwM2M JSON (application/vnd.oma.lwm2m+json, Content-Format 11543; legacy 1543), the LwM2M
 * 1.0 format of OMA-TS-LightweightM2M-V1_0 §6.4.4:
 * `{"bn":"/3/0/","e":[{"n":"0","sv":"Open Mobile Alliance"},{"n":"9","v":100}]}`.
 *
 * | LwM2M type | entry value |
 * |---|---|
 * | integer, unsigned, float, time | `v` (time as Unix seconds) |
 * | boolean | `bv` |
 * | string, corelnk | `sv` |
 * | opaque | `sv`, base64 (RFC 4648 §4, padded) |
 * | objlnk | `ov` (`"66:0"`) |
 *
 * A record's path is `bn` + `n` as plain strings (so `"bn":"/3/0/1"` + `"n":"1/0"` is
 * `/3/0/11/0`, as in Leshan's tests). A record's time is `bt` + `t`, read as SenML reads times
 * (values below 2^28 are relative to now); the encoder writes each time as absolute `t`.
 */
export const lwm2mJsonCodec: ContentCodec = {
  format: LwM2mContentFormat.JSON,

  encode(records, path, options) {
    const ctx: EncodeContext = new EncodeContext('lwm2m+json', path, options);
    ctx.check(records, true);
    const names = ctx.names(records);
    const entries = records.map((r) => {
      const fields: string[] = [];
      const n = names.name(r);
      if (n !== undefined) fields.push(`"n":${jsonString(n)}`);
      fields.push(entryValue(ctx, r));
      if (r.time !== undefined) fields.push(`"t":${String(timeSeconds(r.time))}`);
      return `{${fields.join(',')}}`;
    });
    return UTF8_ENCODER.encode(`{"bn":${jsonString(names.bn)},"e":[${entries.join(',')}]}`);
  },

  decode(payload, path, options) {
    const ctx: DecodeContext = new DecodeContext('lwm2m+json', path, options);
    ctx.checkPayload(payload);
    const json = parseOrFail(ctx, payload);
    if (!isJsonObject(json)) ctx.fail('LwM2M JSON content is a JSON object');
    let bn = '';
    let bt = 0;
    let entries: JsonValue[] | undefined;
    for (const [key, value] of json) {
      if (key === 'bn') {
        if (typeof value !== 'string') ctx.fail('"bn" is not a string');
        bn = value;
      } else if (key === 'bt') {
        bt = Number(number(ctx, value, '"bt"'));
      } else if (key === 'e') {
        if (!Array.isArray(value)) ctx.fail('"e" is not an array');
        entries = value;
      } else if (key.endsWith('_')) {
        ctx.fail(`unknown must-understand key "${truncate(key)}"`);
      }
    }
    if (entries === undefined) ctx.fail('no "e" array of entries');
    if (entries.length > ctx.maxRecords) ctx.fail(`${entries.length} entries exceed the limit of ${ctx.maxRecords}`);
    entries.forEach((e, index) => readEntry(ctx, e, index, bn, bt));
    return ctx.records;
  },
};

function entryValue(ctx: EncodeContext, r: TimedRecord): string {
  switch (r.type) {
    case 'integer':
    case 'unsigned':
      return `"v":${integerText(r.value)}`;
    case 'float':
      return `"v":${formatFloat(r.value as number) ?? ctx.fail(`${r.path}: ${String(r.value)} has no JSON form`)}`;
    case 'time':
      return `"v":${secondsOf(r.value as Date)}`;
    case 'boolean':
      return `"bv":${r.value ? 'true' : 'false'}`;
    case 'opaque':
      return `"sv":${jsonString(encodeBase64(r.value as Uint8Array))}`;
    case 'objlnk':
      return `"ov":${jsonString(formatObjectLink(r.value as ObjectLink))}`;
    default:
      return `"sv":${jsonString(r.value as string)}`;
  }
}

function readEntry(ctx: DecodeContext, entry: JsonValue, index: number, bn: string, bt: number): void {
  if (!isJsonObject(entry)) ctx.fail(`entry ${index} is not a JSON object`);
  let n = '';
  let t = 0;
  let w: WireValue | undefined;
  const setValue = (v: WireValue): void => {
    if (w !== undefined) ctx.fail(`entry ${index} has both "${w.label}" and "${v.label}"`);
    w = v;
  };
  for (const [key, value] of entry as JsonObject) {
    switch (key) {
      case 'n':
        if (typeof value !== 'string') ctx.fail(`entry ${index}: "n" is not a string`);
        n = value;
        break;
      case 't':
        t = Number(number(ctx, value, `entry ${index}: "t"`));
        break;
      case 'v':
        setValue({ kind: 'number', label: 'v', num: number(ctx, value, `entry ${index}: "v"`) });
        break;
      case 'sv':
        if (typeof value !== 'string') ctx.fail(`entry ${index}: "sv" is not a string`);
        setValue({ kind: 'string', label: 'sv', text: value });
        break;
      case 'bv':
        if (typeof value !== 'boolean') ctx.fail(`entry ${index}: "bv" is not a boolean`);
        setValue({ kind: 'boolean', label: 'bv', bool: value });
        break;
      case 'ov':
        if (typeof value !== 'string') ctx.fail(`entry ${index}: "ov" is not a string`);
        setValue({ kind: 'objlnk', label: 'ov', text: value });
        break;
      default:
        if (key.endsWith('_')) ctx.fail(`entry ${index} has the must-understand key "${truncate(key)}"`);
    }
  }
  const name = bn + n;
  if (w === undefined) ctx.fail(`entry ${index} (${name || 'no name'}) carries no value`);
  const path = ctx.parseName(name, 'optional');
  const def = ctx.target(path);
  const { type, value } = typedValue(ctx, path, def, w, true);
  ctx.add(path, type, value, ctx.resolveTime(bt + t));
}

function number(ctx: DecodeContext, v: JsonValue | undefined, what: string): number | bigint {
  if (!(v instanceof JsonNumber)) return ctx.fail(`${what} is not a number`);
  const n = v.value();
  if (typeof n === 'number' && !Number.isFinite(n)) ctx.fail(`${what} ${truncate(v.text)} is out of range`);
  return n;
}
