import { normaliseInteger, type ObjectLink } from '../model/index.js';
import {
  formatObjectLink,
  secondsOf,
  timeSeconds,
  typedValue,
  type DecodeContext,
  type EncodeContext,
  type TimedRecord,
  type WireValue,
} from './common.js';

/**
 * What SenML JSON (RFC 8428 §5) and SenML CBOR (§6) share in LwM2M 1.1 (Core §7.4.4, §7.4.5):
 * the record model, name and time resolution on decoding, and the choice of base name, names
 * and base times on encoding. The two codecs only translate their syntax to and from this.
 *
 * | LwM2M type | SenML value |
 * |---|---|
 * | integer, unsigned, float | `v` (number) |
 * | time | `v` (Unix seconds) |
 * | boolean | `vb` |
 * | string, corelnk | `vs` |
 * | opaque | `vd` (JSON: base64url without padding; CBOR: byte string) |
 * | objlnk | `vlo` (`"66:0"`; a string label in CBOR too) |
 */

/** One SenML record as read, before base values are applied. */
export interface SenmlIn {
  /** Position in the pack, for messages. */
  index: number;
  bn?: string;
  bt?: number;
  bver?: number;
  bv?: number | bigint;
  n?: string;
  t?: number;
  value?: WireValue;
}

/** The SenML version this implementation reads (RFC 8428 §4.4: the default, 10). */
export const SENML_VERSION = 10;

/**
 * Applies base name, base time and base value to each record in order (RFC 8428 §4.5),
 * resolves names to paths (name = base name + name, as plain string concatenation) and gives
 * each value the type of its resource.
 */
export function resolveSenml(ctx: DecodeContext, pack: readonly SenmlIn[]): TimedRecord[] {
  if (pack.length > ctx.maxRecords) ctx.fail(`${pack.length} records exceed the limit of ${ctx.maxRecords}`);
  let bn = '';
  let bt = 0;
  let bv: number | bigint | undefined;
  for (const r of pack) {
    if (r.bver !== undefined && (!Number.isInteger(r.bver) || r.bver < 1 || r.bver > SENML_VERSION)) {
      ctx.fail(`record ${r.index} asks for SenML version ${r.bver}; this reader implements ${SENML_VERSION}`);
    }
    if (r.bn !== undefined) bn = r.bn;
    if (r.bt !== undefined) bt = r.bt;
    if (r.bv !== undefined) bv = r.bv;
    const name = bn + (r.n ?? '');
    if (r.value === undefined) ctx.fail(`record ${r.index} (${name || 'no name'}) carries no value`);
    const path = ctx.parseName(name, 'required');
    const def = ctx.target(path);
    let w = r.value;
    if (w.kind === 'number' && bv !== undefined) w = { ...w, num: addNumbers(bv, w.num) };
    const { type, value } = typedValue(ctx, path, def, w);
    ctx.add(path, type, value, ctx.resolveTime(bt + (r.t ?? 0)));
  }
  return ctx.records;
}

function addNumbers(a: number | bigint, b: number | bigint): number | bigint {
  const integral = (x: number | bigint): boolean => typeof x === 'bigint' || Number.isInteger(x);
  if (integral(a) && integral(b)) return normaliseInteger(BigInt(a) + BigInt(b));
  return Number(a) + Number(b);
}

/** One SenML record to write, its fields in the order they are written. */
export interface SenmlOut {
  bn?: string;
  bt?: number;
  n?: string;
  value: SenmlOutValue;
}

export type SenmlOutValue =
  | { label: 'v'; num: number | bigint; float: boolean }
  | { label: 'vs'; text: string }
  | { label: 'vb'; bool: boolean }
  | { label: 'vd'; bytes: Uint8Array }
  | { label: 'vlo'; text: string };

/**
 * The records of a pack, in the order given. A pack is cut into groups of consecutive records
 * with the same time; the first record of each group carries the base name and, when the
 * group has a time, the base time (`bt: 0` after a timed group, so untimed values read as
 * "now" again). Without times this is one group: `[{bn, n, v}, {n, v}, …]` as in the 1.1 Core
 * examples and Leshan's encoder; with one time per record it is Leshan's timestamped form.
 */
export function senmlPack(ctx: EncodeContext, records: readonly TimedRecord[]): SenmlOut[] {
  const names = ctx.names(records);
  const out: SenmlOut[] = [];
  let previous: number | undefined | null = null; // null: no group yet
  let baseTime = 0;
  for (const r of records) {
    const time = r.time?.getTime();
    const rec: SenmlOut = { value: outValue(r) };
    if (previous === null || time !== previous) {
      rec.bn = names.bn;
      if (r.time !== undefined) baseTime = rec.bt = timeSeconds(r.time);
      else if (baseTime !== 0) baseTime = rec.bt = 0;
    }
    previous = time;
    const n = names.name(r);
    if (n !== undefined) rec.n = n;
    out.push(rec);
  }
  return out;
}

function outValue(r: TimedRecord): SenmlOutValue {
  switch (r.type) {
    case 'integer':
    case 'unsigned':
      return { label: 'v', num: r.value as number | bigint, float: false };
    case 'float':
      return { label: 'v', num: r.value as number, float: true };
    case 'time':
      return { label: 'v', num: secondsOf(r.value as Date), float: false };
    case 'boolean':
      return { label: 'vb', bool: r.value as boolean };
    case 'opaque':
      return { label: 'vd', bytes: r.value as Uint8Array };
    case 'objlnk':
      return { label: 'vlo', text: formatObjectLink(r.value as ObjectLink) };
    default:
      return { label: 'vs', text: r.value as string };
  }
}
