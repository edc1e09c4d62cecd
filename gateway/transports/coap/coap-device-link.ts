import { randomBytes } from 'node:crypto';
import type { CoapClient, CoapPeerAddress, Observation } from '../../../common/coap/coap-client.js';
import type { Logger } from '../../../common/logger.js';
import { ContentDecodeError, decodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import type { Link, Operation, OperationResult } from '../../../protocol/model/index.js';
import { DeviceLinkError, type DeviceLink, type DeviceSessionHandler, type SendOptions } from '../../device-link.js';
import { DmExchange, linkErrorOf, type DmTarget } from '../lwm2m/dm-exchange.js';
import { announcedFormatsOf, coapAddressOf, objectLinksOf } from './rd-registration.js';

export interface CoapDeviceLinkOptions {
  client: CoapClient;
  handler: DeviceSessionHandler;
  log: Logger;
  /** Added to the lifetime before a silent registration expires; default a tenth of it, 1 to 15 s. */
  expiryGraceMs?: number;
  /** How often a device managed by its address is probed (GET /.well-known/core); default 5 min. */
  probeIntervalMs?: number;
  /** Deadline of one probe, retransmissions included (default 10 s). */
  probeTimeoutMs?: number;
}

/** How the gateway came to know a device: it registered with the directory, or the operator named its address. */
export type CoapDeviceSource = 'directory' | 'address';

/** How a device reached the directory: plain CoAP, or DTLS in a session of a PSK identity. */
export interface CoapChannel {
  scheme: 'coap' | 'coaps';
  pskIdentity?: string;
}

/** What a registration says: the device's name, where it serves, what it serves. */
export interface CoapDeviceAnnouncement {
  endpoint: string;
  peer: CoapPeerAddress;
  /** Seconds; a directory registration expires after it, a managed device is probed this often. */
  lifetime: number;
  links: Link[];
  /**
   * Registered over DTLS: the client of the endpoint it came through (requests to the device go
   * back through its session) and the channel, which its updates and removal must come by too.
   */
  via?: { client: CoapClient; channel: CoapChannel };
}

interface CoapRegistration {
  id: string;
  endpoint: string;
  source: CoapDeviceSource;
  peer: CoapPeerAddress;
  lifetime: number;
  links: Link[];
  observations: Map<string, Observation>;
  /** The client requests to it go out through (over DTLS, its session's endpoint); default the link's own. */
  client: CoapClient | undefined;
  channel: CoapChannel;
  /** Expiry (directory) or next probe (address). */
  timer: NodeJS.Timeout | undefined;
  /** A managed device whose last probe failed is offline, and kept, until a probe succeeds. */
  reachable: boolean;
}

export class CoapAddressError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CoapAddressError';
  }
}

/**
 * Plain CoAP devices as a DeviceLink (transport `coap`): devices that registered with the
 * gateway's Resource Directory (resource-directory.ts), and devices the operator named by
 * address (`manage`). Requests go to where the device serves (its registration's `base`, or the
 * address it registered from) through the gateway's CoapNode, or, for a device that registered
 * over DTLS, back through its session; with the same request semantics as LwM2M
 * (operation-mapping.ts, via DmExchange).
 */
export class CoapDeviceLink implements DeviceLink {
  readonly transport = 'coap' as const;
  private readonly byId = new Map<string, CoapRegistration>();
  private readonly byEndpoint = new Map<string, CoapRegistration>();
  private readonly dm: DmExchange;
  private closed = false;

  constructor(private readonly opts: CoapDeviceLinkOptions) {
    this.dm = new DmExchange({ client: opts.client, handler: opts.handler, log: opts.log });
  }

  // ---- registrations -----------------------------------------------------------------------

  /** A registration (a new one replaces the endpoint's old one, as RFC 9176 §5.3 asks). Returns its id. */
  register(announced: CoapDeviceAnnouncement, source: CoapDeviceSource): string {
    const registration = this.add(announced, source, true);
    this.schedule(registration);
    this.opts.log.info({ endpoint: registration.endpoint, source, lifetime: registration.lifetime, peer: peerText(registration.peer), scheme: registration.channel.scheme }, 'CoAP device registered');
    this.announce(registration);
    return registration.id;
  }

  private add(announced: CoapDeviceAnnouncement, source: CoapDeviceSource, reachable: boolean): CoapRegistration {
    const previous = this.byEndpoint.get(announced.endpoint);
    if (previous) this.forget(previous, 'registered again', false);
    const registration: CoapRegistration = {
      id: randomBytes(6).toString('hex'),
      endpoint: announced.endpoint,
      source,
      peer: announced.peer,
      lifetime: announced.lifetime,
      links: announced.links,
      observations: new Map(),
      client: announced.via?.client,
      channel: announced.via?.channel ?? { scheme: 'coap' },
      timer: undefined,
      reachable,
    };
    this.byId.set(registration.id, registration);
    this.byEndpoint.set(registration.endpoint, registration);
    return registration;
  }

  /** Registration update: the lifetime starts again; `lt` and `base` may change. False: no such registration. */
  update(id: string, changes: { lifetime?: number; peer?: CoapPeerAddress }): boolean {
    const registration = this.byId.get(id);
    if (!registration) return false;
    const moved = changes.peer !== undefined && peerText(changes.peer) !== peerText(registration.peer);
    if (changes.peer) registration.peer = changes.peer;
    if (changes.lifetime !== undefined) registration.lifetime = changes.lifetime;
    this.schedule(registration);
    this.opts.handler.updated(registration.endpoint, {
      ...(changes.lifetime !== undefined ? { lifetime: changes.lifetime } : {}),
      ...(moved ? { address: peerText(registration.peer) } : {}),
    });
    this.opts.handler.seen(registration.endpoint);
    return true;
  }

  /** Registration removal (RFC 9176 §5.3.2). False: no such registration. */
  remove(id: string): boolean {
    const registration = this.byId.get(id);
    if (!registration) return false;
    this.opts.log.info({ endpoint: registration.endpoint }, 'CoAP device removed its registration');
    this.forget(registration, 'removed its registration', true);
    return true;
  }

  /** The endpoint a registration resource belongs to (for logs). */
  endpointOf(id: string): string | undefined {
    return this.byId.get(id)?.endpoint;
  }

  /** The channel a registration was made over: its updates and removal must come the same way. */
  channelOf(id: string): CoapChannel | undefined {
    return this.byId.get(id)?.channel;
  }

  /** A device's registration as the link holds it (for tests and diagnostics). */
  registration(endpoint: string): Readonly<Pick<CoapRegistration, 'id' | 'source' | 'peer' | 'channel' | 'lifetime'>> | undefined {
    return this.byEndpoint.get(endpoint);
  }

  /** How the gateway knows a device now (it registered, or the operator named its address); undefined when it does not. */
  sourceOf(endpoint: string): CoapDeviceSource | undefined {
    return this.byEndpoint.get(endpoint)?.source;
  }

  /**
   * Manages a device the operator names by address: its `/.well-known/core` tells which objects
   * it has, and from then on it is a registered device that the gateway probes instead of
   * waiting for updates. Throws CoapAddressError for an address that is not `coap://{IP}[:port]`,
   * DeviceLinkError when the device does not answer.
   */
  async manage(endpoint: string, address: string, opts: { timeoutMs: number; lifetimeSeconds: number }): Promise<void> {
    const peer = coapAddressOf(address);
    if (!peer) throw new CoapAddressError(`"${address.slice(0, 200)}" is not coap://{IP address}[:port]`);
    const links = await this.probe(endpoint, peer, opts.timeoutMs);
    this.register({ endpoint, peer, lifetime: opts.lifetimeSeconds, links }, 'address');
  }

  /**
   * A device managed by address before the gateway restarted: known, not yet reachable, probed at
   * once and then as any managed device (online when it answers, offline and kept while it does not).
   */
  restore(endpoint: string, address: string, lifetimeSeconds: number): void {
    const peer = coapAddressOf(address);
    if (!peer) throw new CoapAddressError(`"${address.slice(0, 200)}" is not coap://{IP address}[:port]`);
    const registration = this.add({ endpoint, peer, lifetime: lifetimeSeconds, links: [] }, 'address', false);
    this.opts.log.info({ endpoint, peer: peerText(peer) }, 'CoAP device managed by address restored; probing it');
    void this.reprobe(registration);
  }

  private async probe(endpoint: string, peer: CoapPeerAddress, timeoutMs: number): Promise<Link[]> {
    let response;
    try {
      response = await this.opts.client.request(peer, { method: 'GET', path: ['.well-known', 'core'] }, { timeoutMs });
    } catch (err) {
      throw linkErrorOf(err, endpoint, { timeoutMs });
    }
    if (!response.success) throw new DeviceLinkError('protocol', endpoint, `${endpoint}: /.well-known/core answered ${response.code}`);
    const format = response.contentFormat;
    if (format !== undefined && format !== LwM2mContentFormat.LINK) throw new DeviceLinkError('protocol', endpoint, `${endpoint}: /.well-known/core is not in link format (${format})`);
    try {
      return decodeLinks(response.payload);
    } catch (err) {
      if (err instanceof ContentDecodeError) throw new DeviceLinkError('protocol', endpoint, `${endpoint}: /.well-known/core: ${err.message}`);
      throw err;
    }
  }

  private schedule(registration: CoapRegistration): void {
    clearTimeout(registration.timer);
    if (this.closed) return;
    if (registration.source === 'address') {
      registration.timer = setTimeout(() => void this.reprobe(registration), this.opts.probeIntervalMs ?? Math.min(registration.lifetime * 1000, 2 ** 31 - 1));
    } else {
      // Endpoints update a little before or after their lifetime; short lifetimes get a short grace.
      const grace = this.opts.expiryGraceMs ?? Math.min(15_000, Math.max(1000, registration.lifetime * 100));
      registration.timer = setTimeout(() => {
        if (this.byId.get(registration.id) !== registration) return;
        this.opts.log.info({ endpoint: registration.endpoint, lifetime: registration.lifetime }, 'CoAP registration expired');
        this.forget(registration, 'registration lifetime expired', true);
      }, Math.min(registration.lifetime * 1000 + grace, 2 ** 31 - 1));
    }
    registration.timer.unref();
  }

  /** A managed device's probe: offline while it fails, online again (with fresh links) when it answers. */
  private async reprobe(registration: CoapRegistration): Promise<void> {
    if (this.byId.get(registration.id) !== registration) return;
    try {
      const links = await this.probe(registration.endpoint, registration.peer, this.opts.probeTimeoutMs ?? 10_000);
      if (this.byId.get(registration.id) !== registration) return;
      registration.links = links;
      if (!registration.reachable) {
        registration.reachable = true;
        this.announce(registration);
      } else this.opts.handler.seen(registration.endpoint);
    } catch (err) {
      if (this.byId.get(registration.id) !== registration) return;
      if (registration.reachable) {
        registration.reachable = false;
        DmExchange.forgetObservations(registration);
        this.opts.log.info({ endpoint: registration.endpoint, reason: (err as Error).message }, 'managed CoAP device unreachable');
        this.opts.handler.disconnected(registration.endpoint, 'probe unanswered');
      }
    }
    this.schedule(registration);
  }

  private announce(registration: CoapRegistration): void {
    this.opts.handler.registered(registration.endpoint, {
      transport: 'coap',
      // Not LwM2M: the object model and request semantics edgedm speaks to it are LwM2M 1.1's.
      lwm2mVersion: '1.1',
      lifetime: registration.lifetime,
      binding: 'U',
      queueMode: false,
      objectLinks: objectLinksOf(registration.links),
      address: peerText(registration.peer),
    });
    this.opts.handler.seen(registration.endpoint);
  }

  private forget(registration: CoapRegistration, reason: string, notify: boolean): void {
    clearTimeout(registration.timer);
    this.byId.delete(registration.id);
    if (this.byEndpoint.get(registration.endpoint) === registration) this.byEndpoint.delete(registration.endpoint);
    DmExchange.forgetObservations(registration);
    if (notify) this.opts.handler.deregistered(registration.endpoint, reason);
  }

  // ---- DeviceLink ----------------------------------------------------------------------------

  isConnected(endpoint: string): boolean {
    return this.byEndpoint.get(endpoint)?.reachable === true;
  }

  disconnect(endpoint: string, reason: string): void {
    const registration = this.byEndpoint.get(endpoint);
    if (registration) this.forget(registration, reason, true);
  }

  async send(endpoint: string, operation: Operation, options: SendOptions): Promise<OperationResult> {
    const registration = this.byEndpoint.get(endpoint);
    if (!registration) throw new DeviceLinkError('unreachable', endpoint, `${endpoint} is not registered`);
    return this.dm.send(this.targetOf(registration), operation, options);
  }

  private targetOf(registration: CoapRegistration): DmTarget {
    return {
      id: registration.id,
      endpoint: registration.endpoint,
      peer: registration.peer,
      ...(registration.client ? { client: registration.client } : {}),
      profile: { lwm2mVersion: '1.1', announced: announcedFormatsOf(registration.links), rootPath: [] },
      observations: registration.observations,
      current: () => this.byId.get(registration.id) === registration,
      answered: () => {
        if (this.byId.get(registration.id) === registration) this.opts.handler.seen(registration.endpoint);
      },
    };
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const registration of [...this.byId.values()]) this.forget(registration, 'gateway stopped', false);
  }
}

function peerText(peer: CoapPeerAddress): string {
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}
