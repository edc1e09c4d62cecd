// CBOR library: cborg (https://github.com/rvagg/cborg). Chosen over cbor-x because it is pure
// JavaScript with no dependencies and no install step (cbor-x pulls an optional native
// addon, cbor-extract), ships ES modules with TypeScript types and runs on Node 20, and is
// strict where a decoder of untrusted input should be: it can refuse duplicate map keys,
// indefinite lengths, `undefined` and unknown tags, and reports trailing bytes. Its encoder
// keeps a Map's insertion order with a custom mapSorter, which byte-exact SenML needs.
import { decode as cborDecode, encode as cborEncode, Token, Type, type TagDecodeControl } from 'cborg';
import { DecodeContext, EncodeContext, type ContentCodec, type WireValue } from './common.js';
import { LwM2mContentFormat } from './content-format.js';
import { resolveSenml, senmlPack, type SenmlIn, type SenmlOut } from './senml.js';

/**
 * SenML CBOR (Content-Format 112), RFC 8428 §6 as LwM2M 1.1 Core §7.4.5 uses it: an array of
 * maps with integer labels (−1 bver, −2 bn, −3 bt, −5 bv, 0 n, 2 v, 3 vs, 4 vb, 6 t, 8 vd)
 * and the text label "vlo" for object links.
 *
 * Encoding writes each map's labels in the order bn, bt, n, value (as the 1.1 Core examples
 * and Leshan do), integers as CBOR integers and floats in their shortest exact form (RFC 8949
 * §4.1 preferred serialisation: half, single or double precision).
 *
 * Decoding takes labels in any order and refuses what is not a SenML pack: another top-level
 * item, bytes after it, indefinite lengths (as Wakaama does), duplicate labels, tags other
 * than 4 (decimal fractions, which Leshan's encoder uses for times), text labels ending in `_`.
 * Unknown integer labels and units (`u`, `bu`, `ut`, `s`, `bs`) are ignored.
 */
export const senmlCborCodec: ContentCodec = {
  format: LwM2mContentFormat.SENML_CBOR,

  encode(records, path, options) {
    const ctx: EncodeContext = new EncodeContext('senml+cbor', path, options);
    ctx.check(records, true);
    const pack = senmlPack(ctx, records).map(toMap);
    return new Uint8Array(cborEncode(pack, ENCODE_OPTIONS));
  },

  decode(payload, path, options) {
    const ctx: DecodeContext = new DecodeContext('senml+cbor', path, options);
    ctx.checkPayload(payload);
    if (payload.length === 0) return [];
    let item: unknown;
    try {
      item = cborDecode(payload, DECODE_OPTIONS);
    } catch (err) {
      return ctx.fail(`not CBOR: ${(err as Error).message.replace(/^CBOR decode error: /, '')}`);
    }
    if (!Array.isArray(item)) ctx.fail('a SenML pack is a CBOR array');
    const pack = item.map((r: unknown, index: number) => readRecord(ctx, r, index));
    return resolveSenml(ctx, pack);
  },
};

const LABEL = { bver: -1, bn: -2, bt: -3, bu: -4, bv: -5, bs: -6, n: 0, u: 1, v: 2, vs: 3, vb: 4, s: 5, t: 6, ut: 7, vd: 8 } as const;

/** A float to be written as a CBOR float even when its value is integral (JS numbers cannot say). */
class CborFloat {
  constructor(readonly value: number) {}
}

const ENCODE_OPTIONS = {
  // Keep each map's insertion order (Array.prototype.sort is stable).
  mapSorter: () => 0,
  typeEncoders: {
    Object: (obj: unknown) => (obj instanceof CborFloat ? [new Token(Type.float, obj.value)] : null),
  },
};

const DECODE_OPTIONS = {
  useMaps: true,
  rejectDuplicateMapKeys: true,
  allowIndefinite: false,
  allowUndefined: false,
  tags: { 4: decimalFraction },
};

/** RFC 8949 §3.4.4 decimal fraction [exponent, mantissa], as a number. */
function decimalFraction(decode: TagDecodeControl): number {
  const v = decode();
  if (!Array.isArray(v) || v.length !== 2 || !v.every((x) => typeof x === 'number' || typeof x === 'bigint')) {
    throw new Error('a decimal fraction (tag 4) is not [exponent, mantissa]');
  }
  const [exponent, mantissa] = v as [number | bigint, number | bigint];
  return Number(mantissa) * 10 ** Number(exponent);
}

function toMap(r: SenmlOut): Map<number | string, unknown> {
  const m = new Map<number | string, unknown>();
  if (r.bn !== undefined) m.set(LABEL.bn, r.bn);
  if (r.bt !== undefined) m.set(LABEL.bt, Number.isInteger(r.bt) ? r.bt : new CborFloat(r.bt));
  if (r.n !== undefined) m.set(LABEL.n, r.n);
  const v = r.value;
  switch (v.label) {
    case 'v':
      m.set(LABEL.v, v.float ? new CborFloat(v.num as number) : v.num);
      break;
    case 'vs':
      m.set(LABEL.vs, v.text);
      break;
    case 'vb':
      m.set(LABEL.vb, v.bool);
      break;
    case 'vd':
      m.set(LABEL.vd, v.bytes);
      break;
    case 'vlo':
      m.set('vlo', v.text);
      break;
  }
  return m;
}

function readRecord(ctx: DecodeContext, item: unknown, index: number): SenmlIn {
  if (!(item instanceof Map)) ctx.fail(`record ${index} is not a CBOR map`);
  const r: SenmlIn = { index };
  const setValue = (w: WireValue): void => {
    if (r.value !== undefined) ctx.fail(`record ${index} has both "${r.value.label}" and "${w.label}"`);
    r.value = w;
  };
  const str = (v: unknown, label: string): string => (typeof v === 'string' ? v : ctx.fail(`record ${index}: ${label} is not a text string`));
  const num = (v: unknown, label: string): number | bigint => (typeof v === 'number' || typeof v === 'bigint' ? v : ctx.fail(`record ${index}: ${label} is not a number`));
  for (const [key, value] of item as Map<unknown, unknown>) {
    switch (key) {
      case LABEL.bn:
        r.bn = str(value, 'bn (-2)');
        break;
      case LABEL.n:
        r.n = str(value, 'n (0)');
        break;
      case LABEL.bt:
        r.bt = Number(num(value, 'bt (-3)'));
        break;
      case LABEL.t:
        r.t = Number(num(value, 't (6)'));
        break;
      case LABEL.bver:
        r.bver = Number(num(value, 'bver (-1)'));
        break;
      case LABEL.bv:
        r.bv = num(value, 'bv (-5)');
        break;
      case LABEL.v:
        setValue({ kind: 'number', label: 'v', num: num(value, 'v (2)') });
        break;
      case LABEL.vs:
        setValue({ kind: 'string', label: 'vs', text: str(value, 'vs (3)') });
        break;
      case LABEL.vb:
        if (typeof value !== 'boolean') ctx.fail(`record ${index}: vb (4) is not a boolean`);
        setValue({ kind: 'boolean', label: 'vb', bool: value });
        break;
      case LABEL.vd:
        if (!(value instanceof Uint8Array)) ctx.fail(`record ${index}: vd (8) is not a byte string`);
        setValue({ kind: 'bytes', label: 'vd', bytes: new Uint8Array(value) });
        break;
      case 'vlo':
        setValue({ kind: 'objlnk', label: 'vlo', text: str(value, 'vlo') });
        break;
      default:
        if (typeof key === 'string' && key.endsWith('_')) ctx.fail(`record ${index} has the must-understand label "${key}"`);
        if (typeof key !== 'string' && typeof key !== 'number' && typeof key !== 'bigint') ctx.fail(`record ${index} has a label that is neither an integer nor a text string`);
    }
  }
  return r;
}
