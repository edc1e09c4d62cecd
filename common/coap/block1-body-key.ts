import type { ParsedPacket } from 'coap-packet';

/** RFC 9175 §3.2: Request-Tag, which coap-packet does not name (it parses it as "292"). */
export const REQUEST_TAG = 292;

/** Options that make up the request URI (RFC 7252 §6.5); a body belongs to one URI. */
const URI_OPTIONS = new Set<string>(['Uri-Host', 'Uri-Port', 'Uri-Path', 'Uri-Query']);

export function isRequestTag(name: string | number): boolean {
  return name === REQUEST_TAG || name === String(REQUEST_TAG);
}

/** The peer as one string: `address|port`. */
export function peerKey(peer: { address: string; port: number }): string {
  return `${peer.address}|${peer.port}`;
}

/**
 * Which request body a Block1 block belongs to (RFC 7959 §2.5, RFC 9175 §3.3): the same peer,
 * method and request URI, and the same Request-Tag options (their absence being a value of its
 * own). Not the token: libcoap 4.3 clients use a new token for every block. Values are hex, so
 * no byte in a path segment can fake a separator.
 */
export function block1BodyKey(packet: ParsedPacket, peer: { address: string; port: number }): string {
  const uri = packet.options.filter((o) => URI_OPTIONS.has(String(o.name))).map((o) => `${o.name}=${o.value.toString('hex')}`);
  const tags = packet.options.filter((o) => isRequestTag(o.name)).map((o) => o.value.toString('hex'));
  const tag = tags.length === 0 ? 'untagged' : `tag=${tags.join(',')}`;
  return `${peerKey(peer)} ${packet.code} ${uri.join('&')} ${tag}`;
}
