import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { CoapPeerAddress } from '../../../common/coap/coap-client.js';
import type { CoapNode } from '../../../common/coap/coap-node.js';
import { SecurityResource, ServerResource } from '../../../protocol/model/objects/index.js';
import type { AgentObjects } from '../../objects/index.js';

/** Lifetime when the Server object names none (LwM2M 1.1 Core, Table 6.2.1-1). */
export const DEFAULT_LIFETIME_S = 86_400;
/** The CoAP default ports (RFC 7252 §6.1, §6.2). */
const COAP_PORT = 5683;
const COAPS_PORT = 5684;
/** LwM2M Security Mode (/0/x/2) 0: pre-shared key; 3: NoSec. */
const SECURITY_MODE_PSK = 0;

/** Where an LwM2M server listens, from its Security object URI (`coap://host:port`). */
export interface CoapServerAddress {
  uri: string;
  host: string;
  port: number;
}

/** A DM server account as the LwM2M binding uses it: Security instance + the Server instance of the same Short Server ID. */
export interface Lwm2mServerAccount extends CoapServerAddress {
  shortServerId: number | undefined;
  /** Registration lifetime, seconds (/1/x/1). */
  lifetime: number;
  /** Binding letters (/1/x/7); a `Q` asks for queue mode (the LwM2M 1.0 way). */
  binding: string;
  /** Notification Storing When Disabled or Offline (/1/x/6): keep notifications while asleep. */
  notificationStoring: boolean;
  /** A coaps:// account: the DTLS pre-shared key (Security /0/x/3 identity, /0/x/5 key). Absent: plain CoAP (NoSec). */
  psk?: { identity: Buffer; key: Buffer };
}

/**
 * `coap://host[:port]` → host and port (plain CoAP: the bootstrap server, the Resource
 * Directory). `parseServerUri` also takes `coaps://`.
 */
export function parseCoapUri(uri: string): CoapServerAddress | undefined {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'coap:' || url.hostname === '') return undefined;
  const port = url.port === '' ? COAP_PORT : Number(url.port);
  return { uri, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port };
}

/**
 * `coaps://host[:port]` (CoAP over DTLS, default port 5684) or `coap://host[:port]`.
 */
export function parseServerUri(uri: string): (CoapServerAddress & { secure: boolean }) | undefined {
  const plain = parseCoapUri(uri);
  if (plain) return { ...plain, secure: false };
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return undefined;
  }
  if (url.protocol !== 'coaps:' || url.hostname === '') return undefined;
  const port = url.port === '' ? COAPS_PORT : Number(url.port);
  return { uri, host: url.hostname.replace(/^\[(.*)\]$/, '$1'), port, secure: true };
}

/**
 * The first DM server account the binding can register with: a Security instance that is not
 * the bootstrap account, with a `coap://` URI, or a `coaps://` one in Security Mode 0 (PSK)
 * with an identity and a key, and a Server instance of its Short Server ID (LwM2M 1.1 Core
 * §E.1: the two are linked by that id). NoSec (mode 3) needs no identity or key, which is why
 * this does not use SecurityObject.dmServerAccount() (it wants both).
 */
export function lwm2mServerAccount(objects: AgentObjects): Lwm2mServerAccount | undefined {
  for (const security of objects.security.instancesOf()) {
    if (security.get(SecurityResource.BOOTSTRAP_SERVER) === true) continue;
    const uri = security.get<string>(SecurityResource.LWM2M_SERVER_URI);
    const parsed = typeof uri === 'string' ? parseServerUri(uri) : undefined;
    if (!parsed) continue;
    const { secure, ...address } = parsed;
    let psk: Lwm2mServerAccount['psk'];
    if (secure) {
      // Raw public keys and certificates (modes 1, 2, 4) are not supported: PSK only.
      const identity = security.get(SecurityResource.PUBLIC_KEY_OR_IDENTITY);
      const key = security.get(SecurityResource.SECRET_KEY);
      if (security.get(SecurityResource.SECURITY_MODE) !== SECURITY_MODE_PSK || !(identity instanceof Uint8Array) || !(key instanceof Uint8Array) || identity.length === 0 || key.length === 0) continue;
      psk = { identity: Buffer.from(identity), key: Buffer.from(key) };
    }
    const ssid = security.get(SecurityResource.SHORT_SERVER_ID);
    const shortServerId = typeof ssid === 'number' ? ssid : undefined;
    const server = objects.servers().find((s) => shortServerId === undefined || s.get(ServerResource.SHORT_SERVER_ID) === shortServerId);
    if (!server) continue;
    const lifetime = server.get(ServerResource.LIFETIME);
    const binding = server.get(ServerResource.BINDING);
    const storing = server.get(ServerResource.NOTIFICATION_STORING_WHEN_DISABLED_OR_OFFLINE);
    return {
      ...address,
      shortServerId,
      lifetime: typeof lifetime === 'number' && lifetime > 0 ? lifetime : DEFAULT_LIFETIME_S,
      binding: typeof binding === 'string' ? binding : 'U',
      notificationStoring: storing !== false,
      ...(psk ? { psk } : {}),
    };
  }
  return undefined;
}

/** The factory Bootstrap-Server account (LwM2M 1.1 §7.1): where, and over DTLS with which PSK. */
export interface BootstrapServerAccount extends CoapServerAddress {
  /** A coaps:// account: identity (the endpoint name) and the key derived from the factory secret. */
  psk?: { identity: Buffer; key: Buffer };
}

/** The bootstrap server of the factory account, when its URI is one this binding speaks (coap://, or coaps:// with a PSK). */
export function bootstrapServerAddress(objects: AgentObjects): BootstrapServerAccount | undefined {
  const instance = objects.security.instancesOf().find((i) => i.get(SecurityResource.BOOTSTRAP_SERVER) === true);
  const uri = instance?.get<string>(SecurityResource.LWM2M_SERVER_URI);
  const parsed = typeof uri === 'string' ? parseServerUri(uri) : undefined;
  if (!instance || !parsed) return undefined;
  const { secure, ...address } = parsed;
  if (!secure) return address;
  const identity = instance.get(SecurityResource.PUBLIC_KEY_OR_IDENTITY);
  const key = instance.get(SecurityResource.SECRET_KEY);
  if (instance.get(SecurityResource.SECURITY_MODE) !== SECURITY_MODE_PSK || !(identity instanceof Uint8Array) || !(key instanceof Uint8Array) || identity.length === 0 || key.length === 0) return undefined;
  return { ...address, psk: { identity: Buffer.from(identity), key: Buffer.from(key) } };
}

/** The UDP peer of a server address (a host name is looked up in the socket's family). */
export async function resolvePeer(address: CoapServerAddress, family: 4 | 6): Promise<CoapPeerAddress> {
  if (isIP(address.host)) return { address: address.host, port: address.port };
  const found = await lookup(address.host, { family });
  return { address: found.address, port: address.port };
}

/** Whether a request came from this peer (IPv4-mapped IPv6 addresses compare as IPv4). */
export function samePeer(a: CoapPeerAddress, b: CoapPeerAddress): boolean {
  const plain = (s: string) => s.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, '');
  return a.port === b.port && plain(a.address) === plain(b.address);
}

/** The address family of a node's socket: a server's host name is looked up in it. */
export function familyOf(node: CoapNode): 4 | 6 {
  return /^coaps?:\/\/\[/.test(node.url) ? 6 : 4;
}
