import {
  decodeBase64,
  DecodeContext,
  EncodeContext,
  encodeBase64Url,
  formatFloat,
  integerText,
  truncate,
  UTF8_ENCODER,
  type ContentCodec,
  type WireValue,
} from './common.js';
import { LwM2mContentFormat } from './content-format.js';
import { isJsonObject, JsonNumber, jsonString, JsonSyntaxError, parseJson, type JsonObject, type JsonValue } from './json.js';
import { resolveSenml, senmlPack, type SenmlIn, type SenmlOut } from './senml.js';

/**
 * SenML JSON (Content-Format 110), RFC 8428 §5 as LwM2M 1.1 Core §7.4.4 uses it:
 * `[{"bn":"/3/0/","n":"0","vs":"Open Mobile Alliance"},{"n":"9","v":100}]`.
 *
 * Decoding follows RFC 8428: labels ending in `_` that are not understood are refused, other
 * unknown labels (`u`, `bu`, `ut`, …) are ignored, `bver` above 10 is refused, `bv` is added
 * to `v`. An empty payload is an empty pack (Leshan does the same; OMA_LwM2M_for_Developers#494).
 */
export const senmlJsonCodec: ContentCodec = {
  format: LwM2mContentFormat.SENML_JSON,

  encode(records, path, options) {
    const ctx: EncodeContext = new EncodeContext('senml+json', path, options);
    ctx.check(records, true);
    const pack = senmlPack(ctx, records);
    return UTF8_ENCODER.encode(`[${pack.map((r) => writeRecord(ctx, r)).join(',')}]`);
  },

  decode(payload, path, options) {
    const ctx: DecodeContext = new DecodeContext('senml+json', path, options);
    ctx.checkPayload(payload);
    if (payload.length === 0) return [];
    const json = parseOrFail(ctx, payload);
    if (!Array.isArray(json)) ctx.fail('a SenML pack is a JSON array');
    const pack = json.map((r, index) => readRecord(ctx, r, index));
    return resolveSenml(ctx, pack);
  },
};

export function parseOrFail(ctx: DecodeContext, payload: Uint8Array): JsonValue {
  const text = ctx.utf8(payload, 'the payload');
  try {
    return parseJson(text);
  } catch (err) {
    if (err instanceof JsonSyntaxError) return ctx.fail(`not JSON: ${err.message}`);
    throw err;
  }
}

function writeRecord(ctx: EncodeContext, r: SenmlOut): string {
  const fields: string[] = [];
  if (r.bn !== undefined) fields.push(`"bn":${jsonString(r.bn)}`);
  if (r.bt !== undefined) fields.push(`"bt":${String(r.bt)}`);
  if (r.n !== undefined) fields.push(`"n":${jsonString(r.n)}`);
  const v = r.value;
  switch (v.label) {
    case 'v':
      fields.push(`"v":${v.float ? (formatFloat(v.num as number) ?? ctx.fail(`${String(v.num)} has no JSON form`)) : integerText(v.num)}`);
      break;
    case 'vs':
    case 'vlo':
      fields.push(`"${v.label}":${jsonString(v.text)}`);
      break;
    case 'vb':
      fields.push(`"vb":${v.bool}`);
      break;
    case 'vd':
      fields.push(`"vd":${jsonString(encodeBase64Url(v.bytes))}`);
      break;
  }
  return `{${fields.join(',')}}`;
}

function readRecord(ctx: DecodeContext, json: JsonValue, index: number): SenmlIn {
  if (!isJsonObject(json)) ctx.fail(`record ${index} is not a JSON object`);
  const r: SenmlIn = { index };
  const setValue = (w: WireValue): void => {
    if (r.value !== undefined) ctx.fail(`record ${index} has both "${r.value.label}" and "${w.label}"`);
    r.value = w;
  };
  for (const [label, value] of json) {
    switch (label) {
      case 'bn':
        r.bn = str(ctx, json, label, index);
        break;
      case 'n':
        r.n = str(ctx, json, label, index);
        break;
      case 'bt':
      case 't':
        r[label] = Number(num(ctx, json, label, index));
        break;
      case 'bver':
        r.bver = Number(num(ctx, json, label, index));
        break;
      case 'bv':
        r.bv = num(ctx, json, label, index);
        break;
      case 'v':
        setValue({ kind: 'number', label, num: num(ctx, json, label, index) });
        break;
      case 'vs':
        setValue({ kind: 'string', label, text: str(ctx, json, label, index) });
        break;
      case 'vlo':
        setValue({ kind: 'objlnk', label, text: str(ctx, json, label, index) });
        break;
      case 'vb':
        if (typeof value !== 'boolean') ctx.fail(`record ${index}: "vb" is not a boolean`);
        setValue({ kind: 'boolean', label, bool: value });
        break;
      case 'vd': {
        const text = str(ctx, json, label, index);
        const bytes = decodeBase64(text, 'any');
        if (!bytes) ctx.fail(`record ${index}: "vd" "${truncate(text)}" is not base64`);
        setValue({ kind: 'bytes', label, bytes });
        break;
      }
      default:
        if (label.endsWith('_')) ctx.fail(`record ${index} has the must-understand label "${truncate(label)}"`);
    }
  }
  return r;
}

function str(ctx: DecodeContext, o: JsonObject, label: string, index: number): string {
  const v = o.get(label);
  if (typeof v !== 'string') ctx.fail(`record ${index}: "${label}" is not a string`);
  return v;
}

function num(ctx: DecodeContext, o: JsonObject, label: string, index: number): number | bigint {
  const v = o.get(label);
  if (!(v instanceof JsonNumber)) ctx.fail(`record ${index}: "${label}" is not a number`);
  const n = v.value();
  if (typeof n === 'number' && !Number.isFinite(n)) ctx.fail(`record ${index}: "${label}" ${truncate(v.text)} is out of range`);
  return n;
}
