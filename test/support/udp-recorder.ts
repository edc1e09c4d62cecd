import { randomBytes } from 'node:crypto';
import { createSocket, type RemoteInfo, type Socket as UdpSocket } from 'node:dgram';
import { generate, parse, type NamedOption, type Packet, type ParsedPacket } from 'coap-packet';

/** One datagram that crossed the recording proxy, as it was on the wire. */
export interface RecordedDatagram {
  /** Order of arrival at the proxy, from 0. */
  seq: number;
  /** `toServer`: the client (device) spoke; `toClient`: the server (or the test, when `injected`) spoke. */
  direction: 'toServer' | 'toClient';
  /** The client's address as `ip:port` (the device side of the link). */
  client: string;
  raw: Buffer;
  /** The CoAP message; undefined for a datagram that is not one. */
  packet: ParsedPacket | undefined;
  /** Sent by the test itself (`request`), or the client's answer to it: never relayed to the server. */
  injected: boolean;
}

/** A CoAP request and the response that answered it (piggybacked on the ACK, or separate on the same token). */
export interface RecordedExchange {
  request: RecordedDatagram & { packet: ParsedPacket };
  response: (RecordedDatagram & { packet: ParsedPacket }) | undefined;
}

const METHODS: Record<string, string> = { '0.01': 'GET', '0.02': 'POST', '0.03': 'PUT', '0.04': 'DELETE', '0.05': 'FETCH', '0.06': 'PATCH', '0.07': 'iPATCH' };

/** GET, POST… for a request, undefined for a response or an empty message. */
export function methodOf(p: ParsedPacket): string | undefined {
  return METHODS[p.code];
}

/** Values of an option, in order (an option coap-packet has no name for is matched by number). */
export function optionValues(p: ParsedPacket, name: string, number?: number): Buffer[] {
  return p.options.filter((o) => o.name === name || (number !== undefined && o.name === number)).map((o) => o.value);
}

/** An option's uint value (RFC 7252 §3.2), undefined when absent. */
export function uintOption(p: ParsedPacket, name: string): number | undefined {
  const [v] = optionValues(p, name);
  if (v === undefined) return undefined;
  let n = 0;
  for (const byte of v) n = n * 256 + byte;
  return n;
}

/** `/3/0/1` from Uri-Path options (`/` when there are none). */
export function uriPathOf(p: ParsedPacket): string {
  return `/${optionValues(p, 'Uri-Path').map((v) => v.toString('utf8')).join('/')}`;
}

export function uriQueryOf(p: ParsedPacket): string[] {
  return optionValues(p, 'Uri-Query').map((v) => v.toString('utf8'));
}

export function locationPathOf(p: ParsedPacket): string[] {
  return optionValues(p, 'Location-Path').map((v) => v.toString('utf8'));
}

/** One line per datagram, for assertion messages. */
export function describeDatagram(d: RecordedDatagram): string {
  const p = d.packet;
  if (!p) return `#${d.seq} ${d.direction} (not CoAP, ${d.raw.length} bytes)`;
  const type = p.reset ? 'RST' : p.ack ? 'ACK' : p.confirmable ? 'CON' : 'NON';
  const opts = p.options
    .filter((o) => o.name !== 'Uri-Path')
    .map((o) => `${String(o.name)}=${/Path|Query/.test(String(o.name)) ? o.value.toString('utf8') : o.value.toString('hex')}`);
  return `#${d.seq} ${d.client} ${d.direction}${d.injected ? '(test)' : ''} ${type} ${methodOf(p) ?? p.code} mid=${p.messageId} tok=${p.token.toString('hex')} ${uriPathOf(p)} ${opts.join(' ')} payload=${p.payload.length}B`;
}

interface Pending {
  client: string;
  messageId: number;
  token: Buffer;
  resolve: (response: ParsedPacket) => void;
  timer: NodeJS.Timeout;
}

/**
 * A UDP relay between CoAP clients (devices) and a server on loopback that records every datagram
 * both ways, so tests can assert on what was on the wire (RFC 7252 message by message). Each client
 * address gets its own upstream socket, so the server sees one peer per client and its requests
 * to that peer find their way back; the relay's own port is what the clients know as the server.
 *
 * The test may also speak as the server (`request`): a CON request from the relay's port to a
 * client, whose answer is recorded and handed to the test instead of being relayed.
 */
export class RecordingUdpProxy {
  readonly datagrams: RecordedDatagram[] = [];
  private socket!: UdpSocket;
  private readonly upstreams = new Map<string, UdpSocket>();
  private readonly pending: Pending[] = [];
  private readonly waiters = new Set<() => void>();

  constructor(
    /** The server's UDP port on 127.0.0.1; may be set later (before the first datagram). */
    public targetPort: number,
  ) {}

  async start(): Promise<this> {
    this.socket = createSocket('udp4');
    this.socket.on('error', () => undefined);
    this.socket.on('message', (msg: Buffer, client: RemoteInfo) => {
      const key = `${client.address}:${client.port}`;
      const packet = tryParse(msg);
      const answered = packet ? this.answerToInjected(key, packet) : false;
      this.record('toServer', key, msg, packet, answered);
      if (answered) return;
      this.upstreamFor(client).send(msg, this.targetPort, '127.0.0.1');
    });
    await new Promise<void>((resolve) => this.socket.bind(0, '127.0.0.1', resolve));
    return this;
  }

  get port(): number {
    return this.socket.address().port;
  }

  get url(): string {
    return `coap://127.0.0.1:${this.port}`;
  }

  /** The number of datagrams recorded so far: pass it to `since` / `waitFor` to look only at what follows. */
  mark(): number {
    return this.datagrams.length;
  }

  /** Datagrams recorded from `mark` on. */
  since(mark: number): RecordedDatagram[] {
    return this.datagrams.slice(mark);
  }

  /** The client address that last spoke to the server (`ip:port`). */
  lastClient(): string | undefined {
    for (let i = this.datagrams.length - 1; i >= 0; i--) if (this.datagrams[i]!.direction === 'toServer') return this.datagrams[i]!.client;
    return undefined;
  }

  /**
   * Request/response pairs recorded from `mark` on. A request's response is the ACK with its
   * message id and token (piggybacked), else the first later message of the other direction
   * with its token that is a response (separate response, RFC 7252 §5.2.2).
   */
  exchanges(mark = 0): RecordedExchange[] {
    const list = this.since(mark).filter((d): d is RecordedDatagram & { packet: ParsedPacket } => d.packet !== undefined);
    const out: RecordedExchange[] = [];
    for (const [i, d] of list.entries()) {
      if (!methodOf(d.packet)) continue;
      // A retransmission of a request already listed (same message id, same way) is not a new exchange.
      if (out.some((e) => e.request.direction === d.direction && e.request.client === d.client && e.request.packet.messageId === d.packet.messageId && e.request.packet.token.equals(d.packet.token))) continue;
      const later = list.slice(i + 1).filter((r) => r.direction !== d.direction && r.client === d.client && !methodOf(r.packet) && r.packet.code !== '0.00');
      const response =
        later.find((r) => r.packet.ack && r.packet.messageId === d.packet.messageId && r.packet.token.equals(d.packet.token)) ??
        later.find((r) => !r.packet.ack && r.packet.token.equals(d.packet.token));
      out.push({ request: d, response });
    }
    return out;
  }

  /** Waits until `check` finds something in the recording (polled on each datagram), or throws after `timeoutMs`. */
  async waitFor<T>(what: string, check: () => T | undefined | false, timeoutMs = 30_000): Promise<T> {
    const first = check();
    if (first) return first;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(poll);
        reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}; recorded:\n${this.datagrams.slice(-30).map(describeDatagram).join('\n')}`));
      }, timeoutMs);
      const poll = () => {
        let found: T | undefined | false;
        try {
          found = check();
        } catch (err) {
          clearTimeout(timer);
          this.waiters.delete(poll);
          reject(err as Error);
          return;
        }
        if (found) {
          clearTimeout(timer);
          this.waiters.delete(poll);
          resolve(found);
        }
      };
      this.waiters.add(poll);
    });
  }

  /**
   * Sends a confirmable request to `client` from the relay's port (where the client's server is),
   * as the server would, and resolves with the client's response (piggybacked or separate; a
   * separate CON response is acknowledged). Neither reaches the real server.
   */
  request(client: string, spec: { method: 'GET' | 'PUT' | 'POST' | 'DELETE'; path: string; options?: NamedOption[]; query?: string[]; payload?: Buffer }, timeoutMs = 15_000): Promise<ParsedPacket> {
    const [address, portText] = splitAddress(client);
    const token = randomBytes(8);
    const messageId = randomBytes(2).readUInt16BE(0);
    const segments = spec.path.split('/').filter(Boolean);
    const packet: Packet = {
      code: spec.method,
      confirmable: true,
      messageId,
      token,
      options: [
        ...segments.map((s) => ({ name: 'Uri-Path' as const, value: Buffer.from(s) })),
        ...(spec.query ?? []).map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q) })),
        ...(spec.options ?? []),
      ],
      ...(spec.payload ? { payload: spec.payload } : {}),
    };
    const raw = generate(packet);
    return new Promise<ParsedPacket>((resolve, reject) => {
      const entry: Pending = {
        client,
        messageId,
        token,
        resolve: (p) => {
          clearTimeout(entry.timer);
          resolve(p);
        },
        timer: setTimeout(() => {
          const i = this.pending.indexOf(entry);
          if (i >= 0) this.pending.splice(i, 1);
          reject(new Error(`no answer from ${client} to ${spec.method} ${spec.path} within ${timeoutMs} ms`));
        }, timeoutMs),
      };
      this.pending.push(entry);
      this.record('toClient', client, raw, parse(raw), true);
      this.socket.send(raw, Number(portText), address);
    });
  }

  /** Whether the client's message answers a request the test injected (then it is the test's, not the server's). */
  private answerToInjected(client: string, p: ParsedPacket): boolean {
    const i = this.pending.findIndex((e) => e.client === client && ((p.ack || p.reset) && p.messageId === e.messageId ? true : p.token.equals(e.token) && !methodOf(p) && p.code !== '0.00'));
    if (i < 0) return false;
    const entry = this.pending[i]!;
    if (p.reset) {
      this.pending.splice(i, 1);
      entry.resolve(p);
      return true;
    }
    if (p.code === '0.00') return true; // empty ACK: the response comes separately
    if (p.confirmable) {
      const [address, port] = splitAddress(client);
      const ack = generate({ code: '0.00', ack: true, messageId: p.messageId, token: Buffer.alloc(0) });
      this.record('toClient', client, ack, parse(ack), true);
      this.socket.send(ack, Number(port), address);
    }
    this.pending.splice(i, 1);
    entry.resolve(p);
    return true;
  }

  private record(direction: RecordedDatagram['direction'], client: string, raw: Buffer, packet: ParsedPacket | undefined, injected: boolean): void {
    this.datagrams.push({ seq: this.datagrams.length, direction, client, raw: Buffer.from(raw), packet, injected });
    for (const poll of [...this.waiters]) poll();
  }

  private upstreamFor(client: RemoteInfo): UdpSocket {
    const key = `${client.address}:${client.port}`;
    let upstream = this.upstreams.get(key);
    if (!upstream) {
      upstream = createSocket('udp4');
      upstream.on('message', (msg: Buffer) => {
        this.record('toClient', key, msg, tryParse(msg), false);
        this.socket.send(msg, client.port, client.address);
      });
      // A client socket that went away answers with ICMP unreachable: not the relay's concern.
      upstream.on('error', () => undefined);
      this.upstreams.set(key, upstream);
    }
    return upstream;
  }

  async close(): Promise<void> {
    for (const p of this.pending.splice(0)) clearTimeout(p.timer);
    this.waiters.clear();
    for (const upstream of this.upstreams.values()) upstream.close();
    this.upstreams.clear();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }
}

function tryParse(msg: Buffer): ParsedPacket | undefined {
  try {
    return parse(msg);
  } catch {
    return undefined;
  }
}

function splitAddress(client: string): [string, string] {
  const i = client.lastIndexOf(':');
  return [client.slice(0, i), client.slice(i + 1)];
}
