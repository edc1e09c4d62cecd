import { isIP } from 'node:net';
import type { CoapPeerAddress } from '../../../common/coap/coap-client.js';
import { isValidEndpointName } from '../../../protocol/endpoint.js';
import { LwM2mContentFormat, parseAnnouncedFormats } from '../../../protocol/lwm2m/index.js';
import { LwM2mPath, type Link } from '../../../protocol/model/index.js';
import { parseQuery, RegistrationError } from '../lwm2m/registration.js';

/** RFC 9176 §5.3: the lifetime of a registration that names none (25 hours). */
export const RD_DEFAULT_LIFETIME_SECONDS = 90_000;
/** The CoAP default port (RFC 7252 §6.1). */
const COAP_PORT = 5683;

/** What an endpoint told the Resource Directory when it registered (RFC 9176 §5.3). */
export interface RdRegistrationParams {
  endpoint: string;
  lifetime: number;
  /** Where the endpoint serves its resources (`base=coap://…`); undefined: the request's source address. */
  base: CoapPeerAddress | undefined;
  /** Sector (`d=`), kept for logs: edgedm has one. */
  sector: string | undefined;
  links: Link[];
}

/** Registration: `POST /{rd}?ep=…[&lt=…][&base=…][&d=…][&et=…]`, other attributes accepted and ignored (RFC 9176 §9.3). */
export function parseRdRegister(query: readonly string[], links: Link[]): RdRegistrationParams {
  const p = parseQuery(query);
  const endpoint = p.get('ep');
  if (endpoint === undefined || endpoint === '') throw new RegistrationError('the endpoint name "ep" is missing');
  if (!isValidEndpointName(endpoint)) throw new RegistrationError(`endpoint name "${endpoint.slice(0, 128)}" is not valid here (1–64 of A–Z a–z 0–9 . _ -)`);
  const base = p.get('base');
  return {
    endpoint,
    lifetime: p.has('lt') ? lifetimeOf(p.get('lt')) : RD_DEFAULT_LIFETIME_SECONDS,
    base: base === undefined ? undefined : baseOf(base),
    sector: p.get('d'),
    links,
  };
}

/** Registration update: `POST /{location}[?lt=…][&base=…]` (RFC 9176 §5.3.1); other names are 4.00. */
export function parseRdUpdate(query: readonly string[]): { lifetime?: number; base?: CoapPeerAddress } {
  const p = parseQuery(query);
  for (const name of p.keys()) if (!['lt', 'base', 'et', 'd'].includes(name)) throw new RegistrationError(`parameter "${name}" is not allowed in an update`);
  const base = p.get('base');
  return { ...(p.has('lt') ? { lifetime: lifetimeOf(p.get('lt')) } : {}), ...(base !== undefined ? { base: baseOf(base) } : {}) };
}

function lifetimeOf(value: string | undefined): number {
  if (value === undefined || !/^\d{1,10}$/.test(value)) throw new RegistrationError(`lifetime "lt=${value ?? ''}" must be a number of seconds`);
  const lt = Number(value);
  // RFC 9176 §5.3: 1 to 2^32-1; below 60 s it is legal but useless, and is kept as given.
  if (lt < 1 || lt > 0xffffffff) throw new RegistrationError(`lifetime ${lt} out of range`);
  return lt;
}

/**
 * `base=coap://host[:port]`: an IP literal only. A name would make the directory resolve what
 * a NoSec peer tells it; the source address is what requests follow without `base`.
 */
export function baseOf(value: string): CoapPeerAddress {
  const address = coapAddressOf(value);
  if (!address) throw new RegistrationError(`"base=${value.slice(0, 100)}" must be coap://{IP address}[:port]`);
  return address;
}

/** `coap://192.0.2.1:5683` or `coap://[2001:db8::1]` → address and port; undefined for anything else. */
export function coapAddressOf(uri: string): CoapPeerAddress | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1');
  if (url.protocol !== 'coap:' || !isIP(host) || (url.pathname !== '' && url.pathname !== '/')) return undefined;
  return { address: host, port: url.port === '' ? COAP_PORT : Number(url.port) };
}

/** The links that name LwM2M object instances (or objects), as the registry keeps them: `/3/0`, `/5/0`, `/1`. */
export function objectLinksOf(links: readonly Link[]): Link[] {
  return links
    .filter((l) => {
      try {
        const path = LwM2mPath.parse(l.target);
        return path.isObject() || path.isObjectInstance();
      } catch {
        return false;
      }
    })
    .map((l) => ({ target: l.target, attributes: { ...l.attributes } }));
}

/** Formats the device's instance links announce with `ct` (SenML and the LwM2M formats); SenML CBOR when none does. */
export function announcedFormatsOf(links: readonly Link[]): number[] {
  const instanceFormats: number[] = [LwM2mContentFormat.SENML_CBOR, LwM2mContentFormat.SENML_JSON, LwM2mContentFormat.TLV, LwM2mContentFormat.JSON];
  const found = new Set(links.flatMap((l) => parseAnnouncedFormats(l.attributes.ct)).filter((f) => instanceFormats.includes(f)));
  return found.size > 0 ? [...found] : [LwM2mContentFormat.SENML_CBOR];
}
