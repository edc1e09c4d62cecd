import type { AddressInfo } from 'node:net';
import type { IncomingMessage, OutgoingMessage } from 'coap';
import type { OptionName } from 'coap-packet';
import type { Logger } from '../logger.js';
// The library's converter between option bytes and the values it puts on messages (CommonJS).
import optionConverter from 'coap/dist/lib/option_converter.js';
import type { CoapClient } from './coap-client.js';
import { hasResponded, respond, respondError } from './coap-response.js';

/** What a resource handler sees of a request. */
export interface CoapRequest {
  /** GET, POST, PUT, DELETE, FETCH, PATCH, iPATCH. */
  method: string;
  /** Uri-Path segments, as sent (each one UTF-8, not percent-decoded: CoAP carries them raw). */
  path: string[];
  query: string[];
  /** The option's value as bytes (first occurrence), undefined when absent. */
  option(name: OptionName): Buffer | undefined;
  peer: AddressInfo;
  /** The library's request, for what the view does not cover (payload, Observe). */
  raw: IncomingMessage;
  /** The channel the request came by; absent on a router used without a node. */
  via?: CoapVia;
}

/** The endpoint a request came through: plain CoAP or DTLS, and the client that reaches the peer back the same way. */
export interface CoapVia {
  scheme: 'coap' | 'coaps';
  /** Requests to this peer go out through it: the same socket, over DTLS the same session. */
  client: CoapClient;
  /** Over DTLS: the PSK identity the peer's session authenticated with. */
  pskIdentity?: string;
}

export type CoapHandler = (req: CoapRequest, res: OutgoingMessage) => void | Promise<void>;

/**
 * Dispatches requests by their first Uri-Path segment (`fw`, `rd` and `bs` for LwM2M
 * registration and bootstrap), so each protocol on the endpoint owns one prefix and knows
 * nothing of the others. Unknown prefixes go to the fallback, or get 4.04; a handler that
 * throws gets 5.00 and a log line, never a crash.
 */
export class CoapRouter {
  private readonly routes = new Map<string, CoapHandler>();
  private fallbackHandler: CoapHandler | undefined;

  constructor(
    private readonly log: Logger,
    private readonly viaOf?: (peer: AddressInfo) => CoapVia,
  ) {}

  route(prefix: string, handler: CoapHandler): void {
    if (this.routes.has(prefix)) throw new Error(`CoAP route /${prefix} is already taken`);
    this.routes.set(prefix, handler);
  }

  /** Serves every request no prefix claims (an LwM2M client's object tree: `/3/0/0`, `/5/0`, …). */
  fallback(handler: CoapHandler): void {
    this.fallbackHandler = handler;
  }

  dispatch(raw: IncomingMessage, res: OutgoingMessage): void {
    res.on('error', (err: Error) => this.log.warn({ err: err.message }, 'CoAP response could not be sent'));
    if (raw._packet.code === '0.00') {
      // An empty Confirmable message is a ping (RFC 7252 §4.3): answered with Reset.
      res.reset();
      return;
    }
    const req = view(raw, this.viaOf);
    const handler = this.routes.get(req.path[0] ?? '') ?? this.fallbackHandler;
    if (!handler) return respondError(res, '4.04', 'no such resource');
    let outcome: void | Promise<void>;
    try {
      outcome = handler(req, res);
    } catch (err) {
      return this.failed(err, req, res);
    }
    if (outcome) outcome.catch((err: unknown) => this.failed(err, req, res));
  }

  private failed(err: unknown, req: CoapRequest, res: OutgoingMessage): void {
    this.log.error({ err, method: req.method, route: req.path[0] }, 'CoAP handler failed');
    if (!hasResponded(res)) respond(res, '5.00');
  }
}

function view(raw: IncomingMessage, viaOf: ((peer: AddressInfo) => CoapVia) | undefined): CoapRequest {
  const options = raw._packet.options ?? [];
  const strings = (name: OptionName) => options.filter((o) => o.name === name).map((o) => bytesOf(o.name as OptionName, o.value).toString('utf8'));
  return {
    method: raw.method ?? raw._packet.code ?? '',
    path: strings('Uri-Path'),
    query: strings('Uri-Query'),
    option(name) {
      const found = options.find((o) => o.name === name);
      return found ? bytesOf(name, found.value) : undefined;
    },
    peer: raw.rsinfo,
    raw,
    ...(viaOf ? { via: viaOf(raw.rsinfo) } : {}),
  };
}

/**
 * The library converts option values in place when it parses a request (Content-Format and
 * Accept to media-type names, Size2 to a number, ETag to a string): its own converter turns
 * them back into the bytes that were on the wire.
 */
function bytesOf(name: OptionName, value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  try {
    return optionConverter.toBinary(name, value);
  } catch {
    return Buffer.alloc(0);
  }
}
