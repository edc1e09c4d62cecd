import type { ObserveWriteStream, OutgoingMessage } from 'coap';
import { backoffDelay, sleep } from '../../../common/backoff.js';
import { CoapTimeoutError, type CoapPeerAddress, type CoapRequestSpec, type CoapResponse } from '../../../common/coap/coap-client.js';
import { CoapNode } from '../../../common/coap/coap-node.js';
import { DtlsError, type DtlsSession } from '../../../common/dtls/index.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import { formatLinks } from '../../../protocol/lwm2m/index.js';
import { ResultCode } from '../../../protocol/model/index.js';
import { ServerResource } from '../../../protocol/model/objects/index.js';
import type { Notification } from '../../observation/observation-manager.js';
import type { AgentBinding } from '../binding.js';
import { bootstrapServerAddress, familyOf, lwm2mServerAccount, resolvePeer, samePeer, type Lwm2mServerAccount } from './accounts.js';
import { openBindingNode, openSecureBindingNode, type CoapAgentBindingOptions } from './binding-node.js';
import { bootstrapReply } from './bootstrap-interface.js';
import { dropRequest, errorReply, requestView, sendReply, type Reply } from './coap-reply.js';
import { DmRequests } from './dm-requests.js';
import { UpdateSchedule } from './update-schedule.js';
import { ObserveStreams } from './observe-streams.js';
import { bootstrapRequest, deregisterRequest, diagnosticOf, LWM2M_VERSION, registerRequest, updateRequest } from './registration-requests.js';

export interface Lwm2mBindingOptions extends CoapAgentBindingOptions {
  /** Register in queue mode (the `Q` parameter); default: whether the Server object's binding (/1/x/7) has a `Q`. */
  queueMode?: boolean;
  /** Queue mode: how long the client listens after it last sent something (default CoAP MAX_TRANSMIT_WAIT, 93 s). */
  queueAwakeMs?: number;
  /** Longest time between Updates (default: from the lifetime only; in queue mode this is how often the device wakes). */
  updateIntervalMs?: number;
  /** Deadline of one Register, Update, De-register or Bootstrap-Request exchange, retransmissions included (default 60 s). */
  requestTimeoutMs?: number;
  /** Bootstrap fails when the bootstrap server is silent this long before its Bootstrap-Finish (default 60 s). */
  bootstrapTimeoutMs?: number;
  /** Updates retried after a timeout before the client registers again (default 2). */
  updateRetries?: number;
  /** `pct=` of the Bootstrap-Request: the format the client prefers for Bootstrap-Write (LwM2M 1.1). */
  preferredContentFormat?: number;
  /** Notifications kept while asleep (default 100; older ones are dropped). */
  maxStoredNotifications?: number;
}

/** LwM2M 1.1 Core §6.5: a queue-mode client listens at least MAX_TRANSMIT_WAIT after it sent something. */
const DEFAULT_QUEUE_AWAKE_MS = 93_000;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const DEREGISTER_TIMEOUT_MS = 5_000;
const LOG_CLASS_SYSTEM = 1;
/**
 * DTLS handshakes with a coaps:// DM server that fail in a row (no answer) before the client
 * returns to bootstrap (when /1/x/16 allows): its key may have been rotated. A handshake the
 * server refuses with an alert (wrong key, unknown identity) sends it there at once.
 */
const SECURE_FAILURES_BEFORE_BOOTSTRAP = 3;

/** The DM server answered Register with a 4.xx: retrying the same account is pointless. */
class RegistrationRefusedError extends Error {
  constructor(readonly code: string, diagnostic: string) {
    super(`registration refused: ${code}${diagnostic ? ` ${diagnostic}` : ''}`);
    this.name = 'RegistrationRefusedError';
  }
}

/** What the client registered with, as the server knows it now. */
interface Registration {
  /** The node the registration went out on (the plain one, or the DTLS one of a coaps:// account). */
  node: CoapNode;
  peer: CoapPeerAddress;
  /** Location-Path of the Register answer: where Updates and the De-register go. */
  location: string[];
  lifetime: number;
  /** The object list as last sent (link format), to send it again only when it changed. */
  links: string;
  queueMode: boolean;
  notificationStoring: boolean;
}

/** Between a Bootstrap-Request and the Bootstrap-Finish: whose requests are served as bootstrap. */
interface BootstrapSession {
  peer: CoapPeerAddress;
  /** Over DTLS (a coaps:// bootstrap account): its requests are taken only from the DTLS session. */
  secure: boolean;
  /** The bootstrap server spoke: its silence timer starts again. */
  touch(): void;
  finish(): void;
}

/**
 * The agent's LwM2M 1.1 client over CoAP/UDP (NoSec) or CoAP over DTLS with a pre-shared key
 * (coaps://, Security Mode 0): bootstrap against the factory bootstrap server (plain CoAP, or DTLS
 * with the bootstrap PSK when its URI is coaps://) when
 * the Security object holds no DM server account, register, keep the registration alive with
 * Updates, serve the DM server's requests from the object tree, and carry notifications on the
 * streams of the GETs that asked for them. One loop owns the life cycle; one CoapNode (one UDP
 * socket) carries both what the client sends and what it serves, and a second one, over a
 * DtlsClient, does the same for a coaps:// DM server.
 */
export class Lwm2mBinding implements AgentBinding {
  private readonly stopping = new AbortController();
  private loop: Promise<void> | undefined;
  private node: CoapNode | undefined;
  /** The DTLS node of a coaps:// DM server account, and the key it was made with. */
  private secure: { node: CoapNode; identity: Buffer; key: Buffer } | undefined;
  /** Whether the DM server's requests must come over DTLS (a coaps:// account). */
  private dmSecure = false;
  private closed = false;
  private isRegistered = false;
  private registration: Registration | undefined;
  /** The DM server being registered with: its requests are served from the moment Register goes out. */
  private dmPeer: CoapPeerAddress | undefined;
  private bootstrapping: BootstrapSession | undefined;
  private awakeUntil = 0;
  private readonly updates = new UpdateSchedule();
  private readonly streams: ObserveStreams;
  private readonly dm: DmRequests;
  private readonly requestTimeoutMs: number;

  constructor(private readonly opts: Lwm2mBindingOptions) {
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.streams = new ObserveStreams({
      observations: opts.observations,
      log: opts.log,
      sent: () => this.spoke(),
      maxStored: opts.maxStoredNotifications ?? 100,
    });
    this.dm = new DmRequests({
      objects: opts.objects,
      streams: this.streams,
      log: opts.log,
      closed: () => this.closed,
      answered: () => this.spoke(),
      // The object list changed: the server hears of it with an Update (1.1 Core §6.2.2).
      objectsChanged: () => this.registrationUpdate(),
    });
  }

  get registered(): boolean {
    return this.isRegistered;
  }

  /** Queue mode: whether the client is asleep now (requests are not answered, notifications wait). */
  get asleep(): boolean {
    return this.isRegistered && this.registration?.queueMode === true && Date.now() >= this.awakeUntil;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(graceful: boolean): Promise<void> {
    const registration = this.isRegistered ? this.registration : undefined;
    this.closed = true;
    this.stopping.abort();
    await this.loop;
    const node = registration?.node;
    if (graceful && registration && node) {
      await node.client
        .request(registration.peer, deregisterRequest(registration.location), { timeoutMs: Math.min(this.requestTimeoutMs, DEREGISTER_TIMEOUT_MS) })
        .then((r) => this.opts.log.info({ code: r.code }, 'de-registered'))
        .catch((err: unknown) => this.opts.log.info({ err: String(err) }, 'de-register not confirmed'));
    }
    this.streams.closeAll();
    // A power cut is just this: the socket goes, the server hears nothing.
    if (this.node && !this.opts.node) await this.node.close();
    await this.secure?.node.close();
    this.secure = undefined;
  }

  registrationUpdate(): void {
    if (!this.isRegistered) return;
    this.updates.request();
  }

  /** Always true: a notification is sent, stored while asleep, or dropped for good (a new registration ends observations). */
  notify(notification: Notification): boolean {
    if (!this.isRegistered || !this.streams.has(notification)) return true;
    if (!this.asleep) this.streams.send(notification);
    else if (this.registration?.notificationStoring) this.streams.store(notification);
    return true;
  }

  // ---- life cycle -------------------------------------------------------------------------

  private async run(): Promise<void> {
    const { log, objects } = this.opts;
    const signal = this.stopping.signal;
    let attempt = 0;
    let bootstrapNext = false;
    let secureFailures = 0;
    while (!signal.aborted) {
      let secured = false;
      try {
        const plain = (this.node ??= await this.openNode());
        const account = bootstrapNext ? undefined : lwm2mServerAccount(objects);
        if (!account) {
          await this.bootstrap(plain);
          bootstrapNext = false;
          secureFailures = 0;
          continue;
        }
        secured = account.psk !== undefined;
        const node = account.psk ? await this.secureNode(account.psk) : plain;
        const outcome = await this.session(node, account, () => {
          attempt = 0;
          secureFailures = 0;
        });
        if (outcome === 'register again') continue;
      } catch (err) {
        if (signal.aborted) break;
        // The DTLS handshake failed: refused outright (an alert: wrong key, unknown identity), or unanswered again and again.
        const dtlsRefused = secured && err instanceof DtlsError && (err.remote || ++secureFailures >= SECURE_FAILURES_BEFORE_BOOTSTRAP);
        if (dtlsRefused && this.bootstrapOnFailure()) {
          log.warn({ alert: (err as DtlsError).alert, remote: (err as DtlsError).remote }, 'DTLS handshake with the DM server failed; returning to bootstrap');
          objects.eventLog.record({ class: LOG_CLASS_SYSTEM, severity: 'warning', message: 'LwM2M DTLS handshake failed' });
          bootstrapNext = true;
          secureFailures = 0;
        } else if (err instanceof RegistrationRefusedError && this.bootstrapOnFailure()) {
          // LwM2M 1.1 Core §6.2.1.1, Bootstrap on Registration Failure (/1/x/16, true by default).
          log.warn({ code: err.code }, 'registration refused; returning to bootstrap');
          objects.eventLog.record({ class: LOG_CLASS_SYSTEM, severity: 'warning', message: 'LwM2M registration refused' });
          bootstrapNext = true;
        } else {
          log.info({ err: err instanceof Error ? err.message : String(err), attempt }, 'LwM2M attempt failed');
        }
      }
      if (signal.aborted) break;
      await sleep(backoffDelay(attempt++, this.opts.reconnect.minDelayMs, this.opts.reconnect.maxDelayMs), signal);
    }
  }

  private openNode(): Promise<CoapNode> {
    return openBindingNode(this.opts, (req, res) => this.dispatch(req, res));
  }

  /**
   * The CoAP node over DTLS for a coaps:// account (DM or bootstrap server), made again when the
   * key changed (after a new bootstrap, or between bootstrap and DM server): a DtlsClient that handshakes with the server on the first request, and
   * again whenever its session is gone (server restart, rotation, idle timeout).
   */
  private async secureNode(psk: { identity: Buffer; key: Buffer }): Promise<CoapNode> {
    const current = this.secure;
    if (current && current.identity.equals(psk.identity) && current.key.equals(psk.key)) return current.node;
    this.secure = undefined;
    await current?.node.close();
    const { node, client } = await openSecureBindingNode(this.opts, psk, (req, res) => this.dispatch(req, res));
    // The server ended the session (close_notify: its key was rotated or removed, it restarts,
    // or the session idled out): an Update now finds out at once whether we are still welcome,
    // through a new handshake.
    client.on('sessionClosed', (session: DtlsSession) => {
      if (this.closed || !this.isRegistered || !this.dmSecure || !this.dmPeer || !samePeer(this.dmPeer, session.peer)) return;
      this.opts.log.info('the DM server closed the DTLS session; updating the registration');
      this.updates.request();
    });
    this.secure = { node, identity: Buffer.from(psk.identity), key: Buffer.from(psk.key) };
    return node;
  }

  /**
   * Client-Initiated Bootstrap (1.1 Core §5.2.3): ask, serve the bootstrap server, until its
   * Bootstrap-Finish. A coaps:// bootstrap account goes over DTLS with its PSK (identity: the
   * endpoint name, key derived from the factory secret), so what the server writes (the DM
   * server's key among it) never crosses the network in clear.
   */
  private async bootstrap(plain: CoapNode): Promise<void> {
    const { endpoint, log, objects } = this.opts;
    const address = bootstrapServerAddress(objects);
    if (!address) throw new Error(`the bootstrap server URI "${objects.security.bootstrapAccount().serverUri}" is not a coap:// or coaps:// URI`);
    const node = address.psk ? await this.secureNode(address.psk) : plain;
    const peer = await resolvePeer(address, familyOf(node));
    this.streams.closeAll();
    log.info({ server: address.uri, secure: address.psk !== undefined }, 'client-initiated bootstrap');
    const signal = this.stopping.signal;
    const timeoutMs = this.opts.bootstrapTimeoutMs ?? 60_000;
    let timer: NodeJS.Timeout | undefined;
    let onAbort: (() => void) | undefined;
    const finished = new Promise<void>((resolve, reject) => {
      const silent = () => reject(new Error(`the bootstrap server was silent for ${timeoutMs} ms before Bootstrap-Finish`));
      this.bootstrapping = {
        peer,
        secure: address.psk !== undefined,
        touch: () => {
          clearTimeout(timer);
          timer = setTimeout(silent, timeoutMs);
        },
        finish: resolve,
      };
      onAbort = () => reject(new Error('stopped'));
      signal.addEventListener('abort', onAbort, { once: true });
    });
    finished.catch(() => {}); // observed below; a rejection while the request is in flight is not unhandled
    try {
      this.bootstrapping!.touch();
      const response = await this.request(node, peer, bootstrapRequest(endpoint, this.opts.preferredContentFormat));
      if (response.code !== ResultCode.CHANGED) throw new Error(`Bootstrap-Request answered ${response.code}${diagnosticOf(response)}`);
      await finished;
    } finally {
      clearTimeout(timer);
      if (onAbort) signal.removeEventListener('abort', onAbort);
      this.bootstrapping = undefined;
    }
    objects.eventLog.record({ class: LOG_CLASS_SYSTEM, severity: 'info', message: 'bootstrap finished' });
    log.info('bootstrap finished');
    this.opts.events.bootstrapped();
  }

  /** One registration; resolves when the client must register again (or stops). */
  private async session(node: CoapNode, account: Lwm2mServerAccount, registered: () => void): Promise<'register again' | 'stopped'> {
    const { endpoint, log, objects } = this.opts;
    const peer = await resolvePeer(account, familyOf(node));
    const queueMode = this.opts.queueMode ?? account.binding.includes('Q');
    const links = objects.tree.objectLinks();
    // A new registration starts without observations: the server forgets those of the old one.
    this.streams.closeAll();
    this.dmPeer = peer;
    this.dmSecure = account.psk !== undefined;
    let reason = 'registration ended';
    try {
      const response = await this.request(node, peer, registerRequest({ endpoint, lifetime: account.lifetime, queueMode, objectLinks: links }));
      if (response.code !== ResultCode.CREATED) {
        if (response.code.startsWith('4.')) throw new RegistrationRefusedError(response.code, diagnosticOf(response));
        throw new Error(`Register answered ${response.code}${diagnosticOf(response)}`);
      }
      const location = response.locationPath;
      if (location.length === 0) throw new Error('Register answered without a Location-Path');
      const registration: Registration = {
        node,
        peer,
        location,
        lifetime: account.lifetime,
        links: formatLinks(links),
        queueMode,
        notificationStoring: account.notificationStoring,
      };
      this.registration = registration;
      this.isRegistered = true;
      this.updates.clear();
      this.spoke();
      registered();
      log.info({ server: account.uri, location: `/${location.join('/')}`, lifetime: account.lifetime, queueMode }, 'registered');
      this.opts.events.registered();
      for (;;) {
        await this.updates.due(registration.lifetime, this.stopping.signal, this.opts.updateIntervalMs);
        if (this.stopping.signal.aborted) return 'stopped';
        if ((await this.update(node, registration)) === 'register again') {
          reason = 'registration update refused';
          return 'register again';
        }
      }
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      const wasRegistered = this.isRegistered;
      this.isRegistered = false;
      this.dmPeer = undefined;
      this.updates.detach();
      if (!this.stopping.signal.aborted) {
        this.registration = undefined;
        this.streams.closeAll();
        if (wasRegistered) this.opts.events.disconnected(reason);
      }
    }
  }

  /**
   * Registration Update (1.1 Core §6.2.2): with the lifetime and object list when they changed.
   * An error answer (4.04: the server forgot us) means register again; silence is retried, then
   * the session fails and the loop registers again after a backoff.
   */
  private async update(node: CoapNode, registration: Registration): Promise<'updated' | 'register again'> {
    const { log, objects } = this.opts;
    this.updates.clear();
    const account = lwm2mServerAccount(objects);
    if (!account) {
      log.info('the DM server account is gone');
      return 'register again';
    }
    const links = objects.tree.objectLinks();
    const linkText = formatLinks(links);
    const spec = updateRequest(registration.location, {
      ...(account.lifetime !== registration.lifetime ? { lifetime: account.lifetime } : {}),
      ...(linkText !== registration.links ? { objectLinks: links } : {}),
    });
    const retries = this.opts.updateRetries ?? 2;
    let response: CoapResponse;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await this.request(node, registration.peer, spec);
        break;
      } catch (err) {
        if (!(err instanceof CoapTimeoutError) || attempt >= retries || this.stopping.signal.aborted) throw err;
        log.info({ attempt }, 'registration update unanswered; trying again');
      }
    }
    if (response.code !== ResultCode.CHANGED) {
      log.info({ code: response.code }, 'registration update refused; registering again');
      return 'register again';
    }
    registration.lifetime = account.lifetime;
    registration.links = linkText;
    registration.notificationStoring = account.notificationStoring;
    this.spoke();
    log.debug({ lifetime: account.lifetime }, 'registration updated');
    this.streams.flush();
    return 'updated';
  }

  /** A request of the client's own; in queue mode the client listens from the moment it sends. */
  private request(node: CoapNode, peer: CoapPeerAddress, spec: CoapRequestSpec): Promise<CoapResponse> {
    this.spoke();
    return node.client.request(peer, spec, { timeoutMs: this.requestTimeoutMs, signal: this.stopping.signal });
  }

  /** The client sent something: in queue mode it listens for a while now. */
  private spoke(): void {
    this.awakeUntil = Date.now() + (this.opts.queueAwakeMs ?? DEFAULT_QUEUE_AWAKE_MS);
  }

  private bootstrapOnFailure(): boolean {
    const server = this.opts.objects.servers()[0];
    return server?.get(ServerResource.BOOTSTRAP_ON_REGISTRATION_FAILURE) !== false;
  }

  // ---- requests from the servers ----------------------------------------------------------

  /**
   * Every request to the client's socket that is not an answer: the bootstrap server's while
   * bootstrapping, the DM server's while registered (or registering). Anything else is 4.01.
   * Stopped, or asleep in queue mode, the client does not answer at all.
   */
  private dispatch(req: CoapRequest, res: OutgoingMessage | ObserveWriteStream): void | Promise<void> {
    if (this.closed) return dropRequest(res);
    const bootstrap = this.bootstrapping;
    if (bootstrap && samePeer(bootstrap.peer, req.peer) && (req.via?.scheme === 'coaps') === bootstrap.secure) {
      bootstrap.touch();
      return this.dm.answer(req, res, () => bootstrapReply(requestView(req), this.opts.objects, () => this.finishBootstrap(), LWM2M_VERSION));
    }
    if (this.asleep) {
      this.opts.log.debug({ method: req.method, path: req.path.join('/') }, 'asleep: request not answered');
      return dropRequest(res);
    }
    if (this.dmPeer && samePeer(this.dmPeer, req.peer) && (req.via?.scheme === 'coaps') === this.dmSecure) return this.dm.serve(req, res);
    sendReply(res, errorReply(ResultCode.UNAUTHORIZED, 'not a server of this client'));
  }

  private finishBootstrap(): Reply {
    const session = this.bootstrapping;
    if (!lwm2mServerAccount(this.opts.objects)) {
      // 1.1 Core §5.2.7.7: 4.06 when the configuration is not one the client can use.
      return errorReply(ResultCode.NOT_ACCEPTABLE, 'no usable DM server account: a coap:// Security instance and a Server instance of its Short Server ID');
    }
    // After the answer goes out.
    setImmediate(() => session?.finish());
    return { code: ResultCode.CHANGED };
  }
}
