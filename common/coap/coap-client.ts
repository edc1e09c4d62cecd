import { randomBytes, randomInt } from 'node:crypto';
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { generate, parse, type OptionName, type ParsedPacket } from 'coap-packet';
import { blockSize, decodeBlock, decodeUint, encodeBlock, encodeUint, MAX_SZX, szxOf } from '../../protocol/coap/index.js';

export type CoapMethod = 'GET' | 'POST' | 'PUT' | 'DELETE' | 'FETCH' | 'PATCH' | 'iPATCH';

export interface CoapPeerAddress {
  address: string;
  port: number;
}

export interface CoapRequestSpec {
  method: CoapMethod;
  path?: readonly string[];
  query?: readonly string[];
  options?: readonly [OptionName, Buffer][];
  payload?: Uint8Array;
  /** Non-confirmable requests are sent once (RFC 7252 §4.3). Default: confirmable. */
  confirmable?: boolean;
}

export interface CoapExchangeOptions {
  /** The whole exchange (every block, every retransmission) must be done by then. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** Follow a Block2 response to its last block and hand over the whole body (default true). */
  followBlock2?: boolean;
  /** Largest body accepted when following Block2 (default 1 MiB). */
  maxBodyBytes?: number;
  /** Send a payload larger than this in Block1 blocks of this size (16..1024; default 1024). */
  block1Size?: number;
}

/** A response, with its options still as bytes. */
export class CoapResponse {
  constructor(
    readonly code: string,
    readonly payload: Buffer,
    readonly options: ParsedPacket['options'],
    readonly peer: CoapPeerAddress,
  ) {}

  option(name: OptionName): Buffer | undefined {
    return this.options.find((o) => o.name === name)?.value;
  }

  allOptions(name: OptionName): Buffer[] {
    return this.options.filter((o) => o.name === name).map((o) => o.value);
  }

  get contentFormat(): number | undefined {
    const v = this.option('Content-Format');
    return v === undefined ? undefined : decodeUint(v);
  }

  /** Location-Path segments (a registration's location, RFC 7252 §5.10.7). */
  get locationPath(): string[] {
    return this.allOptions('Location-Path').map((b) => b.toString('utf8'));
  }

  get success(): boolean {
    return this.code.startsWith('2.');
  }
}

export class CoapTimeoutError extends Error {
  constructor(ms: number, what: string) {
    super(`no CoAP response to ${what} within ${ms} ms`);
    this.name = 'CoapTimeoutError';
  }
}

export class CoapResetError extends Error {
  constructor(what: string) {
    super(`the peer reset ${what}`);
    this.name = 'CoapResetError';
  }
}

export interface CoapTransmission {
  /** RFC 7252 ACK_TIMEOUT: first retransmission wait, doubled each time. */
  ackTimeoutMs: number;
  ackRandomFactor: number;
  maxRetransmit: number;
}

export const DEFAULT_TRANSMISSION: CoapTransmission = { ackTimeoutMs: 2000, ackRandomFactor: 1.5, maxRetransmit: 4 };

/** A notification of an observation (RFC 7641). */
export interface Observation {
  /** The first response: 2.05 with the Observe option when the peer took the registration. */
  readonly response: CoapResponse;
  /** Whether the peer registered the observation (its response carried Observe). */
  readonly established: boolean;
  /**
   * Forgets the observation. With `proactive`, a GET with Observe 1 on the same token tells the
   * peer at once (RFC 7641 §3.6) and resolves to its answer; otherwise the next notification is
   * answered with Reset, which cancels it at the peer.
   */
  cancel(proactive?: { timeoutMs: number; signal?: AbortSignal }): Promise<CoapResponse | undefined>;
}

interface Exchange {
  token: string;
  messageId: number;
  peer: CoapPeerAddress;
  /** An empty ACK arrived: stop retransmitting, the response comes separately. */
  acknowledged: boolean;
  resolve(packet: ParsedPacket): void;
  reject(err: Error): void;
}

interface ObservationState {
  peer: CoapPeerAddress;
  onNotify(response: CoapResponse): void;
  /** RFC 7641 §3.4: the last sequence number seen and when, to drop reordered notifications. */
  lastSequence: number;
  lastAt: number;
}

const key = (peer: CoapPeerAddress, token: Buffer | string) => `${peer.address}|${peer.port}|${typeof token === 'string' ? token : token.toString('hex')}`;

/**
 * The client role of CoAP (RFC 7252) on a socket that may also carry a server: the LwM2M server
 * must send its requests from the port devices registered to, and an LwM2M client must be
 * reachable at the port it registered from, so both roles share one socket. This side only
 * looks at responses and empty messages; requests are the server's.
 *
 * Confirmable requests are retransmitted with exponential backoff; piggybacked and separate
 * responses are matched by token (and message id); a Confirmable response is acknowledged,
 * also when it repeats; every exchange has a hard deadline and an abort signal, so nothing waits
 * 247 s for a dead peer. Block2 responses are followed and Block1 requests sent block by block
 * (RFC 7959); observations (RFC 7641) deliver notifications in order until cancelled.
 */
export class CoapClient {
  private readonly exchanges = new Map<string, Exchange>();
  private readonly observations = new Map<string, ObservationState>();
  /** Tokens answered lately, so a repeated Confirmable response is acknowledged, not reset. */
  private readonly recent = new Set<string>();
  private messageId = randomInt(0x10000);
  private closed = false;
  private readonly listener = (msg: Buffer, rinfo: RemoteInfo) => this.receive(msg, rinfo);

  constructor(
    private readonly socket: Socket,
    private readonly transmission: CoapTransmission = DEFAULT_TRANSMISSION,
  ) {
    socket.on('message', this.listener);
  }

  /** Sends a request and resolves with its (whole) response, whatever its code. */
  async request(peer: CoapPeerAddress, spec: CoapRequestSpec, opts: CoapExchangeOptions): Promise<CoapResponse> {
    const deadline = Date.now() + opts.timeoutMs;
    const remaining = () => {
      const ms = deadline - Date.now();
      if (ms <= 0) throw new CoapTimeoutError(opts.timeoutMs, describe(spec));
      return ms;
    };
    const payload = Buffer.from(spec.payload ?? new Uint8Array(0));
    const block1 = opts.block1Size ?? 1024;
    let response: CoapResponse;
    if (payload.length > block1) {
      response = await this.sendBlockwise(peer, spec, payload, block1, remaining, opts.signal);
    } else {
      response = await this.exchange(peer, spec, spec.options ?? [], payload, remaining(), opts.signal);
    }
    if (opts.followBlock2 === false) return response;
    return this.followBlock2(peer, spec, response, opts.maxBodyBytes ?? 1 << 20, remaining, opts.signal);
  }

  /**
   * GET with Observe 0: resolves with the first response; later notifications go to `onNotify`
   * in order (older ones than the last seen are dropped, RFC 7641 §3.4).
   */
  async observe(peer: CoapPeerAddress, spec: CoapRequestSpec, opts: CoapExchangeOptions, onNotify: (response: CoapResponse) => void): Promise<Observation> {
    if (spec.method !== 'GET' && spec.method !== 'FETCH') throw new Error(`cannot observe with ${spec.method}`);
    const token = randomBytes(8);
    const options: [OptionName, Buffer][] = [['Observe', Buffer.alloc(0)], ...(spec.options ?? [])];
    const full = spec;
    const state: ObservationState = { peer, onNotify, lastSequence: -1, lastAt: 0 };
    const k = key(peer, token);
    this.observations.set(k, state);
    let response: CoapResponse;
    try {
      response = await this.exchange(peer, full, options, Buffer.alloc(0), opts.timeoutMs, opts.signal, token);
    } catch (err) {
      this.observations.delete(k);
      throw err;
    }
    const seq = response.option('Observe');
    const established = response.success && seq !== undefined;
    if (!established) this.observations.delete(k);
    else {
      state.lastSequence = decodeUint(seq);
      state.lastAt = Date.now();
    }
    return {
      response,
      established,
      cancel: async (proactive) => {
        this.observations.delete(k);
        // Not "recently answered" any more: the next notification gets a Reset (RFC 7641 §3.6).
        this.recent.delete(k);
        if (!proactive) return undefined;
        const deregister: [OptionName, Buffer][] = [['Observe', encodeUint(1)], ...(spec.options ?? [])];
        return this.exchange(peer, full, deregister, Buffer.alloc(0), proactive.timeoutMs, proactive.signal, token);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.socket.off('message', this.listener);
    for (const e of [...this.exchanges.values()]) e.reject(new Error('CoAP client closed'));
    this.observations.clear();
  }

  get pendingExchanges(): number {
    return this.exchanges.size;
  }

  // ---- one request/response exchange -----------------------------------------------------

  private exchange(
    peer: CoapPeerAddress,
    spec: CoapRequestSpec,
    options: readonly [OptionName, Buffer][],
    payload: Buffer,
    timeoutMs: number,
    signal: AbortSignal | undefined,
    tokenBytes: Buffer = randomBytes(8),
  ): Promise<CoapResponse> {
    if (this.closed) return Promise.reject(new Error('CoAP client closed'));
    signal?.throwIfAborted();
    const confirmable = spec.confirmable !== false;
    const messageId = this.nextMessageId();
    const datagram = generate({
      code: spec.method,
      confirmable,
      messageId,
      token: tokenBytes,
      options: [
        ...(spec.path ?? []).map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p, 'utf8') })),
        ...(spec.query ?? []).map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q, 'utf8') })),
        ...options.map(([name, value]) => ({ name, value })),
      ],
      payload,
    });
    const token = tokenBytes.toString('hex');
    const k = key(peer, token);
    return new Promise<CoapResponse>((resolve, reject) => {
      let retransmit: NodeJS.Timeout | undefined;
      const done = () => {
        clearTimeout(retransmit);
        clearTimeout(deadline);
        signal?.removeEventListener('abort', onAbort);
        this.exchanges.delete(k);
      };
      const exchange: Exchange = {
        token,
        messageId,
        peer,
        acknowledged: false,
        resolve: (packet) => {
          done();
          this.remember(k);
          resolve(new CoapResponse(packet.code, packet.payload, packet.options, peer));
        },
        reject: (err) => {
          done();
          reject(err);
        },
      };
      const onAbort = () => exchange.reject(signal!.reason instanceof Error ? signal!.reason : new Error('aborted'));
      const deadline = setTimeout(() => exchange.reject(new CoapTimeoutError(timeoutMs, describe(spec))), timeoutMs);
      signal?.addEventListener('abort', onAbort, { once: true });
      this.exchanges.set(k, exchange);
      const { ackTimeoutMs, ackRandomFactor, maxRetransmit } = this.transmission;
      let wait = ackTimeoutMs * (1 + Math.random() * (ackRandomFactor - 1));
      let sent = 0;
      const send = () => {
        this.socket.send(datagram, peer.port, peer.address, (err) => err && exchange.reject(err));
        if (!confirmable || sent++ >= maxRetransmit) return;
        retransmit = setTimeout(() => {
          if (exchange.acknowledged) return;
          wait *= 2;
          send();
        }, wait);
      };
      send();
    });
  }

  private receive(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.closed) return;
    let packet: ParsedPacket;
    try {
      packet = parse(msg);
    } catch {
      return; // malformed: the server side of the socket logs and resets it
    }
    const code = packet.code;
    // Requests (and pings) belong to the server role.
    if (/^0\.0[1-7]$/.test(code) || (code === '0.00' && packet.confirmable)) return;
    const peer = { address: rinfo.address, port: rinfo.port };
    if (code === '0.00') {
      // An empty ACK or RST refers to a message id of ours.
      const exchange = [...this.exchanges.values()].find((e) => e.messageId === packet.messageId && samePeer(e.peer, peer));
      if (!exchange) return;
      if (packet.reset) exchange.reject(new CoapResetError('the request'));
      else if (packet.ack) exchange.acknowledged = true;
      return;
    }
    const k = key(peer, packet.token);
    const exchange = this.exchanges.get(k);
    if (exchange && (!packet.ack || packet.messageId === exchange.messageId)) {
      if (packet.confirmable) this.sendEmpty(peer, packet.messageId, 'ack');
      exchange.resolve(packet);
      return;
    }
    const observation = this.observations.get(k);
    if (observation) {
      if (packet.confirmable) this.sendEmpty(peer, packet.messageId, 'ack');
      this.notify(observation, new CoapResponse(code, packet.payload, packet.options, peer));
      return;
    }
    if (packet.confirmable) this.sendEmpty(peer, packet.messageId, this.recent.has(k) ? 'ack' : 'reset');
    else if (!packet.ack && !this.recent.has(k)) this.sendEmpty(peer, packet.messageId, 'reset'); // an unwanted NON notification: cancel it
  }

  private notify(state: ObservationState, response: CoapResponse): void {
    const seqOption = response.option('Observe');
    if (seqOption === undefined || !response.success) {
      // The peer ended the observation (an error, or a final response without Observe).
      for (const [k, s] of this.observations) if (s === state) this.observations.delete(k);
      state.onNotify(response);
      return;
    }
    const seq = decodeUint(seqOption);
    const now = Date.now();
    // RFC 7641 §3.4: newer if ahead in 24-bit serial order, or if 128 s have passed.
    const v1 = state.lastSequence;
    const fresh = v1 < 0 || (v1 < seq && seq - v1 < 2 ** 23) || (v1 > seq && v1 - seq > 2 ** 23) || now > state.lastAt + 128_000;
    if (!fresh) return;
    state.lastSequence = seq;
    state.lastAt = now;
    state.onNotify(response);
  }

  // ---- block-wise transfers (RFC 7959) --------------------------------------------------

  private async followBlock2(peer: CoapPeerAddress, spec: CoapRequestSpec, first: CoapResponse, maxBytes: number, remaining: () => number, signal?: AbortSignal): Promise<CoapResponse> {
    const option = first.option('Block2');
    const block = option && decodeBlock(option);
    if (!block || !block.more || !first.success) return first;
    const parts = [first.payload];
    let size = first.payload.length;
    const etag = first.option('ETag');
    let num = block.num;
    const szx = Math.min(block.szx, MAX_SZX);
    for (;;) {
      num += 1;
      const options: [OptionName, Buffer][] = [...(spec.options ?? []).filter(([n]) => n !== 'Block2' && n !== 'Observe'), ['Block2', encodeBlock({ num, more: false, szx })]];
      const next = await this.exchange(peer, { ...spec, payload: undefined } as CoapRequestSpec, options, Buffer.alloc(0), remaining(), signal);
      if (!next.success) return next;
      const nextEtag = next.option('ETag');
      if (etag && nextEtag && !etag.equals(nextEtag)) throw new Error('the resource changed during a block-wise read');
      const nb = next.option('Block2');
      const b = nb && decodeBlock(nb);
      if (!b || b.num !== num) throw new Error(`block-wise read: asked for block ${num}, got ${b ? b.num : 'no block'}`);
      size += next.payload.length;
      if (size > maxBytes) throw new Error(`block-wise read larger than ${maxBytes} bytes`);
      parts.push(next.payload);
      if (!b.more) return new CoapResponse(next.code, Buffer.concat(parts), first.options.filter((o) => o.name !== 'Block2'), peer);
    }
  }

  private async sendBlockwise(peer: CoapPeerAddress, spec: CoapRequestSpec, payload: Buffer, size: number, remaining: () => number, signal?: AbortSignal): Promise<CoapResponse> {
    let szx = szxOf(size);
    let offset = 0;
    // RFC 9175 Request-Tag would let a peer tell parallel uploads apart; one token per transfer
    // is what coap 1.x servers need, and libcoap servers accept it too.
    const token = randomBytes(8);
    for (;;) {
      const bytes = blockSize(szx);
      const num = offset / bytes;
      const chunk = payload.subarray(offset, offset + bytes);
      const more = offset + chunk.length < payload.length;
      const options: [OptionName, Buffer][] = [...(spec.options ?? []), ['Block1', encodeBlock({ num, more, szx })]];
      if (num === 0) options.push(['Size1', encodeUint(payload.length)]);
      const response = await this.exchange(peer, spec, options, chunk, remaining(), signal, token);
      if (!more) return response;
      if (response.code !== '2.31') return response; // refused (or answered early): the caller sees why
      const ack = response.option('Block1');
      const b = ack && decodeBlock(ack);
      if (b && b.szx < szx) {
        // The server asked for smaller blocks (RFC 7959 §2.3): it kept block b.num of its size.
        szx = b.szx;
        offset = (b.num + 1) * blockSize(szx);
      } else offset += chunk.length;
    }
  }

  // ---- helpers ---------------------------------------------------------------------------

  private sendEmpty(peer: CoapPeerAddress, messageId: number, kind: 'ack' | 'reset'): void {
    const datagram = generate({ code: '0.00', messageId, ack: kind === 'ack', reset: kind === 'reset', confirmable: false });
    this.socket.send(datagram, peer.port, peer.address);
  }

  private remember(k: string): void {
    this.recent.add(k);
    if (this.recent.size > 256) this.recent.delete(this.recent.values().next().value as string);
  }

  private nextMessageId(): number {
    this.messageId = (this.messageId + 1) & 0xffff;
    return this.messageId;
  }
}

function samePeer(a: CoapPeerAddress, b: CoapPeerAddress): boolean {
  return a.port === b.port && a.address === b.address;
}

function describe(spec: CoapRequestSpec): string {
  return `${spec.method} /${(spec.path ?? []).join('/')}`;
}

/** Where a `coap://host:port/a/b?q` URI points, resolved. */
export interface CoapTarget extends CoapPeerAddress {
  family: 4 | 6;
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
