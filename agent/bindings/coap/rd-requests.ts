import type { CoapRequestSpec, CoapResponse } from '../../../common/coap/coap-client.js';
import { encodeUint } from '../../../protocol/coap/index.js';
import { ContentDecodeError, decodeLinks, encodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import type { Link } from '../../../protocol/model/index.js';
import { parseServerUri, type CoapServerAddress } from '../lwm2m/accounts.js';

/** The registration interface's path when discovery names none (RFC 9176 §3.3 uses `/rd` in its examples). */
export const FALLBACK_RD_PATH: readonly string[] = ['rd'];

/** A Resource Directory to register with: its address and, when the URI names one, its path. */
export interface ResourceDirectory extends CoapServerAddress {
  /** Uri-Path segments of the registration interface; undefined: discover it (RFC 9176 §4.1). */
  path: string[] | undefined;
  /** `coaps://`: over DTLS with a pre-shared key. */
  secure: boolean;
}

/** `coap(s)://host[:port]` (the path is discovered) or `coap(s)://host:port/some/rd` (the path is given). */
export function parseResourceDirectoryUri(uri: string): ResourceDirectory | undefined {
  const address = parseServerUri(uri);
  if (!address) return undefined;
  const segments = new URL(uri).pathname.split('/').filter(Boolean).map(decodeURIComponent);
  return { ...address, path: segments.length > 0 ? segments : undefined };
}

/** RFC 9176 §4.3: `GET /.well-known/core?rt=core.rd` finds the registration interface. */
export function rdDiscoveryRequest(): CoapRequestSpec {
  return { method: 'GET', path: ['.well-known', 'core'], query: ['rt=core.rd'] };
}

/**
 * The registration interface's path from a discovery answer: the first link whose `rt` holds
 * `core.rd` (its target a path, or a URI whose path is taken). Undefined when there is none.
 */
export function rdPathOf(response: CoapResponse): string[] | undefined {
  if (!response.success) return undefined;
  let links: Link[];
  try {
    links = decodeLinks(response.payload);
  } catch (err) {
    if (err instanceof ContentDecodeError) return undefined;
    throw err;
  }
  const rd = links.find((l) => (l.attributes.rt ?? '').split(/\s+/).includes('core.rd'));
  if (!rd) return undefined;
  let target = rd.target;
  if (/^[a-z][a-z0-9+.-]*:/i.test(target)) {
    try {
      target = new URL(target).pathname;
    } catch {
      return undefined;
    }
  }
  const segments = target.split('/').filter(Boolean).map(decodeURIComponent);
  return segments.length > 0 ? segments : undefined;
}

export interface RdRegisterParams {
  endpoint: string;
  lifetime: number;
  links: readonly Link[];
}

/**
 * Registration (RFC 9176 §5.3): `POST /{rd}?ep=…&lt=…` with the endpoint's links in link format.
 * No `base`: the directory takes the request's source address, which is right behind a NAT too.
 */
export function rdRegisterRequest(rdPath: readonly string[], p: RdRegisterParams): CoapRequestSpec {
  return {
    method: 'POST',
    path: [...rdPath],
    query: [`ep=${p.endpoint}`, `lt=${p.lifetime}`],
    options: [['Content-Format', encodeUint(LwM2mContentFormat.LINK)]],
    payload: encodeLinks(p.links),
  };
}
