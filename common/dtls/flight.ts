import type { RecordProtection } from './cipher-suites.js';
import { fragmentHandshake } from './handshake-messages.js';
import { ContentType, DTLS_1_2, RECORD_HEADER_LENGTH, recordHeader } from './record.js';

/** One message of a flight: a handshake message (unfragmented) or a ChangeCipherSpec. */
export type FlightItem =
  | { kind: 'handshake'; epoch: number; msgType: number; messageSeq: number; body: Buffer }
  | { kind: 'ccs'; epoch: number };

/** What a flight needs of the record layer: the protection and next sequence number of an epoch. */
export interface EpochWriter {
  protection(epoch: number): RecordProtection;
  nextSeq(epoch: number): number;
}

/**
 * Encodes a flight into datagrams no larger than `mtu`: handshake messages are fragmented so each
 * record fits, and records are packed several to a datagram. Each (re)transmission takes fresh
 * record sequence numbers; message_seq and fragment offsets stay the same (RFC 6347 §4.2.4).
 */
export function encodeFlight(items: FlightItem[], writer: EpochWriter, mtu: number, version = DTLS_1_2): Buffer[] {
  const records: Buffer[] = [];
  const emit = (type: number, epoch: number, plaintext: Buffer) => {
    const seq = writer.nextSeq(epoch);
    const fragment = writer.protection(epoch).encrypt(type, version, epoch, seq, plaintext);
    records.push(Buffer.concat([recordHeader(type, version, epoch, seq, fragment.length), fragment]));
  };
  for (const item of items) {
    if (item.kind === 'ccs') {
      emit(ContentType.changeCipherSpec, item.epoch, Buffer.from([1]));
      continue;
    }
    const room = mtu - RECORD_HEADER_LENGTH - writer.protection(item.epoch).overhead;
    for (const fragment of fragmentHandshake(item.msgType, item.messageSeq, item.body, room)) emit(ContentType.handshake, item.epoch, fragment);
  }
  const datagrams: Buffer[] = [];
  let current: Buffer[] = [];
  let size = 0;
  for (const r of records) {
    if (size > 0 && size + r.length > mtu) {
      datagrams.push(Buffer.concat(current));
      current = [];
      size = 0;
    }
    current.push(r);
    size += r.length;
  }
  if (current.length > 0) datagrams.push(Buffer.concat(current));
  return datagrams;
}
