import type { Logger } from '../../common/logger.js';
import type { DeviceStatus, TransportKind } from '../../protocol/states.js';
import { recordToJson, type Link } from '../../protocol/model/index.js';
import type {
  BootstrapGrant,
  CredentialRole,
  DeviceSessionHandler,
  DeviceSessionReport,
  NotificationEvent,
  RegistrationEvent,
  RegistrationUpdateEvent,
} from '../device-link.js';
import type { EventBus } from '../events.js';
import { generateSecret, hashSecret, verifySecret } from '../security/secrets.js';
import type { DeviceRepository } from '../store/device-repository.js';
import { serverAccountContent } from './bootstrap-grant.js';
import { deviceInfoFromRecords } from './device-info.js';

/** Last-seen is stored to this resolution; finer would cost a write per ping. */
export const LAST_SEEN_RESOLUTION_MS = 10_000;

export interface DeviceSessionsOptions {
  repository: DeviceRepository;
  events: EventBus;
  log: Logger;
  /** The DM server URI each transport hands out at bootstrap. */
  serverUriFor(transport: TransportKind): string;
  bindingFor(transport: TransportKind): string;
  lifetimeSeconds: number;
  /** Trust the session a device reports at registration (config `devices.resumeSessions`); default true. */
  resumeSessions?: boolean;
  /** Provisioned to every device at bootstrap. */
  firmwareTrustAnchor?: Uint8Array;
  /**
   * LwM2M over DTLS: the PSK account an LwM2M device gets at bootstrap (identity, key, and the
   * coaps:// server URI), or undefined for a NoSec account.
   */
  lwm2mPskFor?(endpoint: string): { identity: string; key: Buffer; serverUri: string } | undefined;
  now?: () => number;
}

/** A registration as the parts that set a device up at each one see it (monitoring, the registry's Device object read). */
export interface RegistrationOutcome {
  endpoint: string;
  transport: TransportKind;
  /** The device's own account of what it still holds; absent when its transport carries none. */
  session?: DeviceSessionReport;
  /**
   * The registry's Device-object information was read during this same boot of the device and
   * the device announces the same objects as then: reading it again would give the same answer.
   * False whenever the device reports no boot id (LwM2M, CoAP), restarted, or its objects changed.
   */
  deviceInfoCurrent: boolean;
}

export type RegistrationListener = (registration: RegistrationOutcome) => void;

/**
 * The fleet layer's side of every device session: who a device is (authentication against the
 * registry), what it is given at bootstrap, and its status as sessions come and go.
 */
export class DeviceSessions implements DeviceSessionHandler {
  private readonly repo: DeviceRepository;
  private readonly now: () => number;
  private readonly lastTouched = new Map<string, number>();
  private readonly registrationListeners = new Set<RegistrationListener>();
  /** Registrations before `deliverRegistrations`: devices may register while the gateway is still wiring its parts. */
  private earlyRegistrations: RegistrationOutcome[] | undefined = [];

  constructor(private readonly opts: DeviceSessionsOptions) {
    this.repo = opts.repository;
    this.now = opts.now ?? Date.now;
  }

  authenticate(endpoint: string, secret: string): CredentialRole | null {
    const device = this.repo.get(endpoint);
    if (!device || device.status === 'decommissioned') return null;
    if (device.credentialHash && verifySecret(secret, device.credentialHash)) return 'operational';
    if (device.factorySecretHash && verifySecret(secret, device.factorySecretHash)) return 'factory';
    return null;
  }

  admit(endpoint: string): boolean {
    const device = this.repo.get(endpoint);
    return !!device && device.status !== 'decommissioned';
  }

  bootstrap(endpoint: string, transport: TransportKind): BootstrapGrant {
    let secret: string | null = null;
    const psk = transport === 'lwm2m' ? this.opts.lwm2mPskFor?.(endpoint) : undefined;
    if (psk) {
      this.opts.log.info({ endpoint, transport }, 'bootstrapped a DTLS pre-shared key account');
    } else if (transport === 'mqtt') {
      secret = generateSecret();
      // Only the hash is kept: a leaked database does not let anyone impersonate a device.
      this.repo.setOperationalCredential(endpoint, hashSecret(secret), this.now());
      this.opts.log.info({ endpoint, transport }, 'issued an operational credential');
    } else {
      // LwM2M without a PSK, and plain CoAP: a NoSec account.
      this.opts.log.info({ endpoint, transport }, 'bootstrapped a NoSec account');
    }
    return {
      content: serverAccountContent({
        serverUri: psk?.serverUri ?? this.opts.serverUriFor(transport),
        endpoint,
        secret,
        ...(psk ? { psk: { identity: psk.identity, key: psk.key } } : {}),
        lifetimeSeconds: this.opts.lifetimeSeconds,
        binding: this.opts.bindingFor(transport),
      }),
      ...(this.opts.firmwareTrustAnchor ? { firmwareTrustAnchor: this.opts.firmwareTrustAnchor } : {}),
    };
  }

  connected(endpoint: string, role: CredentialRole): void {
    if (role === 'factory') this.setStatus(endpoint, 'bootstrapping');
    else this.repo.touch(endpoint, this.now());
  }

  /**
   * Told of every registration, with the device's account of its session (which the event feed
   * does not carry). Returns an unsubscribe.
   */
  onRegistered(listener: RegistrationListener): () => void {
    this.registrationListeners.add(listener);
    return () => this.registrationListeners.delete(listener);
  }

  /**
   * From now on registrations go to the listeners as they come; those that came before (a device
   * registering between the broker's listen and the listeners' wiring) are delivered now.
   */
  deliverRegistrations(): void {
    const early = this.earlyRegistrations ?? [];
    this.earlyRegistrations = undefined;
    for (const outcome of early) this.deliver(outcome);
  }

  registered(endpoint: string, event: RegistrationEvent): void {
    const before = this.repo.get(endpoint);
    const previous = before?.status ?? null;
    const at = this.now();
    // Not trusted: as if the device had said nothing, everything is set up again.
    const session = this.opts.resumeSessions === false ? undefined : event.session;
    const deviceInfoCurrent = session !== undefined && before?.infoBootId === session.bootId && sameLinks(before.objectLinks, event.objectLinks);
    this.repo.recordRegistration(endpoint, { ...event, at });
    this.opts.log.info({ endpoint, transport: event.transport, lifetime: event.lifetime }, 'device registered');
    const outcome: RegistrationOutcome = { endpoint, transport: event.transport, deviceInfoCurrent, ...(session ? { session } : {}) };
    if (this.earlyRegistrations) this.earlyRegistrations.push(outcome);
    else this.deliver(outcome);
    this.opts.events.publish({ type: 'device.registered', endpoint, transport: event.transport, at });
    if (previous !== 'online') this.opts.events.publish({ type: 'device.status', endpoint, status: 'online', previous, at });
  }

  private deliver(outcome: RegistrationOutcome): void {
    for (const listener of this.registrationListeners) {
      try {
        listener(outcome);
      } catch (err) {
        this.opts.log.error({ err, endpoint: outcome.endpoint }, 'a registration listener failed');
      }
    }
  }

  updated(endpoint: string, event: RegistrationUpdateEvent): void {
    const device = this.repo.get(endpoint);
    if (!device?.transport) return;
    const at = this.now();
    this.repo.recordRegistration(endpoint, {
      transport: device.transport,
      lwm2mVersion: device.lwm2mVersion ?? '1.1',
      lifetime: event.lifetime ?? device.lifetime ?? this.opts.lifetimeSeconds,
      binding: device.binding ?? '',
      queueMode: device.queueMode,
      objectLinks: event.objectLinks ?? device.objectLinks,
      address: event.address !== undefined ? event.address : device.address,
      at,
    });
    if (device.status !== 'online') this.opts.events.publish({ type: 'device.status', endpoint, status: 'online', previous: device.status, at });
  }

  deregistered(endpoint: string, reason: string): void {
    this.opts.log.info({ endpoint, reason }, 'device deregistered');
    this.setStatus(endpoint, 'offline');
  }

  sleeping(endpoint: string): void {
    this.setStatus(endpoint, 'sleeping');
  }

  disconnected(endpoint: string, reason: string): void {
    this.lastTouched.delete(endpoint);
    this.opts.log.info({ endpoint, reason }, 'device disconnected');
    this.setStatus(endpoint, 'offline');
  }

  seen(endpoint: string): void {
    const at = this.now();
    // Bounded writes: a large fleet pinging every keepalive must not become a write storm.
    if (at - (this.lastTouched.get(endpoint) ?? 0) < LAST_SEEN_RESOLUTION_MS) return;
    this.lastTouched.set(endpoint, at);
    this.repo.touch(endpoint, at);
  }

  notified(endpoint: string, event: NotificationEvent): void {
    const at = this.now();
    this.seen(endpoint);
    const info = deviceInfoFromRecords(event.content);
    if (info) {
      this.repo.updateInfo(endpoint, info, at);
      this.opts.events.publish({ type: 'device.info', endpoint, at });
    }
    this.opts.events.publish({
      type: 'device.notification',
      endpoint,
      observationId: event.observationId,
      path: event.path.toString(),
      content: event.content.map(recordToJson),
      at,
    });
  }

  private setStatus(endpoint: string, status: DeviceStatus): void {
    const device = this.repo.get(endpoint);
    if (!device || device.status === status || device.status === 'decommissioned') return;
    const at = this.now();
    this.repo.setStatus(endpoint, status, at);
    this.opts.events.publish({ type: 'device.status', endpoint, status, previous: device.status, at });
  }
}

function sameLinks(a: readonly Link[], b: readonly Link[]): boolean {
  return a.length === b.length && a.every((link, i) => linkKey(link) === linkKey(b[i]!));
}

function linkKey(link: Link): string {
  return `${link.target};${Object.entries(link.attributes)
    .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0))
    .map(([k, v]) => (v === undefined ? k : `${k}=${v}`))
    .join(';')}`;
}
