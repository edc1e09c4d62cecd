import type { Link } from '../model/index.js';
import { DEFAULT_MAX_CONTENT_BYTES, DEFAULT_MAX_RECORDS, truncate, UTF8_ENCODER } from './common.js';
import { ContentDecodeError, ContentEncodeError } from './errors.js';

/**
 * CoRE link format (RFC 6690, Content-Format 40): the Register/Update payload
 * `</>;rt="oma.lwm2m";ct=110,</1/0>,</3/0>;ver=1.1` and Discover responses
 * `</3/0>;pmin=10,</3/0/7>;dim=2`, read into and written from the model's `Link`.
 *
 * Reading follows RFC 6690 §2: `<URI-reference>` then `;name`, `;name=ptoken` or
 * `;name="quoted string"` (backslash escapes the next character). Whitespace is tolerated
 * around the commas between links only (some clients break long payloads). Values are kept
 * unquoted, so `ver="1.1"` and `ver=1.1` read the same.
 *
 * Writing quotes a value when it is not a ptoken, and always for `rt`, `if`, `anchor`,
 * `title`, `rel` and `rev`, whose RFC 6690 / RFC 8288 grammar is a quoted string; `ver`,
 * `ct`, `dim`, `pmin`… are written bare, as LwM2M clients send them.
 */

export interface LinkDecodeOptions {
  maxBytes?: number;
  maxLinks?: number;
  /** Attributes on one link. */
  maxAttributes?: number;
}

const FORMAT = 'link-format';
const PARMNAME_RE = /[A-Za-z0-9!#$&+\-.^_`|~]+/y;
const PTOKEN_RE = /[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]+/y;
const PTOKEN_ONLY_RE = /^[!#$%&'()*+\-./0-9:<=>?@A-Z[\]^_`a-z{|}~]+$/;
const PARMNAME_ONLY_RE = /^[A-Za-z0-9!#$&+\-.^_`|~]+$/;
const TARGET_RE = /^[^\s<>"\\\x00-\x1f\x7f]+$/;
const QUOTED_ATTRIBUTES = new Set(['rt', 'if', 'anchor', 'title', 'rel', 'rev']);

/** Decodes a link-format payload (UTF-8). An empty payload is no links. */
export function decodeLinks(payload: Uint8Array, options: LinkDecodeOptions = {}): Link[] {
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_CONTENT_BYTES;
  if (!(payload instanceof Uint8Array)) throw new ContentDecodeError(FORMAT, undefined, 'payload is not binary');
  if (payload.length > maxBytes) throw new ContentDecodeError(FORMAT, undefined, `${payload.length} bytes exceed the ${maxBytes}-byte limit`);
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(payload);
  } catch {
    throw new ContentDecodeError(FORMAT, undefined, 'the payload is not valid UTF-8');
  }
  return parseLinks(text, options);
}

export function parseLinks(text: string, options: LinkDecodeOptions = {}): Link[] {
  const maxLinks = options.maxLinks ?? DEFAULT_MAX_RECORDS;
  const maxAttributes = options.maxAttributes ?? 64;
  let pos = 0;
  const fail = (reason: string): never => {
    throw new ContentDecodeError(FORMAT, undefined, `${reason} at character ${pos}`);
  };
  const skipWhitespace = (): void => {
    while (pos < text.length && /[ \t\r\n]/.test(text[pos]!)) pos++;
  };
  const links: Link[] = [];
  skipWhitespace();
  if (pos === text.length) return links;
  for (;;) {
    if (text[pos] !== '<') fail('expected "<" to start a link');
    const close = text.indexOf('>', pos + 1);
    if (close < 0) fail('unterminated "<" target');
    const target = text.slice(pos + 1, close);
    if (!TARGET_RE.test(target)) fail(`"${truncate(target)}" is not a URI reference`);
    pos = close + 1;
    const attributes: Record<string, string | undefined> = Object.create(null) as Record<string, string | undefined>;
    let count = 0;
    while (text[pos] === ';') {
      pos++;
      PARMNAME_RE.lastIndex = pos;
      const name = PARMNAME_RE.exec(text)?.[0];
      if (name === undefined) return fail('expected an attribute name');
      pos += name.length;
      if (Object.prototype.hasOwnProperty.call(attributes, name)) fail(`attribute "${truncate(name)}" appears twice on <${truncate(target)}>`);
      if (++count > maxAttributes) fail(`more than ${maxAttributes} attributes on <${truncate(target)}>`);
      let value: string | undefined;
      if (text[pos] === '=') {
        pos++;
        if (text[pos] === '"') {
          pos++;
          let v = '';
          for (;;) {
            const c = text[pos];
            if (c === undefined) fail('unterminated quoted string');
            if (c === '"') break;
            if (c === '\\') {
              pos++;
              if (pos >= text.length) fail('unterminated quoted string');
            }
            v += text[pos];
            pos++;
          }
          pos++;
          value = v;
        } else {
          PTOKEN_RE.lastIndex = pos;
          const token = PTOKEN_RE.exec(text)?.[0];
          if (token === undefined) return fail(`attribute "${truncate(name)}" has no value after "="`);
          pos += token.length;
          value = token;
        }
      }
      attributes[name] = value;
    }
    links.push({ target, attributes: { ...attributes } });
    if (links.length > maxLinks) fail(`more than ${maxLinks} links`);
    skipWhitespace();
    if (pos === text.length) return links;
    if (text[pos] !== ',') fail('expected "," between links');
    pos++;
    skipWhitespace();
  }
}

/** Encodes links as a UTF-8 link-format payload. */
export function encodeLinks(links: readonly Link[]): Uint8Array {
  return UTF8_ENCODER.encode(formatLinks(links));
}

export function formatLinks(links: readonly Link[]): string {
  return links
    .map((link) => {
      if (typeof link?.target !== 'string' || !TARGET_RE.test(link.target)) {
        throw new ContentEncodeError(FORMAT, undefined, `"${truncate(String(link?.target))}" is not a URI reference`);
      }
      let out = `<${link.target}>`;
      for (const [name, value] of Object.entries(link.attributes ?? {})) {
        if (!PARMNAME_ONLY_RE.test(name)) throw new ContentEncodeError(FORMAT, link.target, `"${truncate(name)}" is not an attribute name`);
        if (value === undefined) out += `;${name}`;
        else if (typeof value !== 'string') throw new ContentEncodeError(FORMAT, link.target, `attribute "${name}" is not a string`);
        else if (QUOTED_ATTRIBUTES.has(name) || !PTOKEN_ONLY_RE.test(value)) out += `;${name}="${value.replace(/["\\]/g, '\\$&')}"`;
        else out += `;${name}=${value}`;
      }
      return out;
    })
    .join(',');
}
