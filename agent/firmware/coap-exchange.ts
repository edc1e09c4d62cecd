import { randomBytes, randomInt } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { generate, parse, type OptionName, type ParsedPacket } from 'coap-packet';

/** Where a `coap://host:port/a/b?q` URI points, resolved. */
export interface CoapTarget {
  address: string;
  family: 4 | 6;
  port: number;
  path: string[];
  query: string[];
}

export const COAP_DEFAULT_PORT = 5683;

export async function resolveCoapUri(uri: string): Promise<CoapTarget> {
  const url = new URL(uri);
  if (url.protocol !== 'coap:') throw new Error(`not a coap: URI (${url.protocol})`);
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  const { address, family } = await lookup(host);
  return {
    address,
    family: family === 6 ? 6 : 4,
    port: url.port ? Number(url.port) : COAP_DEFAULT_PORT,
    path: url.pathname.split('/').filter(Boolean).map((s) => decodeURIComponent(s)),
    query: url.search ? url.search.slice(1).split('&').map((s) => decodeURIComponent(s)) : [],
  };
}

export interface ExchangeTiming {
  /** Give up on a request unanswered for this long (the coap package would wait 247 s). */
  timeoutMs: number;
  /** First retransmission of the Confirmable request (RFC 7252 ACK_TIMEOUT), doubling after. */
  ackTimeoutMs: number;
}

export class CoapTimeoutError extends Error {
  constructor(ms: number) {
    super(`no CoAP response within ${ms} ms`);
    this.name = 'CoapTimeoutError';
  }
}

interface Pending {
  messageId: number;
  resolve: (response: ParsedPacket) => void;
  reject: (err: Error) => void;
  /** An empty ACK came: the response will follow separately, stop retransmitting. */
  acknowledged: boolean;
}

/**
 * A CoAP client for one server on its own UDP socket: Confirmable requests with RFC 7252
 * retransmission, piggybacked and separate responses, and a hard deadline per request. The
 * coap package's agent cannot serve here: it follows Block2 by itself and hands over the
 * whole body at the end, where a resumable download needs each block as it arrives.
 */
export class CoapPeer {
  private readonly pending = new Map<string, Pending>();
  /** Tokens answered lately: a repeated Confirmable response is acknowledged again, not reset. */
  private readonly done: string[] = [];
  private messageId = randomInt(0x10000);

  private constructor(
    private readonly socket: Socket,
    private readonly target: CoapTarget,
  ) {
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => this.receive(msg, rinfo));
    socket.on('error', (err) => this.failAll(err));
  }

  static open(target: CoapTarget): CoapPeer {
    return new CoapPeer(createSocket(target.family === 6 ? 'udp6' : 'udp4'), target);
  }

  /** Sends a Confirmable request and resolves to the response (any code). */
  request(code: string, options: readonly [OptionName, Buffer][], timing: ExchangeTiming, signal?: AbortSignal): Promise<ParsedPacket> {
    signal?.throwIfAborted();
    const token = randomBytes(8);
    const key = token.toString('hex');
    const messageId = this.nextMessageId();
    const datagram = generate({
      code,
      confirmable: true,
      messageId,
      token,
      options: [
        ...this.target.path.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p, 'utf8') })),
        ...this.target.query.map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q, 'utf8') })),
        ...options.map(([name, value]) => ({ name, value })),
      ],
    });
    return new Promise<ParsedPacket>((resolve, reject) => {
      let retransmit: NodeJS.Timeout | undefined;
      const finish = () => {
        clearTimeout(retransmit);
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        this.pending.delete(key);
      };
      const pending: Pending = {
        messageId,
        acknowledged: false,
        resolve: (response) => {
          finish();
          resolve(response);
        },
        reject: (err) => {
          finish();
          reject(err);
        },
      };
      const onAbort = () => pending.reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
      const deadline = setTimeout(() => pending.reject(new CoapTimeoutError(timing.timeoutMs)), timing.timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.pending.set(key, pending);
      let wait = timing.ackTimeoutMs * (1 + Math.random() / 2);
      const send = () => {
        this.socket.send(datagram, this.target.port, this.target.address, (err) => err && pending.reject(err));
        retransmit = setTimeout(() => {
          if (pending.acknowledged) return;
          wait *= 2;
          send();
        }, wait);
      };
      send();
    });
  }

  close(): void {
    this.failAll(new Error('CoAP peer closed'));
    try {
      this.socket.close();
    } catch {
      // never bound (no request was sent): nothing to close
    }
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    let packet: ParsedPacket;
    try {
      packet = parse(msg);
    } catch {
      return; // not CoAP: ignore
    }
    const byMessageId = () => [...this.pending.values()].find((p) => p.messageId === packet.messageId);
    if (packet.reset) {
      byMessageId()?.reject(new Error('the CoAP server reset the request'));
      return;
    }
    if (packet.code === '0.00') {
      if (packet.ack) {
        const p = byMessageId();
        if (p) p.acknowledged = true;
      } else if (packet.confirmable) {
        this.sendEmpty(rinfo, packet.messageId, 'reset'); // a ping
      }
      return;
    }
    if (packet.code.startsWith('0.')) {
      if (packet.confirmable) this.sendEmpty(rinfo, packet.messageId, 'reset'); // we serve nothing
      return;
    }
    const key = packet.token.toString('hex');
    const pending = this.pending.get(key);
    if (packet.confirmable) this.sendEmpty(rinfo, packet.messageId, pending || this.done.includes(key) ? 'ack' : 'reset');
    if (!pending || (packet.ack && packet.messageId !== pending.messageId)) return;
    this.done.push(key);
    if (this.done.length > 32) this.done.shift();
    pending.resolve(packet);
  }

  private sendEmpty(to: RemoteInfo, messageId: number, kind: 'ack' | 'reset'): void {
    const datagram = generate({ code: '0.00', messageId, ack: kind === 'ack', reset: kind === 'reset', confirmable: false });
    this.socket.send(datagram, to.port, to.address);
  }

  private failAll(err: Error): void {
    for (const p of [...this.pending.values()]) p.reject(err);
  }

  private nextMessageId(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }
}
