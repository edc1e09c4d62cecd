import { DtlsError } from './errors.js';
import { Reader, u16, u24, vec } from './reader.js';

/** Handshake message framing (RFC 6347 §4.2.2) and the bodies a PSK handshake uses. */
export const HandshakeType = {
  hello_request: 0,
  client_hello: 1,
  server_hello: 2,
  hello_verify_request: 3,
  certificate: 11,
  server_key_exchange: 12,
  certificate_request: 13,
  server_hello_done: 14,
  client_key_exchange: 16,
  finished: 20,
} as const;

export const HANDSHAKE_HEADER_LENGTH = 12;
/** Largest handshake message we reassemble: a PSK handshake has nothing near this. */
export const MAX_HANDSHAKE_MESSAGE = 16384;

export const ExtensionType = {
  server_name: 0,
  extended_master_secret: 23,
  renegotiation_info: 0xff01,
} as const;

export interface HandshakeFragment {
  msgType: number;
  length: number;
  messageSeq: number;
  fragmentOffset: number;
  fragmentLength: number;
  body: Buffer;
}

/** All handshake fragments in one record's plaintext. */
export function parseHandshakeFragments(data: Buffer): HandshakeFragment[] {
  const r = new Reader(data);
  const out: HandshakeFragment[] = [];
  while (r.remaining > 0) {
    const msgType = r.u8();
    const length = r.u24();
    const messageSeq = r.u16();
    const fragmentOffset = r.u24();
    const fragmentLength = r.u24();
    if (length > MAX_HANDSHAKE_MESSAGE) throw new DtlsError('decode_error', `handshake message of ${length} bytes`);
    if (fragmentOffset + fragmentLength > length) throw new DtlsError('decode_error', 'fragment past the end of its message');
    out.push({ msgType, length, messageSeq, fragmentOffset, fragmentLength, body: r.bytes(fragmentLength) });
  }
  return out;
}

export function encodeFragment(f: Omit<HandshakeFragment, 'fragmentLength'>): Buffer {
  return Buffer.concat([Buffer.from([f.msgType]), u24(f.length), u16(f.messageSeq), u24(f.fragmentOffset), u24(f.body.length), f.body]);
}

/** A whole message with its DTLS header, as it enters the handshake transcript. */
export function encodeHandshake(msgType: number, messageSeq: number, body: Buffer): Buffer {
  return encodeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: 0, body });
}

/** Splits a message into fragments whose encoding (header included) fits in `maxFragment` bytes. */
export function fragmentHandshake(msgType: number, messageSeq: number, body: Buffer, maxFragment: number): Buffer[] {
  const room = Math.max(1, maxFragment - HANDSHAKE_HEADER_LENGTH);
  if (body.length <= room) return [encodeHandshake(msgType, messageSeq, body)];
  const out: Buffer[] = [];
  for (let offset = 0; offset < body.length; offset += room) {
    out.push(encodeFragment({ msgType, length: body.length, messageSeq, fragmentOffset: offset, body: body.subarray(offset, offset + room) }));
  }
  return out;
}

export interface Extension {
  type: number;
  data: Buffer;
}

function parseExtensions(r: Reader): Extension[] {
  if (r.remaining === 0) return [];
  const block = new Reader(r.vector(2));
  const out: Extension[] = [];
  const seen = new Set<number>();
  while (block.remaining > 0) {
    const type = block.u16();
    if (seen.has(type)) throw new DtlsError('decode_error', `extension ${type} twice`);
    seen.add(type);
    out.push({ type, data: block.vector(2) });
  }
  r.end();
  return out;
}

function encodeExtensions(exts: Extension[]): Buffer {
  if (exts.length === 0) return Buffer.alloc(0);
  return vec(2, Buffer.concat(exts.map((e) => Buffer.concat([u16(e.type), vec(2, e.data)]))));
}

export interface ClientHello {
  clientVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cookie: Buffer;
  cipherSuites: number[];
  compressionMethods: Buffer;
  extensions: Extension[];
}

export function decodeClientHello(body: Buffer): ClientHello & { cookieInput: Buffer } {
  const r = new Reader(body);
  const clientVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vector(1, 0, 32);
  const cookie = r.vector(1, 0, 255);
  const suitesRaw = r.vector(2, 2, 65534);
  if (suitesRaw.length % 2 !== 0) throw new DtlsError('decode_error', 'odd cipher_suites length');
  const cipherSuites: number[] = [];
  for (let i = 0; i < suitesRaw.length; i += 2) cipherSuites.push(suitesRaw.readUInt16BE(i));
  const compressionMethods = r.vector(1, 1, 255);
  const extensions = parseExtensions(r);
  // What the cookie binds: everything a client must repeat in its second ClientHello.
  const cookieInput = Buffer.concat([u16(clientVersion), random, vec(1, sessionId), vec(2, suitesRaw), vec(1, compressionMethods)]);
  return { clientVersion, random, sessionId, cookie, cipherSuites, compressionMethods, extensions, cookieInput };
}

export function encodeClientHello(h: ClientHello): Buffer {
  const suites = Buffer.alloc(h.cipherSuites.length * 2);
  h.cipherSuites.forEach((s, i) => suites.writeUInt16BE(s, 2 * i));
  return Buffer.concat([u16(h.clientVersion), h.random, vec(1, h.sessionId), vec(1, h.cookie), vec(2, suites), vec(1, h.compressionMethods), encodeExtensions(h.extensions)]);
}

export interface ServerHello {
  serverVersion: number;
  random: Buffer;
  sessionId: Buffer;
  cipherSuite: number;
  compressionMethod: number;
  extensions: Extension[];
}

export function decodeServerHello(body: Buffer): ServerHello {
  const r = new Reader(body);
  const serverVersion = r.u16();
  const random = r.bytes(32);
  const sessionId = r.vector(1, 0, 32);
  const cipherSuite = r.u16();
  const compressionMethod = r.u8();
  const extensions = parseExtensions(r);
  return { serverVersion, random, sessionId, cipherSuite, compressionMethod, extensions };
}

export function encodeServerHello(h: ServerHello): Buffer {
  return Buffer.concat([u16(h.serverVersion), h.random, vec(1, h.sessionId), u16(h.cipherSuite), Buffer.from([h.compressionMethod]), encodeExtensions(h.extensions)]);
}

export function decodeHelloVerifyRequest(body: Buffer): { serverVersion: number; cookie: Buffer } {
  const r = new Reader(body);
  const serverVersion = r.u16();
  const cookie = r.vector(1, 0, 255);
  r.end();
  return { serverVersion, cookie };
}

export function encodeHelloVerifyRequest(serverVersion: number, cookie: Buffer): Buffer {
  return Buffer.concat([u16(serverVersion), vec(1, cookie)]);
}

/** ServerKeyExchange of plain PSK (RFC 4279 §2): the identity hint. */
export function decodePskServerKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body);
  const hint = r.vector(2);
  r.end();
  return hint;
}

/** ClientKeyExchange of plain PSK: the identity. */
export function decodePskClientKeyExchange(body: Buffer): Buffer {
  const r = new Reader(body);
  const identity = r.vector(2, 0, 65535);
  r.end();
  return identity;
}

export function encodePskIdentity(identity: Buffer): Buffer {
  return vec(2, identity);
}

export function decodeFinished(body: Buffer): Buffer {
  if (body.length !== 12) throw new DtlsError('decode_error', `Finished of ${body.length} bytes`);
  return body;
}

export function findExtension(exts: Extension[], type: number): Extension | undefined {
  return exts.find((e) => e.type === type);
}

/** renegotiation_info body: renegotiated_connection<0..255>. */
export function encodeRenegotiationInfo(verifyData: Buffer): Buffer {
  return vec(1, verifyData);
}

export function decodeRenegotiationInfo(data: Buffer): Buffer {
  const r = new Reader(data);
  const v = r.vector(1);
  r.end();
  return v;
}
