import type { ObserveWriteStream, OutgoingMessage } from 'coap';
import { backoffDelay, sleep } from '../../../common/backoff.js';
import { CoapTimeoutError, type CoapPeerAddress, type CoapRequestSpec, type CoapResponse } from '../../../common/coap/coap-client.js';
import type { CoapNode } from '../../../common/coap/coap-node.js';
import type { CoapRequest } from '../../../common/coap/coap-router.js';
import { filterLinks } from '../../../protocol/coap/index.js';
import { encodeLinks, formatLinks, LwM2mContentFormat } from '../../../protocol/lwm2m/index.js';
import { ResultCode } from '../../../protocol/model/index.js';
import type { Notification } from '../../observation/observation-manager.js';
import type { AgentBinding } from '../binding.js';
import { familyOf, resolvePeer } from '../lwm2m/accounts.js';
import { openBindingNode, openSecureBindingNode, type CoapAgentBindingOptions } from '../lwm2m/binding-node.js';
import { dropRequest, errorReply } from '../lwm2m/coap-reply.js';
import { DmRequests } from '../lwm2m/dm-requests.js';
import { ObserveStreams } from '../lwm2m/observe-streams.js';
import { deregisterRequest, diagnosticOf, updateRequest } from '../lwm2m/registration-requests.js';
import { UpdateSchedule } from '../lwm2m/update-schedule.js';
import { discoveryLinks, registrationLinks } from './discovery.js';
import { FALLBACK_RD_PATH, parseResourceDirectoryUri, rdDiscoveryRequest, rdPathOf, rdRegisterRequest, type ResourceDirectory } from './rd-requests.js';

export interface CoapBindingOptions extends CoapAgentBindingOptions {
  /**
   * The CoRE Resource Directory: `coap://host[:port]` (its path discovered, RFC 9176 §4.1) or
   * `coap://host:port/{path}`; `coaps://` over DTLS with `psk`.
   */
  resourceDirectoryUri: string;
  /** The DTLS pre-shared key of a `coaps://` directory (provisioned by the operator: `edgedm devices psk`). Never logged. */
  psk?: { identity: Buffer; key: Buffer };
  /** `lt=` of the registration, seconds (default 300; RFC 9176's own default, 90000, is a day). */
  lifetimeSeconds?: number;
  /** Longest time between registration updates (default: from the lifetime only). */
  updateIntervalMs?: number;
  /** Deadline of one registration, update or removal exchange, retransmissions included (default 60 s). */
  requestTimeoutMs?: number;
  /** Updates retried after a timeout before the agent registers again (default 2). */
  updateRetries?: number;
}

export const DEFAULT_COAP_LIFETIME_S = 300;
const DEFAULT_REQUEST_TIMEOUT_MS = 60_000;
const REMOVAL_TIMEOUT_MS = 5_000;

/** What the directory knows of this endpoint now. */
interface Registration {
  peer: CoapPeerAddress;
  /** Location-Path of the registration answer: where updates and the removal go. */
  location: string[];
  lifetime: number;
  /** The links as registered, to register again when they change. */
  links: string;
}

/**
 * The agent over plain CoAP (RFC 7252, NoSec, or DTLS with a pre-shared key for a coaps://
 * directory): it serves its object tree on /O/I/R with the
 * same request semantics as LwM2M (dm-requests.ts), resource discovery at `/.well-known/core`
 * (RFC 6690), Observe (RFC 7641) and Block2 (RFC 7959), to any peer; and it registers with a
 * CoRE Resource Directory (RFC 9176) so that a gateway learns where it is, keeps the
 * registration alive, and removes it on an orderly stop.
 */
export class CoapBinding implements AgentBinding {
  private readonly stopping = new AbortController();
  private readonly streams: ObserveStreams;
  private readonly dm: DmRequests;
  private readonly updates = new UpdateSchedule();
  private readonly directory: ResourceDirectory;
  private readonly lifetime: number;
  private readonly requestTimeoutMs: number;
  private loop: Promise<void> | undefined;
  private node: CoapNode | undefined;
  private closed = false;
  private registration: Registration | undefined;

  constructor(private readonly opts: CoapBindingOptions) {
    const directory = parseResourceDirectoryUri(opts.resourceDirectoryUri);
    if (!directory) throw new Error(`the Resource Directory URI "${opts.resourceDirectoryUri}" is not a coap:// or coaps:// URI`);
    if (directory.secure && !opts.psk) throw new Error(`the Resource Directory ${opts.resourceDirectoryUri} is coaps://: a pre-shared key is needed`);
    this.directory = directory;
    this.lifetime = opts.lifetimeSeconds ?? DEFAULT_COAP_LIFETIME_S;
    this.requestTimeoutMs = opts.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    const multipleFormat = LwM2mContentFormat.SENML_CBOR;
    this.streams = new ObserveStreams({ observations: opts.observations, log: opts.log, sent: () => {}, maxStored: 0, multipleFormat });
    this.dm = new DmRequests({
      objects: opts.objects,
      streams: this.streams,
      log: opts.log,
      closed: () => this.closed,
      answered: () => {},
      // A Create or Delete changed the links: the registration is refreshed with the new ones.
      objectsChanged: () => this.registrationUpdate(),
      multipleFormat,
    });
  }

  get registered(): boolean {
    return this.registration !== undefined;
  }

  /** `coap://host:port` the agent serves on; undefined before the node is bound. */
  get url(): string | undefined {
    return this.node?.url;
  }

  start(): void {
    this.loop ??= this.run();
  }

  async stop(graceful: boolean): Promise<void> {
    const registration = this.registration;
    this.closed = true;
    this.stopping.abort();
    await this.loop;
    const node = this.node;
    if (graceful && registration && node) {
      // RFC 9176 §5.3.2: DELETE the registration resource.
      await node.client
        .request(registration.peer, deregisterRequest(registration.location), { timeoutMs: Math.min(this.requestTimeoutMs, REMOVAL_TIMEOUT_MS) })
        .then((r) => this.opts.log.info({ code: r.code }, 'removed from the Resource Directory'))
        .catch((err: unknown) => this.opts.log.info({ err: String(err) }, 'Resource Directory removal not confirmed'));
    }
    this.registration = undefined;
    this.streams.closeAll();
    if (node && (!this.opts.node || this.directory.secure)) await node.close();
  }

  registrationUpdate(): void {
    if (this.registration) this.updates.request();
  }

  /** Always true: a notification without its observation's stream has nowhere to go (a new registration ends observations). */
  notify(notification: Notification): boolean {
    if (this.streams.has(notification)) this.streams.send(notification);
    return true;
  }

  // ---- life cycle -------------------------------------------------------------------------

  private async run(): Promise<void> {
    const { log } = this.opts;
    const signal = this.stopping.signal;
    let attempt = 0;
    while (!signal.aborted) {
      try {
        const node = (this.node ??= await this.openNode());
        const peer = await resolvePeer(this.directory, familyOf(node));
        const rdPath = this.directory.path ?? (await this.discoverRdPath(node, peer));
        await this.session(node, peer, rdPath, () => (attempt = 0));
        continue;
      } catch (err) {
        if (signal.aborted) break;
        log.info({ err: err instanceof Error ? err.message : String(err), attempt }, 'CoAP registration attempt failed');
      }
      await sleep(backoffDelay(attempt++, this.opts.reconnect.minDelayMs, this.opts.reconnect.maxDelayMs), signal);
    }
  }

  /**
   * Plain CoAP: the node serves anyone (NoSec). coaps://: a DTLS client node and nothing else,
   * so the only requests it serves are those that come through its session with the directory's
   * server (the gateway), authenticated by the pre-shared key.
   */
  private async openNode(): Promise<CoapNode> {
    const dispatch = (req: CoapRequest, res: OutgoingMessage | ObserveWriteStream) => this.dispatch(req, res);
    if (!this.directory.secure) return openBindingNode(this.opts, dispatch);
    const { node, client } = await openSecureBindingNode(this.opts, this.opts.psk!, dispatch);
    // The server ended the session (its key for us was rotated or removed, it restarts, or the
    // session idled out): an update now finds out through a new handshake whether we are still welcome.
    client.on('sessionClosed', () => {
      if (!this.closed && this.registration) this.updates.request();
    });
    return node;
  }

  /** RFC 9176 §4.3: the directory's `/.well-known/core?rt=core.rd`; a directory that does not say is asked at `/rd`. */
  private async discoverRdPath(node: CoapNode, peer: CoapPeerAddress): Promise<string[]> {
    try {
      const path = rdPathOf(await this.request(node, peer, rdDiscoveryRequest()));
      if (path) return path;
    } catch (err) {
      if (!(err instanceof CoapTimeoutError)) throw err;
      throw new Error(`the Resource Directory at ${this.directory.uri} did not answer discovery`);
    }
    this.opts.log.debug({ rd: this.directory.uri }, 'no core.rd link: registering at /rd');
    return [...FALLBACK_RD_PATH];
  }

  /** One registration: resolves when the agent must register again, or when it stops. */
  private async session(node: CoapNode, peer: CoapPeerAddress, rdPath: string[], registered: () => void): Promise<void> {
    const { endpoint, log, objects } = this.opts;
    const links = registrationLinks(objects);
    // A new registration starts without observations: the observer learns of it by our silence.
    this.streams.closeAll();
    let reason = 'registration ended';
    try {
      const response = await this.request(node, peer, rdRegisterRequest(rdPath, { endpoint, lifetime: this.lifetime, links }));
      if (response.code !== ResultCode.CREATED && response.code !== ResultCode.CHANGED) throw new Error(`registration answered ${response.code}${diagnosticOf(response)}`);
      const location = response.locationPath;
      if (location.length === 0) throw new Error('registration answered without a Location-Path');
      const registration: Registration = { peer, location, lifetime: this.lifetime, links: formatLinks(links) };
      this.registration = registration;
      this.updates.clear();
      registered();
      log.info({ rd: this.directory.uri, location: `/${location.join('/')}`, lifetime: this.lifetime }, 'registered with the Resource Directory');
      this.opts.events.registered();
      for (;;) {
        await this.updates.due(registration.lifetime, this.stopping.signal, this.opts.updateIntervalMs);
        if (this.stopping.signal.aborted) return;
        // RFC 9176 updates carry no links: changed links mean registering again (it replaces the old registration).
        if (formatLinks(registrationLinks(objects)) !== registration.links) {
          reason = 'links changed';
          return;
        }
        if ((await this.update(node, registration)) === 'register again') {
          reason = 'registration update refused';
          return;
        }
      }
    } catch (err) {
      reason = err instanceof Error ? err.message : String(err);
      throw err;
    } finally {
      this.updates.detach();
      const wasRegistered = this.registration !== undefined;
      if (!this.stopping.signal.aborted) {
        this.registration = undefined;
        this.streams.closeAll();
        if (wasRegistered) this.opts.events.disconnected(reason);
      }
    }
  }

  /**
   * Registration update (RFC 9176 §5.3.1): `POST /{location}`, no payload. An error answer (4.04:
   * the directory forgot us, its lifetime ran out) means register again at once; silence is
   * retried, then the session fails and the loop registers again after a backoff.
   */
  private async update(node: CoapNode, registration: Registration): Promise<'updated' | 'register again'> {
    this.updates.clear();
    const retries = this.opts.updateRetries ?? 2;
    let response: CoapResponse;
    for (let attempt = 0; ; attempt++) {
      try {
        response = await this.request(node, registration.peer, updateRequest(registration.location, {}));
        break;
      } catch (err) {
        if (!(err instanceof CoapTimeoutError) || attempt >= retries || this.stopping.signal.aborted) throw err;
        this.opts.log.info({ attempt }, 'registration update unanswered; trying again');
      }
    }
    if (response.code !== ResultCode.CHANGED) {
      this.opts.log.info({ code: response.code }, 'registration update refused; registering again');
      return 'register again';
    }
    this.opts.log.debug({ lifetime: registration.lifetime }, 'registration updated');
    return 'updated';
  }

  private request(node: CoapNode, peer: CoapPeerAddress, spec: CoapRequestSpec): Promise<CoapResponse> {
    return node.client.request(peer, spec, { timeoutMs: this.requestTimeoutMs, signal: this.stopping.signal });
  }

  // ---- requests from anyone (NoSec) ------------------------------------------------------------

  private dispatch(req: CoapRequest, res: OutgoingMessage | ObserveWriteStream): void | Promise<void> {
    if (this.closed) return dropRequest(res);
    if (req.path[0] === '.well-known') return this.wellKnown(req, res);
    return this.dm.serve(req, res);
  }

  /** Resource discovery (RFC 6690 §4): the links, filtered by the query. */
  private wellKnown(req: CoapRequest, res: OutgoingMessage | ObserveWriteStream): Promise<void> {
    return this.dm.answer(req, res, async () => {
      if (req.path.length !== 2 || req.path[1] !== 'core') return errorReply(ResultCode.NOT_FOUND, 'no such resource');
      if (req.method !== 'GET') return errorReply(ResultCode.METHOD_NOT_ALLOWED, '/.well-known/core takes GET');
      const links = filterLinks(await discoveryLinks(this.opts.objects), req.query);
      return { code: ResultCode.CONTENT, contentFormat: LwM2mContentFormat.LINK, payload: encodeLinks(links) };
    });
  }
}
