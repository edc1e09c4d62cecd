import type { LwM2mPath } from '../model/index.js';
import type { ContentCodec, DecodeOptions, EncodeOptions, TimedRecord } from './common.js';
import { canonicalContentFormat, isLegacyContentFormat, LwM2mContentFormat } from './content-format.js';
import { ContentDecodeError, ContentEncodeError } from './errors.js';
import { lwm2mJsonCodec } from './lwm2m-json.js';
import { opaqueCodec } from './opaque.js';
import { senmlCborCodec } from './senml-cbor.js';
import { senmlJsonCodec } from './senml-json.js';
import { textCodec } from './text.js';
import { tlvCodec } from './tlv.js';

/**
 * LwM2M content formats: the model's records ⇄ the bytes of a CoAP payload. One codec per
 * format, each in its own file behind the ContentEncoder/ContentDecoder interfaces (Leshan's
 * split); nothing here knows CoAP. Link format (Register, Discover) is not record content and
 * has its own functions in link-format.ts.
 */
export type { ContentCodec, ContentDecoder, ContentEncoder, DecodeOptions, EncodeOptions, TimedRecord, WireValue } from './common.js';
export { DEFAULT_MAX_CONTENT_BYTES, DEFAULT_MAX_RECORDS } from './common.js';
export * from './content-format.js';
export * from './errors.js';
export * from './link-format.js';
export { lwm2mJsonCodec } from './lwm2m-json.js';
export { opaqueCodec } from './opaque.js';
export { senmlCborCodec } from './senml-cbor.js';
export { senmlJsonCodec } from './senml-json.js';
export { textCodec } from './text.js';
export { tlvCodec } from './tlv.js';

const CODECS: ReadonlyMap<number, ContentCodec> = new Map<number, ContentCodec>(
  [textCodec, opaqueCodec, tlvCodec, lwm2mJsonCodec, senmlJsonCodec, senmlCborCodec].map((c) => [c.format, c]),
);

/** The codec of a content format (a legacy number gets the codec of what it stands for). */
export function codecFor(format: number): ContentCodec | undefined {
  const canonical = canonicalContentFormat(format);
  return canonical === undefined ? undefined : CODECS.get(canonical);
}

/** Content formats that carry records (all but link format). */
export const RECORD_CONTENT_FORMATS: readonly LwM2mContentFormat[] = [...CODECS.keys()] as LwM2mContentFormat[];

/**
 * Encodes records for the request at `path` in `format`. Legacy draft-era numbers are refused:
 * edgedm never emits them (answer in the format they stand for, under its current number).
 */
export function encodeContent(format: number, records: readonly TimedRecord[], path: LwM2mPath, options?: EncodeOptions): Uint8Array {
  const codec = isLegacyContentFormat(format) ? undefined : CODECS.get(format);
  if (!codec) {
    const why = isLegacyContentFormat(format) ? `${format} is a legacy number; use ${canonicalContentFormat(format)}` : `${format} is not a content format that carries records`;
    throw new ContentEncodeError(String(format), path?.toString(), why);
  }
  return codec.encode(records, path, options);
}

/** Decodes the payload of a request or response at `path` that arrived in `format`. */
export function decodeContent(format: number, payload: Uint8Array, path: LwM2mPath, options?: DecodeOptions): TimedRecord[] {
  const codec = codecFor(format);
  if (!codec) throw new ContentDecodeError(String(format), path?.toString(), `content format ${format} is not one that carries records`);
  return codec.decode(payload, path, options);
}
