import type { OutgoingMessage } from 'coap';
import { respond, respondError } from '../../../common/coap/coap-response.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import type { Logger } from '../../../common/logger.js';
import { decodeUint } from '../../../protocol/coap/index.js';
import { ContentDecodeError, decodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import type { Link } from '../../../protocol/model/index.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import { RegistrationError } from '../lwm2m/registration.js';
import type { CoapChannel, CoapDeviceLink } from './coap-device-link.js';
import { parseRdRegister, parseRdUpdate } from './rd-registration.js';

/** The directory's registration interface (the first Uri-Path segment); LwM2M's `/rd` is another protocol. */
export const RD_PATH = 'rd-core';

export interface ResourceDirectoryOptions {
  link: CoapDeviceLink;
  handler: DeviceSessionHandler;
  log: Logger;
  /** The first Uri-Path segment it is served at (default `rd-core`). */
  path?: string;
  /**
   * Whether an endpoint may register over the channel a request came by (plain CoAP, or DTLS
   * with a PSK identity): undefined allows, a reason refuses (4.03). Default: every admitted endpoint.
   */
  authorize?: (endpoint: string, channel: CoapChannel) => string | undefined;
}

/**
 * The CoRE Resource Directory's registration interface (RFC 9176 §5.3) for plain CoAP devices:
 * `POST /rd-core?ep=…&lt=…[&base=…]` with the device's links → 2.01 and the registration
 * resource in Location-Path; `POST` to it refreshes the lifetime (and may change `lt`, `base`),
 * `DELETE` removes it; a registration that outlives its lifetime expires and the device goes
 * offline. Only endpoints the registry knows may register (the NoSec rule LwM2M uses too); over
 * DTLS (the coaps endpoint serves it too) only in a session of the endpoint's own PSK identity,
 * and a device with a PSK only over DTLS (`authorize`).
 * Simple registration and the lookup interface are not offered.
 */
export class ResourceDirectory {
  readonly path: string;

  constructor(private readonly opts: ResourceDirectoryOptions) {
    this.path = opts.path ?? RD_PATH;
  }

  /** The link the gateway's `/.well-known/core` advertises (RFC 9176 §4.3). */
  get link(): Link {
    return { target: `/${this.path}`, attributes: { rt: 'core.rd', ct: String(LwM2mContentFormat.LINK) } };
  }

  /** The CoAP handler of the directory's route. */
  readonly handle = (req: CoapRequest, res: OutgoingMessage): void => {
    const [, id, ...rest] = req.path;
    try {
      if (id === undefined && req.method === 'POST') return this.register(req, res);
      if (id !== undefined && rest.length === 0 && req.method === 'POST') return this.update(id, req, res);
      if (id !== undefined && rest.length === 0 && req.method === 'DELETE') return this.remove(id, req, res);
      respondError(res, '4.05', `the directory takes POST /${this.path}, POST /${this.path}/{id} and DELETE /${this.path}/{id}`);
    } catch (err) {
      if (err instanceof RegistrationError || err instanceof ContentDecodeError) {
        this.opts.log.info({ peer: peerOf(req), reason: err.message }, 'CoAP registration refused');
        respondError(res, '4.00', err.message);
        return;
      }
      throw err;
    }
  };

  private register(req: CoapRequest, res: OutgoingMessage): void {
    const params = parseRdRegister(req.query, this.links(req));
    if (!this.opts.handler.admit(params.endpoint, 'coap')) {
      this.opts.log.warn({ endpoint: params.endpoint, peer: peerOf(req) }, 'CoAP registration of an unknown or decommissioned endpoint refused');
      respondError(res, '4.03', 'endpoint not admitted');
      return;
    }
    const channel = channelOf(req);
    const refused = this.opts.authorize?.(params.endpoint, channel);
    if (refused !== undefined) {
      this.opts.log.warn({ endpoint: params.endpoint, peer: peerOf(req), scheme: channel.scheme, identity: channel.pskIdentity ?? null, reason: refused }, 'CoAP registration refused');
      respondError(res, '4.03', refused);
      return;
    }
    // Over DTLS requests go back through the session: another address would be outside it.
    if (channel.scheme === 'coaps' && params.base) throw new RegistrationError('"base" is not taken over DTLS: requests go back through the session');
    const id = this.opts.link.register(
      {
        endpoint: params.endpoint,
        peer: params.base ?? { address: req.peer.address, port: req.peer.port },
        lifetime: params.lifetime,
        links: params.links,
        ...(channel.scheme === 'coaps' && req.via ? { via: { client: req.via.client, channel } } : {}),
      },
      'directory',
    );
    respond(res, '2.01', Buffer.alloc(0), [
      ['Location-Path', Buffer.from(this.path)],
      ['Location-Path', Buffer.from(id)],
    ]);
  }

  private update(id: string, req: CoapRequest, res: OutgoingMessage): void {
    const changes = parseRdUpdate(req.query);
    if (!this.sameChannel(id, req, res)) return;
    if (changes.base && channelOf(req).scheme === 'coaps') throw new RegistrationError('"base" is not taken over DTLS: requests go back through the session');
    // RFC 9176 §5.3.1: 4.04 tells the endpoint to register again (unknown, or expired).
    if (!this.opts.link.update(id, { ...(changes.lifetime !== undefined ? { lifetime: changes.lifetime } : {}), ...(changes.base ? { peer: changes.base } : {}) })) {
      respondError(res, '4.04', 'no such registration');
      return;
    }
    respond(res, '2.04');
  }

  private remove(id: string, req: CoapRequest, res: OutgoingMessage): void {
    if (!this.sameChannel(id, req, res)) return;
    if (!this.opts.link.remove(id)) return respondError(res, '4.04', 'no such registration');
    respond(res, '2.02');
  }

  /**
   * An update or removal must come the way the registration did (over DTLS, in a session of the
   * same identity): otherwise anyone who learnt a registration id could move or end it. 4.03.
   * An unknown id passes, to be answered 4.04.
   */
  private sameChannel(id: string, req: CoapRequest, res: OutgoingMessage): boolean {
    const registered = this.opts.link.channelOf(id);
    const channel = channelOf(req);
    if (!registered || (registered.scheme === channel.scheme && registered.pskIdentity === channel.pskIdentity)) return true;
    this.opts.log.warn({ endpoint: this.opts.link.endpointOf(id), peer: peerOf(req), scheme: channel.scheme, identity: channel.pskIdentity ?? null }, 'CoAP request on a registration made over another channel refused');
    respondError(res, '4.03', 'not the channel this endpoint registered over');
    return false;
  }

  private links(req: CoapRequest): Link[] {
    const format = req.option('Content-Format');
    if (format !== undefined && decodeUint(format) !== LwM2mContentFormat.LINK) throw new RegistrationError('the registration payload must be in link format (40)');
    return decodeLinks(req.raw.payload ?? Buffer.alloc(0));
  }
}

function channelOf(req: CoapRequest): CoapChannel {
  const via = req.via;
  if (!via) return { scheme: 'coap' };
  return via.pskIdentity === undefined ? { scheme: via.scheme } : { scheme: via.scheme, pskIdentity: via.pskIdentity };
}

function peerOf(req: CoapRequest): string {
  return `${req.peer.address}:${req.peer.port}`;
}
