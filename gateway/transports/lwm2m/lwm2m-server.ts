import { randomBytes } from 'node:crypto';
import type { OutgoingMessage } from 'coap';
import type { CoapClient, CoapPeerAddress, Observation } from '../../../common/coap/coap-client.js';
import type { Logger } from '../../../common/logger.js';
import { ContentDecodeError, decodeLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import { decodeUint } from '../../../protocol/coap/index.js';
import type { Link, Operation, OperationResult } from '../../../protocol/model/index.js';
import { respond, respondError } from '../../../common/coap/coap-response.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import { DeviceLinkError, type DeviceLink, type DeviceSessionHandler, type SendOptions } from '../../device-link.js';
import { DmExchange, type DmTarget } from './dm-exchange.js';
import { parseRegister, parseUpdate, RegistrationError, type RegistrationParams } from './registration.js';

export interface Lwm2mServerOptions {
  client: CoapClient;
  handler: DeviceSessionHandler;
  log: Logger;
  /**
   * How long a queue-mode client listens after it last spoke (LwM2M 1.1 §6.5: at least CoAP
   * MAX_TRANSMIT_WAIT, 93 s). Requests outside that window wait for its next Update.
   */
  queueAwakeMs?: number;
  /** Added to the lifetime before a silent registration expires; default a tenth of it, 1 to 15 s. */
  expiryGraceMs?: number;
  /**
   * Whether an endpoint may register over the channel a request came by (plain CoAP, or DTLS
   * with a PSK identity): undefined allows, a reason refuses (4.03). Default: every admitted endpoint.
   */
  authorize?: (endpoint: string, channel: RegistrationChannel) => string | undefined;
  now?: () => number;
}

/** How a client reached the server: its requests go back the same way, and later ones must come the same way. */
export interface RegistrationChannel {
  scheme: 'coap' | 'coaps';
  pskIdentity?: string;
}

interface Registration {
  id: string;
  endpoint: string;
  peer: CoapPeerAddress;
  /** The endpoint (plain CoAP or DTLS) the client registered through: requests to it go out there. */
  client: CoapClient;
  channel: RegistrationChannel;
  params: RegistrationParams;
  registeredAt: number;
  lastSeen: number;
  expiry: NodeJS.Timeout;
  /** Queue mode: requests held until the client wakes, in the order they were made. */
  held: { run: () => void; fail: (err: Error) => void }[];
  observations: Map<string, Observation>;
  sleepTimer: NodeJS.Timeout | undefined;
}

/**
 * The LwM2M server's Registration interface (`/rd`, OMA LwM2M 1.1 Core §6.2) and its Device
 * Management & Information Reporting side as a DeviceLink (§6.3, §6.4): the fleet layer sends
 * model operations, this turns them into CoAP requests to the address the client registered
 * from, through the endpoint's one socket.
 */
export class Lwm2mServer implements DeviceLink {
  readonly transport = 'lwm2m' as const;
  private readonly byId = new Map<string, Registration>();
  private readonly byEndpoint = new Map<string, Registration>();
  private readonly now: () => number;
  private readonly dm: DmExchange;
  private closed = false;

  constructor(private readonly opts: Lwm2mServerOptions) {
    this.now = opts.now ?? Date.now;
    this.dm = new DmExchange({ client: opts.client, handler: opts.handler, log: opts.log });
  }

  /** The CoAP handler of the `rd` route. */
  readonly handle = (req: CoapRequest, res: OutgoingMessage): void => {
    const [, id, ...rest] = req.path;
    try {
      if (id === undefined && req.method === 'POST') return this.register(req, res);
      if (id !== undefined && rest.length === 0 && req.method === 'POST') return this.update(id, req, res);
      if (id !== undefined && rest.length === 0 && req.method === 'DELETE') return this.deregister(id, req, res);
      respondError(res, '4.05', 'the registration interface takes POST /rd, POST /rd/{id} and DELETE /rd/{id}');
    } catch (err) {
      if (err instanceof RegistrationError || err instanceof ContentDecodeError) {
        this.opts.log.info({ peer: peerOf(req), reason: err.message }, 'LwM2M registration refused');
        respondError(res, '4.00', err.message);
        return;
      }
      throw err;
    }
  };

  // ---- Registration interface ----------------------------------------------------------------

  private register(req: CoapRequest, res: OutgoingMessage): void {
    const params = parseRegister(req.query, this.links(req));
    if (!this.opts.handler.admit(params.endpoint, 'lwm2m')) {
      this.opts.log.warn({ endpoint: params.endpoint, peer: peerOf(req) }, 'LwM2M registration of an unknown or decommissioned endpoint refused');
      respondError(res, '4.03', 'endpoint not admitted');
      return;
    }
    const channel = channelOf(req);
    const refused = this.opts.authorize?.(params.endpoint, channel);
    if (refused !== undefined) {
      this.opts.log.warn({ endpoint: params.endpoint, peer: peerOf(req), scheme: channel.scheme, identity: channel.pskIdentity ?? null, reason: refused }, 'LwM2M registration refused');
      respondError(res, '4.03', refused);
      return;
    }
    const previous = this.byEndpoint.get(params.endpoint);
    // A new registration replaces the old one (the client rebooted, or lost our answer).
    if (previous) this.forget(previous, 'registered again', false);
    const now = this.now();
    const registration: Registration = {
      id: randomBytes(6).toString('hex'),
      endpoint: params.endpoint,
      peer: { address: req.peer.address, port: req.peer.port },
      client: req.via?.client ?? this.opts.client,
      channel,
      params,
      registeredAt: now,
      lastSeen: now,
      expiry: this.expiryTimer(params.endpoint, params.lifetime),
      held: [],
      observations: new Map(),
      sleepTimer: undefined,
    };
    this.byId.set(registration.id, registration);
    this.byEndpoint.set(params.endpoint, registration);
    respond(res, '2.01', Buffer.alloc(0), [
      ['Location-Path', Buffer.from('rd')],
      ['Location-Path', Buffer.from(registration.id)],
    ]);
    this.opts.log.info({ endpoint: params.endpoint, lwm2m: params.lwm2mVersion, binding: params.binding, queue: params.queueMode, lifetime: params.lifetime, peer: peerOf(req), scheme: channel.scheme }, 'LwM2M client registered');
    this.opts.handler.registered(params.endpoint, {
      transport: 'lwm2m',
      lwm2mVersion: params.lwm2mVersion,
      lifetime: params.lifetime,
      binding: params.binding,
      queueMode: params.queueMode,
      objectLinks: params.objectLinks,
      address: `${req.peer.address}:${req.peer.port}`,
    });
    this.awake(registration);
  }

  private update(id: string, req: CoapRequest, res: OutgoingMessage): void {
    const registration = this.byId.get(id);
    if (!registration) {
      // Unknown or expired: the client must register again (§6.2.2).
      respondError(res, '4.04', 'no such registration');
      return;
    }
    if (!this.sameChannel(registration, req, res)) return;
    const payload = req.raw.payload;
    const changes = parseUpdate(req.query, payload && payload.length > 0 ? this.links(req) : undefined, registration.params.rootPath);
    const p = registration.params;
    registration.params = {
      ...p,
      ...(changes.lifetime !== undefined ? { lifetime: changes.lifetime } : {}),
      ...(changes.binding !== undefined ? { binding: changes.binding } : {}),
      ...(changes.queueMode !== undefined ? { queueMode: changes.queueMode } : {}),
      ...(changes.objectLinks ? { objectLinks: changes.objectLinks } : {}),
    };
    // The client may have moved (NAT rebinding): requests follow it.
    const moved = registration.peer.address !== req.peer.address || registration.peer.port !== req.peer.port;
    registration.peer = { address: req.peer.address, port: req.peer.port };
    clearTimeout(registration.expiry);
    registration.expiry = this.expiryTimer(registration.endpoint, registration.params.lifetime);
    respond(res, '2.04');
    this.opts.handler.updated(registration.endpoint, {
      ...(changes.lifetime !== undefined ? { lifetime: changes.lifetime } : {}),
      ...(changes.objectLinks ? { objectLinks: changes.objectLinks } : {}),
      ...(moved ? { address: `${req.peer.address}:${req.peer.port}` } : {}),
    });
    this.awake(registration);
  }

  private deregister(id: string, req: CoapRequest, res: OutgoingMessage): void {
    const registration = this.byId.get(id);
    if (!registration) {
      respondError(res, '4.04', 'no such registration');
      return;
    }
    if (!this.sameChannel(registration, req, res)) return;
    respond(res, '2.02');
    this.opts.log.info({ endpoint: registration.endpoint, peer: peerOf(req) }, 'LwM2M client deregistered');
    this.forget(registration, 'de-registered', true);
  }

  /**
   * An Update or De-register must come the way the Register did (over DTLS, in a session of the
   * same identity): otherwise anyone who learnt a registration id could move or end it. 4.03.
   */
  private sameChannel(registration: Registration, req: CoapRequest, res: OutgoingMessage): boolean {
    const channel = channelOf(req);
    if (channel.scheme === registration.channel.scheme && channel.pskIdentity === registration.channel.pskIdentity) return true;
    this.opts.log.warn({ endpoint: registration.endpoint, peer: peerOf(req), scheme: channel.scheme, identity: channel.pskIdentity ?? null }, 'LwM2M request on a registration made over another channel refused');
    respondError(res, '4.03', 'not the channel this client registered over');
    return false;
  }

  private links(req: CoapRequest): Link[] {
    const format = req.option('Content-Format');
    if (format !== undefined && decodeUint(format) !== LwM2mContentFormat.LINK) throw new RegistrationError('the registration payload must be in core link format (40)');
    return decodeLinks(req.raw.payload ?? Buffer.alloc(0));
  }

  private expiryTimer(endpoint: string, lifetimeSeconds: number): NodeJS.Timeout {
    // Clients update a little before or after their lifetime; short lifetimes get a short grace.
    const grace = this.opts.expiryGraceMs ?? Math.min(15_000, Math.max(1000, lifetimeSeconds * 100));
    const ms = Math.min(lifetimeSeconds * 1000 + grace, 2 ** 31 - 1);
    const timer = setTimeout(() => {
      const registration = this.byEndpoint.get(endpoint);
      if (!registration || registration.expiry !== timer) return;
      this.opts.log.info({ endpoint, lifetime: lifetimeSeconds }, 'LwM2M registration expired');
      this.forget(registration, 'registration lifetime expired', true);
    }, ms);
    timer.unref();
    return timer;
  }

  /** The client spoke: a queue-mode client now listens for a while; held requests go out. */
  private awake(registration: Registration): void {
    registration.lastSeen = this.now();
    this.opts.handler.seen(registration.endpoint);
    if (!registration.params.queueMode) return;
    clearTimeout(registration.sleepTimer);
    registration.sleepTimer = setTimeout(() => {
      if (this.byId.get(registration.id) !== registration) return;
      this.opts.handler.sleeping(registration.endpoint);
    }, this.opts.queueAwakeMs ?? 93_000);
    registration.sleepTimer.unref();
    const held = registration.held.splice(0);
    for (const h of held) h.run();
  }

  private isAwake(registration: Registration): boolean {
    return !registration.params.queueMode || this.now() - registration.lastSeen < (this.opts.queueAwakeMs ?? 93_000);
  }

  private forget(registration: Registration, reason: string, notify: boolean): void {
    clearTimeout(registration.expiry);
    clearTimeout(registration.sleepTimer);
    this.byId.delete(registration.id);
    if (this.byEndpoint.get(registration.endpoint) === registration) this.byEndpoint.delete(registration.endpoint);
    DmExchange.forgetObservations(registration);
    for (const h of registration.held.splice(0)) h.fail(new DeviceLinkError('unreachable', registration.endpoint, `${registration.endpoint}: ${reason}`));
    if (notify) this.opts.handler.deregistered(registration.endpoint, reason);
  }

  // ---- DeviceLink -------------------------------------------------------------------------------

  isConnected(endpoint: string): boolean {
    return this.byEndpoint.has(endpoint);
  }

  /** Whether a request now would wait for the client to wake (queue mode). */
  isSleeping(endpoint: string): boolean {
    const r = this.byEndpoint.get(endpoint);
    return !!r && !this.isAwake(r);
  }

  registration(endpoint: string): Readonly<Pick<Registration, 'id' | 'peer' | 'channel' | 'params' | 'registeredAt' | 'lastSeen'>> | undefined {
    return this.byEndpoint.get(endpoint);
  }

  disconnect(endpoint: string, reason: string): void {
    const registration = this.byEndpoint.get(endpoint);
    if (registration) this.forget(registration, reason, true);
  }

  async send(endpoint: string, operation: Operation, options: SendOptions): Promise<OperationResult> {
    const registration = this.byEndpoint.get(endpoint);
    if (!registration) throw new DeviceLinkError('unreachable', endpoint, `${endpoint} is not registered`);
    const deadline = this.now() + options.timeoutMs;
    if (!this.isAwake(registration)) await this.waitForWake(registration, options);
    return this.dm.send(this.targetOf(registration), operation, options, Math.max(1, deadline - this.now()));
  }

  private targetOf(registration: Registration): DmTarget {
    return {
      id: registration.id,
      endpoint: registration.endpoint,
      peer: registration.peer,
      client: registration.client,
      profile: { lwm2mVersion: registration.params.lwm2mVersion, announced: registration.params.announcedFormats, rootPath: registration.params.rootPath },
      observations: registration.observations,
      current: () => this.byId.get(registration.id) === registration,
      answered: () => this.seenResponse(registration),
    };
  }

  private waitForWake(registration: Registration, options: SendOptions): Promise<void> {
    this.opts.log.debug({ endpoint: registration.endpoint }, 'request held until the queue-mode client wakes');
    return new Promise<void>((resolve, reject) => {
      const entry = {
        run: () => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          resolve();
        },
        fail: (err: Error) => {
          clearTimeout(timer);
          options.signal?.removeEventListener('abort', onAbort);
          reject(err);
        },
      };
      const drop = (err: Error) => {
        const i = registration.held.indexOf(entry);
        if (i >= 0) registration.held.splice(i, 1);
        entry.fail(err);
      };
      const timer = setTimeout(() => drop(new DeviceLinkError('timeout', registration.endpoint, `${registration.endpoint} is asleep and did not wake within ${options.timeoutMs} ms`)), options.timeoutMs);
      const onAbort = () => drop(new DeviceLinkError('cancelled', registration.endpoint, 'request cancelled'));
      options.signal?.addEventListener('abort', onAbort, { once: true });
      registration.held.push(entry);
    });
  }

  /** Any answer from a queue-mode client restarts its awake window. */
  private seenResponse(registration: Registration): void {
    if (this.byId.get(registration.id) !== registration) return;
    registration.lastSeen = this.now();
    this.opts.handler.seen(registration.endpoint);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    for (const registration of [...this.byId.values()]) this.forget(registration, 'server stopped', false);
  }
}

function channelOf(req: CoapRequest): RegistrationChannel {
  const via = req.via;
  if (!via) return { scheme: 'coap' };
  return via.pskIdentity === undefined ? { scheme: via.scheme } : { scheme: via.scheme, pskIdentity: via.pskIdentity };
}

function peerOf(req: CoapRequest): string {
  return `${req.peer.address}:${req.peer.port}`;
}
