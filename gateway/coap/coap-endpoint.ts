import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Agent, createServer, type IncomingMessage, type OutgoingMessage, type Server } from 'coap';
import { generate, parse } from 'coap-packet';
import type { Logger } from '../../common/logger.js';
import { CoapRouter, type CoapHandler } from '../../common/coap/coap-router.js';

export interface CoapEndpointOptions {
  host: string;
  /** 0 picks a free port; `port` tells which. */
  port: number;
  log: Logger;
}

/**
 * The gateway's one CoAP/UDP socket. The coap server answers requests on it through a router
 * (one handler per first path segment: `fw` today, LwM2M's `rd`/`bs` later), and `client` sends
 * requests from the same socket — LwM2M needs both roles on one address, since a device behind
 * NAT can only be reached at the address and port it registered from.
 *
 * Both roles can listen on one socket because the library's server ignores every message that
 * is not a request and its agent ignores every request. Datagrams that do not parse are dropped
 * here (a malformed Confirmable one is answered with Reset, RFC 7252 §4.2) before the library
 * sees them: it would answer them with a 5.00 sent to 127.0.0.1 instead of the peer.
 */
export class CoapEndpoint {
  private agent: Agent | undefined;
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly server: Server,
    private readonly router: CoapRouter,
    private readonly host: string,
    private readonly log: Logger,
  ) {}

  static async start(opts: CoapEndpointOptions): Promise<CoapEndpoint> {
    const type = isIPv6(opts.host) ? 'udp6' : 'udp4';
    // No SO_REUSEADDR: a second gateway on the same port must fail, not silently share it.
    const socket = createSocket({ type, reuseAddr: false });
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject);
      socket.bind(opts.port, opts.host, () => {
        socket.off('error', reject);
        resolve();
      });
    });
    const log = opts.log;
    socket.on('error', (err) => log.warn({ err: err.message }, 'CoAP socket error'));

    const router = new CoapRouter(log);
    const server = createServer({ type });
    server.on('request', (req: IncomingMessage, res: OutgoingMessage) => router.dispatch(req, res));
    server.on('error', (err: Error) => log.warn({ err: err.message }, 'CoAP server error'));
    const before = socket.listeners('message');
    server.listen(socket);
    for (const listener of socket.listeners('message').filter((l) => !before.includes(l))) {
      socket.off('message', listener as (msg: Buffer, rinfo: RemoteInfo) => void);
      socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
        if (wellFormed(msg, rinfo, socket, log)) (listener as (msg: Buffer, rinfo: RemoteInfo) => void)(msg, rinfo);
      });
    }
    // The library's own error replies (bad Block1 sequences, Observe on a POST) go to 127.0.0.1:
    // send them to the peer that asked.
    server._sendError = (payload, rsinfo, packet, code = '5.00') => {
      try {
        socket.send(generate({ code, payload, messageId: packet?.messageId, token: packet?.token }), rsinfo.port, rsinfo.address);
      } catch (err) {
        log.debug({ err: (err as Error).message }, 'CoAP error reply not sent');
      }
    };
    return new CoapEndpoint(socket, server, router, opts.host, log);
  }

  /** Serves requests whose first Uri-Path segment is `prefix`. */
  route(prefix: string, handler: CoapHandler): void {
    this.router.route(prefix, handler);
  }

  get port(): number {
    return this.socket.address().port;
  }

  get url(): string {
    return `coap://${this.host.includes(':') ? `[${this.host}]` : this.host}:${this.port}`;
  }

  /** The client role, on the same socket as the server: requests from the gateway to devices. */
  get client(): Agent {
    if (this.closed) throw new Error('the CoAP endpoint is closed');
    this.agent ??= new Agent({ socket: this.socket });
    return this.agent;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.agent?.close();
    // Also clears the response cache, whose retransmission timers would otherwise keep running.
    this.server.close();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
    this.log.debug('CoAP endpoint closed');
  }
}

function wellFormed(msg: Buffer, rinfo: RemoteInfo, socket: Socket, log: Logger): boolean {
  try {
    parse(msg);
    return true;
  } catch (err) {
    log.debug({ peer: `${rinfo.address}:${rinfo.port}`, bytes: msg.length, reason: (err as Error).message }, 'malformed CoAP datagram dropped');
    const version = msg.length >= 4 ? msg[0]! >> 6 : 0;
    const confirmable = msg.length >= 4 && ((msg[0]! >> 4) & 0x03) === 0;
    if (version === 1 && confirmable) {
      // Reset: version 1, type RST, no token, code 0.00, the message's ID.
      socket.send(Buffer.from([0x70, 0x00, msg[2]!, msg[3]!]), rinfo.port, rinfo.address);
    }
    return false;
  }
}
