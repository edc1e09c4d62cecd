import type { LwM2mPath } from '../model/index.js';

/**
 * The CoAP Content-Formats LwM2M uses (IANA CoAP Content-Formats registry; OMA LwM2M 1.1 Core
 * §7.4 and Table 7.4-1). These are the numbers edgedm emits.
 */
export const LwM2mContentFormat = {
  TEXT: 0,
  LINK: 40,
  OPAQUE: 42,
  SENML_JSON: 110,
  SENML_CBOR: 112,
  TLV: 11542,
  JSON: 11543,
} as const;

export type LwM2mContentFormat = (typeof LwM2mContentFormat)[keyof typeof LwM2mContentFormat];

/**
 * Numbers from the LwM2M 1.0 drafts, still sent by lwm2m-node-lib and old clients. Accepted
 * when decoding (as the format they stand for), never emitted.
 */
export const LEGACY_CONTENT_FORMATS: ReadonlyMap<number, LwM2mContentFormat> = new Map<number, LwM2mContentFormat>([
  [1541, LwM2mContentFormat.TEXT],
  [1542, LwM2mContentFormat.TLV],
  [1543, LwM2mContentFormat.JSON],
  [1544, LwM2mContentFormat.OPAQUE],
]);

export interface ContentFormatInfo {
  id: LwM2mContentFormat;
  /** The media type of the IANA registration. */
  mediaType: string;
  /** A short name for messages and logs. */
  name: string;
}

const INFO: Record<LwM2mContentFormat, ContentFormatInfo> = {
  0: { id: 0, mediaType: 'text/plain;charset=utf-8', name: 'text' },
  40: { id: 40, mediaType: 'application/link-format', name: 'link-format' },
  42: { id: 42, mediaType: 'application/octet-stream', name: 'opaque' },
  110: { id: 110, mediaType: 'application/senml+json', name: 'senml+json' },
  112: { id: 112, mediaType: 'application/senml+cbor', name: 'senml+cbor' },
  11542: { id: 11542, mediaType: 'application/vnd.oma.lwm2m+tlv', name: 'tlv' },
  11543: { id: 11543, mediaType: 'application/vnd.oma.lwm2m+json', name: 'lwm2m+json' },
};

/** The media types of the draft-era numbers, mapped to what they stand for. */
const LEGACY_MEDIA_TYPES: ReadonlyMap<string, LwM2mContentFormat> = new Map<string, LwM2mContentFormat>([
  ['application/vnd.oma.lwm2m+text', LwM2mContentFormat.TEXT],
  ['application/vnd.oma.lwm2m+opaque', LwM2mContentFormat.OPAQUE],
]);

/** The format a Content-Format number stands for (legacy numbers included); undefined when unknown. */
export function canonicalContentFormat(id: number): LwM2mContentFormat | undefined {
  if (Object.prototype.hasOwnProperty.call(INFO, id)) return id as LwM2mContentFormat;
  return LEGACY_CONTENT_FORMATS.get(id);
}

export function isLegacyContentFormat(id: number): boolean {
  return LEGACY_CONTENT_FORMATS.has(id);
}

/** Media type and name of a Content-Format number (a legacy number describes what it stands for). */
export function contentFormatInfo(id: number): ContentFormatInfo | undefined {
  const canonical = canonicalContentFormat(id);
  return canonical === undefined ? undefined : INFO[canonical];
}

/** The format of a media type name (`application/senml+cbor`); parameters other than charset are not matched. */
export function contentFormatOfMediaType(mediaType: string): LwM2mContentFormat | undefined {
  const m = mediaType.toLowerCase().replace(/\s+/g, '');
  if (m === 'text/plain') return LwM2mContentFormat.TEXT;
  for (const info of Object.values(INFO)) if (info.mediaType === m) return info.id;
  return LEGACY_MEDIA_TYPES.get(m);
}

/** What is known of a client's formats, from its Register request. */
export interface ClientFormats {
  /** The `lwm2m=` version of the Register request (`1.0`, `1.1`, `1.2`); absent means 1.0. */
  lwm2mVersion?: string;
  /** The formats it announced with `ct` on the `</>` link of its Register payload (LwM2M 1.1 §6.2.1). */
  announced?: readonly number[];
}

/** Formats that carry any content (object, instance, resource), in the order preferred for 1.1+ clients. */
const PREFERRED_V11: readonly LwM2mContentFormat[] = [
  LwM2mContentFormat.SENML_CBOR,
  LwM2mContentFormat.SENML_JSON,
  LwM2mContentFormat.TLV,
  LwM2mContentFormat.JSON,
];

/**
 * The format of a response (or, on the server, of the Accept option to send), in three rules:
 *
 * 1. An Accept option names the format: any format edgedm encodes, except core link format
 *    (Discover only) and text/opaque above resource level. A legacy number is answered in the
 *    format it stands for, under its current number. Anything else is undefined: answer 4.06.
 * 2. Without Accept, an LwM2M 1.1+ client gets SenML CBOR, or, when it announced formats and
 *    SenML CBOR is not among them, the first of SenML JSON, TLV, LwM2M JSON that it announced.
 * 3. Without Accept, an LwM2M 1.0 client (or one of unknown version) gets TLV, which 1.0 requires
 *    every client to support.
 */
export function chooseContentFormat(accept: number | undefined, path: LwM2mPath, client: ClientFormats = {}): LwM2mContentFormat | undefined {
  if (accept !== undefined) {
    const format = canonicalContentFormat(accept);
    if (format === undefined || format === LwM2mContentFormat.LINK) return undefined;
    if ((format === LwM2mContentFormat.TEXT || format === LwM2mContentFormat.OPAQUE) && !(path.isResource() || path.isResourceInstance())) {
      return undefined;
    }
    return format;
  }
  if (!isAtLeast11(client.lwm2mVersion)) return LwM2mContentFormat.TLV;
  const announced = (client.announced ?? []).map(canonicalContentFormat);
  if (announced.length === 0) return LwM2mContentFormat.SENML_CBOR;
  return PREFERRED_V11.find((f) => announced.includes(f)) ?? LwM2mContentFormat.SENML_CBOR;
}

function isAtLeast11(version: string | undefined): boolean {
  const m = /^(\d+)\.(\d+)$/.exec(version ?? '');
  if (!m) return false;
  const major = Number(m[1]);
  return major > 1 || (major === 1 && Number(m[2]) >= 1);
}

/**
 * The formats of a `ct` attribute value (`110`, or `"60 110 112 11543"` once unquoted);
 * tokens that are not Content-Format numbers (0..65535) are skipped.
 */
export function parseAnnouncedFormats(ct: string | undefined): number[] {
  if (ct === undefined) return [];
  return ct
    .trim()
    .split(/\s+/)
    .filter((t) => /^(0|[1-9]\d{0,4})$/.test(t))
    .map(Number)
    .filter((n) => n <= 0xffff);
}
