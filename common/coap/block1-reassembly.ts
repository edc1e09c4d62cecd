import type { RemoteInfo } from 'node:dgram';
import type { IncomingMessage, OutgoingMessage } from 'coap';
import { generate, type NamedOption, type Packet, type ParsedPacket } from 'coap-packet';
import type { Logger } from '../logger.js';
import { blockSize, decodeBlock, decodeUint, encodeBlock, encodeUint, MAX_SZX, type BlockOption } from '../../protocol/coap/index.js';
import { block1BodyKey, isRequestTag, peerKey } from './block1-body-key.js';
import { RecentMessages } from './block1-recent-messages.js';
import { emptyAck, errorReply, replyTo } from './block1-replies.js';

export interface Block1Limits {
  /** Largest body accepted; a larger one gets 4.13 with Size1 (RFC 7959 §2.9.3). */
  maxBodyBytes: number;
  /** Bodies being reassembled at once on this node; one more gets 5.03 with Max-Age. */
  maxConcurrent: number;
  /** A reassembly without a new block for this long is dropped. */
  idleTimeoutMs: number;
  /** Largest block size exponent accepted; a client sending larger blocks is asked for these. */
  maxSzx: number;
  /** How long a message ID is remembered to answer its retransmissions alike. */
  duplicateLifetimeMs: number;
  /** At most this many remembered message IDs. */
  maxRecentMessages: number;
}

/** EXCHANGE_LIFETIME with the default transmission parameters (RFC 7252 §4.8.2). */
const EXCHANGE_LIFETIME_MS = 247_000;

export const DEFAULT_BLOCK1_LIMITS: Block1Limits = {
  maxBodyBytes: 1 << 20,
  maxConcurrent: 32,
  idleTimeoutMs: EXCHANGE_LIFETIME_MS,
  maxSzx: MAX_SZX,
  duplicateLifetimeMs: EXCHANGE_LIFETIME_MS,
  maxRecentMessages: 4096,
};

export interface Block1Io {
  /** Sends an answer datagram to the peer. */
  send(datagram: Buffer, peer: RemoteInfo): void;
  /** Hands a whole request, as one datagram, to the CoAP server; must dispatch synchronously. */
  deliver(datagram: Buffer, peer: RemoteInfo): void;
  log: Logger;
  /** The server's piggyback delay: after it, a pending final block is answered with an empty ACK. */
  piggybackReplyMs: number;
}

interface Reassembly {
  key: string;
  chunks: Buffer[];
  received: number;
  lastActive: number;
  timer: NodeJS.Timeout;
}

/** The final block being handed over: its response gets Block1 and is remembered for duplicates. */
interface Handover {
  peer: string;
  messageId: number;
  token: Buffer;
  block1: Buffer;
  recentKey: string;
}

/** A refusal: the code, why (for the log and the diagnostic payload), and options it carries. */
class Refusal {
  constructor(
    readonly code: string,
    readonly reason: string,
    readonly options: NamedOption[] = [],
  ) {}
}

const isRequestCode = (code: string) => /^0\.(0[1-9]|[12]\d|3[01])$/.test(code);

/**
 * Server-side Block1 (RFC 7959 §2.5): blocks of one request body are collected here, keyed by
 * peer, method, request URI and Request-Tag (RFC 9175) rather than by token, and only the whole
 * body goes on to the CoAP server, as one request without Block1. The coap library keys blocks by
 * token and so fails libcoap 4.3 clients, which change the token with every block.
 *
 * Each non-final block is answered here with 2.31 Continue; blocks must come in order (4.08
 * otherwise, §2.9.2); bodies are capped in size (4.13 + Size1) and in number (5.03 + Max-Age),
 * and idle ones dropped. A retransmitted message ID gets the answer it got before.
 */
export class Block1Reassembly {
  private readonly limits: Block1Limits;
  private readonly bodies = new Map<string, Reassembly>();
  private readonly recent: RecentMessages;
  private handover: Handover | undefined;

  constructor(
    private readonly io: Block1Io,
    limits: Partial<Block1Limits> = {},
  ) {
    this.limits = { ...DEFAULT_BLOCK1_LIMITS, ...limits };
    this.recent = new RecentMessages(this.limits.duplicateLifetimeMs, this.limits.maxRecentMessages);
  }

  /** Bodies being reassembled now. */
  get pending(): number {
    return this.bodies.size;
  }

  /** True when `packet` was a Block1 request and has been dealt with here; false: not ours. */
  intercept(packet: ParsedPacket, peer: RemoteInfo): boolean {
    if (!isRequestCode(packet.code)) return false;
    const block1 = packet.options.filter((o) => o.name === 'Block1');
    if (block1.length === 0) return false;
    const recentKey = `${peerKey(peer)}/${packet.messageId}`;
    const seen = this.recent.get(recentKey);
    if (seen) {
      this.answerDuplicate(packet, peer, recentKey);
      return true;
    }
    let refusal: Refusal | undefined;
    try {
      refusal = this.accept(packet, peer, block1.map((o) => o.value), recentKey);
    } catch (err) {
      this.io.log.warn({ err: (err as Error).message }, 'CoAP Block1 request failed');
      refusal = new Refusal('5.00', 'block-wise request failed');
    }
    if (refusal) {
      this.io.log.debug({ peer: `${peer.address}:${peer.port}`, code: refusal.code, reason: refusal.reason }, 'CoAP Block1 block refused');
      this.answer(peer, recentKey, errorReply(packet, refusal.code, refusal.reason, refusal.options));
    }
    return true;
  }

  /**
   * Called for every request the server dispatches, before the handler: the response to a
   * reassembled request carries Block1 (its num, M=0, RFC 7959 §2.3), and is remembered so a
   * retransmitted final block gets it again.
   */
  prepareResponse(req: IncomingMessage, res: OutgoingMessage): void {
    const h = this.handover;
    if (!h || peerKey(req.rsinfo) !== h.peer || req._packet.messageId !== h.messageId || !h.token.equals(req._packet.token ?? Buffer.alloc(0))) return;
    this.handover = undefined;
    res.setOption('Block1', h.block1);
    const send = res._send;
    res._send = (message, packet) => {
      this.rememberResponse(h.recentKey, packet);
      send(message, packet);
    };
  }

  close(): void {
    for (const body of this.bodies.values()) clearTimeout(body.timer);
    this.bodies.clear();
    this.recent.clear();
  }

  // ---- one block ---------------------------------------------------------------------------

  /** Takes one block: answers it, hands the whole body over, or says why not. */
  private accept(packet: ParsedPacket, peer: RemoteInfo, block1: Buffer[], recentKey: string): Refusal | undefined {
    if (block1.length > 1) return new Refusal('4.02', 'Block1 option repeated');
    const block = decodeBlock(block1[0]!);
    if (!block) return new Refusal('4.02', 'malformed Block1 option');
    if (block.szx > MAX_SZX) return new Refusal('4.00', 'Block1 SZX 7 (BERT) is not available over UDP');
    const size = blockSize(block.szx);
    const payload = packet.payload;
    if (block.more ? payload.length !== size : payload.length > size) return new Refusal('4.00', `Block1 block ${block.num} carries ${payload.length} bytes, not ${size}`);

    const key = block1BodyKey(packet, peer);
    const offset = block.num * size;
    let body = this.bodies.get(key);
    if (body && block.num === 0) {
      // The client started over (RFC 7959 §2.5): what it sent before is void.
      this.drop(body, 'restarted by the client');
      body = undefined;
    }
    if (!body && block.num !== 0) return new Refusal('4.08', `Block1 block ${block.num} without the blocks before it`);
    if (body && offset !== body.received) {
      this.drop(body, 'block out of order');
      return new Refusal('4.08', `Block1 block ${block.num} at byte ${offset}, expected byte ${body.received}`);
    }
    const size1 = packet.options.find((o) => o.name === 'Size1');
    const announced = size1 && size1.value.length <= 4 ? decodeUint(size1.value) : 0;
    if (offset + payload.length > this.limits.maxBodyBytes || announced > this.limits.maxBodyBytes) {
      if (body) this.drop(body, 'body too large');
      return new Refusal('4.13', `request body larger than ${this.limits.maxBodyBytes} bytes`, [{ name: 'Size1', value: encodeUint(this.limits.maxBodyBytes) }]);
    }
    if (!body && !block.more) {
      this.handOver(packet, peer, payload, block, recentKey); // the whole body in one block
      return undefined;
    }
    if (!body) {
      const busy = this.refuseWhenBusy();
      if (busy) return busy;
      body = this.start(key);
    }
    body.chunks.push(Buffer.from(payload));
    body.received += payload.length;
    body.lastActive = Date.now();
    body.timer.refresh();
    if (!block.more) {
      this.drop(body);
      this.handOver(packet, peer, Buffer.concat(body.chunks, body.received), block, recentKey);
      return undefined;
    }
    // Ask for smaller blocks when the client's are larger than ours (§2.3): all its bytes are
    // kept, and the answer names the last of our blocks they fill, so the next block's offset
    // is what it would have been either way.
    const szx = Math.min(block.szx, this.limits.maxSzx);
    const num = body.received / blockSize(szx) - 1;
    this.answer(peer, recentKey, replyTo(packet, '2.31', [{ name: 'Block1', value: encodeBlock({ num, more: true, szx }) }]));
    return undefined;
  }

  /** 5.03 with Max-Age (when the stalest body expires) when no more bodies fit. */
  private refuseWhenBusy(): Refusal | undefined {
    if (this.bodies.size < this.limits.maxConcurrent) return undefined;
    const oldest = Math.min(...[...this.bodies.values()].map((b) => b.lastActive));
    const retryAfter = Math.max(1, Math.ceil((oldest + this.limits.idleTimeoutMs - Date.now()) / 1000));
    return new Refusal('5.03', `${this.bodies.size} block-wise requests in progress`, [{ name: 'Max-Age', value: encodeUint(retryAfter) }]);
  }

  private start(key: string): Reassembly {
    const body: Reassembly = { key, chunks: [], received: 0, lastActive: Date.now(), timer: undefined as unknown as NodeJS.Timeout };
    body.timer = setTimeout(() => this.drop(body, 'idle'), this.limits.idleTimeoutMs);
    body.timer.unref();
    this.bodies.set(key, body);
    return body;
  }

  private drop(body: Reassembly, why?: string): void {
    clearTimeout(body.timer);
    if (this.bodies.get(body.key) === body) this.bodies.delete(body.key);
    if (why) this.io.log.debug({ body: body.key, received: body.received, why }, 'CoAP Block1 reassembly dropped');
  }

  // ---- the whole request -------------------------------------------------------------------

  /**
   * The final block completes the body: the server gets it as one request (the last block's
   * message ID, token and options, without Block1, Size1 and Request-Tag) through its own
   * datagram path, so it answers, piggybacks, retransmits and observes as for any request.
   */
  private handOver(packet: ParsedPacket, peer: RemoteInfo, body: Buffer, block: BlockOption, recentKey: string): void {
    const options = packet.options.filter((o) => o.name !== 'Block1' && o.name !== 'Size1' && !isRequestTag(o.name));
    const whole = generate(
      { code: packet.code, confirmable: packet.confirmable, messageId: packet.messageId, token: packet.token, options, payload: body },
      // Not a wire datagram: it only travels from here to the server's parser.
      Number.MAX_SAFE_INTEGER,
    );
    this.recent.set(recentKey, { kind: 'delegated', since: Date.now() });
    this.handover = {
      peer: peerKey(peer),
      messageId: packet.messageId,
      token: packet.token,
      block1: encodeBlock({ num: block.num, more: false, szx: block.szx }),
      recentKey,
    };
    try {
      this.io.deliver(whole, peer);
    } finally {
      this.handover = undefined;
    }
  }

  /** What the server sent in answer to a reassembled request, for its final block's duplicates. */
  private rememberResponse(recentKey: string, packet: Packet): void {
    const seen = this.recent.get(recentKey);
    if (seen?.kind !== 'delegated' || seen.reply || seen.separate) return;
    if (!packet.ack) {
      seen.separate = true; // the empty ACK went first; the response is retransmitted by the server
      return;
    }
    try {
      const payload = packet.payload as unknown as { slice(): Buffer } | Buffer | undefined;
      seen.reply = generate({ ...packet, options: [...(packet.options ?? [])], payload: Buffer.isBuffer(payload) ? payload : payload?.slice() });
    } catch {
      seen.separate = true; // not encodable: the server fails it too; an empty ACK is all we can repeat
    }
  }

  // ---- answers -----------------------------------------------------------------------------

  private answer(peer: RemoteInfo, recentKey: string, reply: Buffer): void {
    this.recent.set(recentKey, { kind: 'answered', reply });
    this.io.send(reply, peer);
  }

  /**
   * A message ID seen before (RFC 7252 §4.5): a Confirmable one gets what it got the first time;
   * a Non-confirmable one is ignored. A final block whose response is not out yet gets an empty
   * ACK once the server's piggyback delay is over (the server has sent one then), else nothing.
   */
  private answerDuplicate(packet: ParsedPacket, peer: RemoteInfo, recentKey: string): void {
    const seen = this.recent.get(recentKey)!;
    const where = { peer: `${peer.address}:${peer.port}`, messageId: packet.messageId };
    if (!packet.confirmable) {
      this.io.log.debug(where, 'duplicate CoAP Block1 message ignored');
      return;
    }
    let reply: Buffer | undefined;
    if (seen.kind === 'answered') reply = seen.reply;
    else if (seen.reply) reply = seen.reply;
    else if (seen.separate || Date.now() - seen.since >= this.io.piggybackReplyMs) reply = emptyAck(packet.messageId);
    this.io.log.debug({ ...where, answered: reply !== undefined }, 'duplicate CoAP Block1 message');
    if (reply) this.io.send(reply, peer);
  }
}
