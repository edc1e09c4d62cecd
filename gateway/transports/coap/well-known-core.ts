import type { OutgoingMessage } from 'coap';
import { respond, respondError } from '../../../common/coap/coap-response.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import { encodeUint, filterLinks } from '../../../protocol/coap/index.js';
import { encodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import type { Link } from '../../../protocol/model/index.js';

/**
 * The gateway's resource discovery (RFC 6690 §4): `GET /.well-known/core`, filtered by the
 * query (`?rt=core.rd` is how a CoAP device finds the Resource Directory, RFC 9176 §4.3). The
 * parts served on the CoAP endpoint add the links they want advertised.
 */
export class WellKnownCore {
  private readonly links: Link[] = [];

  add(link: Link): void {
    this.links.push(link);
  }

  /** The CoAP handler of the `.well-known` route. */
  readonly handle = (req: CoapRequest, res: OutgoingMessage): void => {
    if (req.path.length !== 2 || req.path[1] !== 'core') return respondError(res, '4.04', 'no such resource');
    if (req.method !== 'GET') return respondError(res, '4.05', '/.well-known/core takes GET');
    respond(res, '2.05', Buffer.from(encodeLinks(filterLinks(this.links, req.query))), [['Content-Format', encodeUint(LwM2mContentFormat.LINK)]]);
  };
}
