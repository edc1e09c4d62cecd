import { DtlsError } from './errors.js';
import { encodeHandshake, type HandshakeFragment } from './handshake-messages.js';

/** A handshake message reassembled and in order. */
export interface HandshakeMessage {
  msgType: number;
  messageSeq: number;
  body: Buffer;
  /** Epoch of the record that completed it. */
  epoch: number;
  /** The message as it enters the transcript (unfragmented header). */
  raw: Buffer;
}

interface Pending {
  msgType: number;
  length: number;
  body: Buffer;
  /** Bytes received, as sorted disjoint [start, end) ranges. */
  ranges: [number, number][];
  epoch: number;
}

/**
 * Reassembles handshake fragments (RFC 6347 §4.2.3) and hands out whole messages in message_seq
 * order. Fragments may overlap, repeat and come out of order; only a few messages ahead of the
 * next expected one are buffered, so a peer cannot make us hold much.
 */
export class FragmentReassembly {
  static readonly WINDOW = 4;
  private next = 0;
  private readonly pending = new Map<number, Pending>();

  constructor(first = 0) {
    this.next = first;
  }

  get nextSeq(): number {
    return this.next;
  }

  /**
   * Adds a fragment. Returns 'old' for a message already delivered (the peer retransmits: we may
   * have to as well), 'ignored' for one too far ahead, otherwise the messages now complete.
   */
  add(f: HandshakeFragment, epoch: number): HandshakeMessage[] | 'old' | 'ignored' {
    if (f.messageSeq < this.next) return 'old';
    if (f.messageSeq >= this.next + FragmentReassembly.WINDOW) return 'ignored';
    let p = this.pending.get(f.messageSeq);
    if (!p) {
      p = { msgType: f.msgType, length: f.length, body: Buffer.alloc(f.length), ranges: [], epoch };
      this.pending.set(f.messageSeq, p);
    } else if (p.msgType !== f.msgType || p.length !== f.length) {
      throw new DtlsError('illegal_parameter', `fragments of message ${f.messageSeq} disagree on type or length`);
    }
    f.body.copy(p.body, f.fragmentOffset);
    p.ranges = merge([...p.ranges, [f.fragmentOffset, f.fragmentOffset + f.fragmentLength]]);
    p.epoch = epoch;
    const out: HandshakeMessage[] = [];
    for (;;) {
      const q = this.pending.get(this.next);
      if (!q || !complete(q)) break;
      this.pending.delete(this.next);
      out.push({ msgType: q.msgType, messageSeq: this.next, body: q.body, epoch: q.epoch, raw: encodeHandshake(q.msgType, this.next, q.body) });
      this.next++;
    }
    return out;
  }
}

function complete(p: Pending): boolean {
  if (p.length === 0) return true;
  return p.ranges.length === 1 && p.ranges[0]![0] === 0 && p.ranges[0]![1] === p.length;
}

function merge(ranges: [number, number][]): [number, number][] {
  ranges.sort((a, b) => a[0] - b[0]);
  const out: [number, number][] = [];
  for (const r of ranges) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1]) last[1] = Math.max(last[1], r[1]);
    else out.push([r[0], r[1]]);
  }
  return out;
}
