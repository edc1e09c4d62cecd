import { DtlsError } from './errors.js';
import { Reader } from './reader.js';

/** DTLS record layer framing (RFC 6347 §4.1). */
export const ContentType = { changeCipherSpec: 20, alert: 21, handshake: 22, applicationData: 23 } as const;

/** DTLS 1.2 on the wire; DTLS 1.0 (0xfeff) is accepted in record headers of a first ClientHello. */
export const DTLS_1_2 = 0xfefd;
export const DTLS_1_0 = 0xfeff;

export const RECORD_HEADER_LENGTH = 13;
/** 2^14 plaintext plus the largest expansion we allow (RFC 5246 §6.2.3: 2048). */
export const MAX_RECORD_FRAGMENT = 16384 + 2048;
/** Largest sequence number of an epoch (48 bits). */
export const MAX_SEQUENCE = 2 ** 48 - 1;

export interface DtlsRecord {
  type: number;
  version: number;
  epoch: number;
  /** 48-bit record sequence number (exact in a JS number). */
  seq: number;
  fragment: Buffer;
}

function isKnownType(type: number): boolean {
  return type >= ContentType.changeCipherSpec && type <= ContentType.applicationData;
}

/**
 * Splits a datagram into records. A record whose header does not parse (unknown type, bad
 * version, length past the datagram) ends the parse: the rest of the datagram is unusable.
 * `malformed` counts what was dropped.
 */
export function parseRecords(datagram: Buffer): { records: DtlsRecord[]; malformed: number } {
  const records: DtlsRecord[] = [];
  const r = new Reader(datagram);
  while (r.remaining > 0) {
    if (r.remaining < RECORD_HEADER_LENGTH) return { records, malformed: 1 };
    const type = r.u8();
    const version = r.u16();
    const epoch = r.u16();
    const seq = r.u48();
    const length = r.u16();
    if (!isKnownType(type) || (version !== DTLS_1_2 && version !== DTLS_1_0) || length > MAX_RECORD_FRAGMENT || length > r.remaining) {
      return { records, malformed: 1 };
    }
    records.push({ type, version, epoch, seq, fragment: r.bytes(length) });
  }
  return { records, malformed: 0 };
}

export function recordHeader(type: number, version: number, epoch: number, seq: number, length: number): Buffer {
  if (seq > MAX_SEQUENCE) throw new DtlsError('internal_error', 'record sequence number exhausted');
  const h = Buffer.alloc(RECORD_HEADER_LENGTH);
  h[0] = type;
  h.writeUInt16BE(version, 1);
  h.writeUInt16BE(epoch, 3);
  h.writeUIntBE(seq, 5, 6);
  h.writeUInt16BE(length, 11);
  return h;
}

export function encodeRecord(record: DtlsRecord): Buffer {
  return Buffer.concat([recordHeader(record.type, record.version, record.epoch, record.seq, record.fragment.length), record.fragment]);
}

/** The 8-byte seq_num of the MAC/AEAD input: epoch (16 bits) then sequence number (48 bits). */
export function sequenceBytes(epoch: number, seq: number): Buffer {
  const b = Buffer.alloc(8);
  b.writeUInt16BE(epoch, 0);
  b.writeUIntBE(seq, 2, 6);
  return b;
}
