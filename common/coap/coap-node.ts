import { type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import type { Logger } from '../logger.js';
import { bindUdp } from '../udp.js';
import { Block1Reassembly, type Block1Limits } from './block1-reassembly.js';
import { CoapClient, DEFAULT_TRANSMISSION, type CoapTransmission } from './coap-client.js';
import { hasResponded } from './coap-response.js';
import { CoapRouter, type CoapHandler, type CoapVia } from './coap-router.js';
import { meterDatagrams, type DatagramListener, type DatagramPeer } from './datagram-meter.js';

export interface CoapNodeOptions {
  host: string;
  /** 0 picks a free port; `port` tells which. */
  port: number;
  log: Logger;
  transmission?: CoapTransmission;
  /**
   * How long a handler may take and still have its answer piggybacked on the ACK (the coap
   * library sends an empty ACK after 50 ms otherwise, then the answer separately). Well under a
   * client's first retransmission (ACK_TIMEOUT, 2 s); libcoap clients before 4.3.5 lose a Block2
   * transfer whose first block comes as a separate response (libcoap issue #1595).
   */
  piggybackReplyMs?: number;
  /** Limits of Block1 upload reassembly (defaults: DEFAULT_BLOCK1_LIMITS). */
  block1?: Partial<Block1Limits>;
  /** Told of every datagram in and out (accounting). */
  onDatagram?: DatagramListener;
  /**
   * A bound socket to run on instead of binding one: a DtlsSocket for CoAP over DTLS (then
   * `host` names the endpoint in `url`, `port` is ignored). The node closes it.
   */
  socket?: Socket;
  /**
   * The UDP socket under `socket` when that one is not a plain UDP socket (DTLS): `onDatagram`
   * meters this one, so it counts what is on the wire (ciphertext, handshakes included).
   */
  wire?: Socket;
  /**
   * `socket` is a DTLS socket (the node's URL is coaps://); `pskIdentity` tells the PSK identity
   * of the session a peer's requests come through (CoapRequest.via).
   */
  dtls?: { pskIdentity?: (peer: DatagramPeer) => string | undefined };
}

/**
 * One CoAP/UDP socket that is both a server (the coap library, behind a router) and a client
 * (CoapClient). LwM2M needs both roles on one address: the server sends its requests to the
 * address and port a client registered from, so a client must listen where it sends, and a
 * server must send from where it listens (clients behind NAT drop anything else).
 *
 * The two roles share the socket without stepping on each other: the library's server ignores
 * everything that is not a request, the client everything that is. Datagrams that do not parse
 * are dropped here (a malformed Confirmable one is answered with Reset, RFC 7252 §4.2) before the
 * library sees them: it would answer them with a 5.00 sent to 127.0.0.1 instead of the peer.
 *
 * Block1 uploads (RFC 7959) are reassembled here too, before the library sees them
 * (Block1Reassembly): the library keys blocks by token, which libcoap 4.3 clients change with
 * every block. The library gets the whole body as one request.
 */
export class CoapNode {
  readonly client: CoapClient;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly server: Server,
    private readonly router: CoapRouter,
    private readonly block1: Block1Reassembly,
    private readonly host: string,
    private readonly log: Logger,
    transmission: CoapTransmission,
    /** `coaps` on a DTLS socket. */
    readonly scheme: 'coap' | 'coaps',
  ) {
    this.client = new CoapClient(socket, transmission);
  }

  static async bind(opts: CoapNodeOptions): Promise<CoapNode> {
    const type = isIPv6(opts.host) ? 'udp6' : 'udp4';
    const socket = opts.socket ?? (await bindUdp(opts.host, opts.port));
    const log = opts.log;
    socket.on('error', (err) => log.warn({ err: err.message }, 'CoAP socket error'));
    if (opts.onDatagram) meterDatagrams(opts.wire ?? socket, opts.onDatagram);

    // What a request tells of the channel it came by; the client is the node's, made below.
    const via: CoapVia = { scheme: opts.dtls ? 'coaps' : 'coap', client: undefined as unknown as CoapClient };
    const identityOf = opts.dtls?.pskIdentity;
    const router = new CoapRouter(log, (peer) => {
      const identity = identityOf?.(peer);
      return identity === undefined ? via : { ...via, pskIdentity: identity };
    });
    const piggybackReplyMs = opts.piggybackReplyMs ?? 1000;
    const server = createServer({ type, piggybackReplyMs });
    const before = socket.listeners('message');
    server.listen(socket);
    const libraryListeners = socket.listeners('message').filter((l) => !before.includes(l)) as ((msg: Buffer, rinfo: RemoteInfo) => void)[];
    const block1 = new Block1Reassembly(
      {
        log,
        piggybackReplyMs,
        send: (datagram, peer) => {
          const unsent = (err: Error | null) => err && log.debug({ err: err.message }, 'CoAP Block1 answer not sent');
          try {
            socket.send(datagram, peer.port, peer.address, unsent);
          } catch (err) {
            unsent(err as Error); // the socket closed under us
          }
        },
        // The library handles a datagram synchronously, up to its 'request' event.
        deliver: (datagram, peer) => libraryListeners.forEach((listener) => listener(datagram, peer)),
      },
      opts.block1,
    );
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => {
      block1.prepareResponse(req, res);
      router.dispatch(req, res);
    });
    server.on('error', (err: Error) => log.warn({ err: err.message }, 'CoAP server error'));
    for (const listener of libraryListeners) {
      socket.off('message', listener);
      socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
        const packet = wellFormed(msg, rinfo, socket, log);
        if (packet && !block1.intercept(packet, rinfo)) listener(msg, rinfo);
      });
    }
    // The library's own error replies (Observe on a POST, a request it fails on) go to 127.0.0.1:
    // send them to the peer that asked.
    server._sendError = (payload, rsinfo, packet, code = '5.00') => {
      try {
        socket.send(generate({ code, payload, messageId: packet?.messageId, token: packet?.token }), rsinfo.port, rsinfo.address);
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'CoAP error reply not sent');
      }
    };
    const node = new CoapNode(socket, server, router, block1, opts.host, log, opts.transmission ?? DEFAULT_TRANSMISSION, via.scheme);
    via.client = node.client;
    return node;
  }

  /**
   * Serves requests whose first Uri-Path segment is `prefix`. `rememberAnswers: false` is for
   * idempotent bulk resources (firmware blocks): their piggybacked answers are not kept for
   * duplicate detection, so a retransmitted request is served again instead. The library keeps
   * every answer for EXCHANGE_LIFETIME with a retransmission object each (~17 KiB of heap per
   * answer, measured): for thousands of blocks a second that is hundreds of MiB to save answers
   * that are as cheap to make again.
   */
  route(prefix: string, handler: CoapHandler, opts: { rememberAnswers?: boolean } = {}): void {
    this.router.route(prefix, opts.rememberAnswers === false ? this.forgetting(handler) : handler);
  }

  /** Answers the library keeps for duplicate detection right now. */
  get rememberedAnswers(): number {
    return this.server._lru.size;
  }

  private forgetting(handler: CoapHandler): CoapHandler {
    return async (req, res) => {
      await handler(req, res);
      // The library cached the answer when it was sent, inside the handler: drop it. Only a
      // piggybacked one: a separate Confirmable answer needs its entry to match the client's ACK.
      const packet = res._packet;
      if (hasResponded(res) && packet.ack) this.server._lru.delete(this.server._toKey(req.raw, packet as Parameters<Server['_toKey']>[1], true));
    };
  }

  /** Serves requests no prefix claims. */
  fallback(handler: CoapHandler): void {
    this.router.fallback(handler);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get url(): string {
    return `${this.scheme}://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.client.close();
    this.block1.close();
    // Also clears the response cache, whose retransmission timers would otherwise keep running.
    this.server.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.log.debug('CoAP node closed');
  }
}

/** The datagram parsed, or undefined when it does not parse (and was dealt with). */
function wellFormed(msg: Buffer, rinfo: RemoteInfo, socket: Socket, log: Logger): ParsedPacket | undefined {
  try {
    return parse(msg);
  } catch (err) {
    log.debug({ peer: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: (err as Error).message }, 'malformed CoAP datagram dropped');
    const version = msg.length >= 4 ? msg[0]! >> 6 : 0;
    const confirmable = msg.length >= 4 && ((msg[0]! >> 4) & 0x03) === 0;
    if (version === 1 && confirmable) {
      // Reset: version 1, type RST, no token, code 0.00, the message's ID.
      socket.send(Buffer.from([0x70, 0x00, msg[2]!, msg[3]!]), rinfo.port, rinfo.address);
    }
    return undefined;
  }
}
