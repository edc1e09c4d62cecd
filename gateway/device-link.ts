/**
 * The seam between the fleet layer and the transports (Leshan's endpoint abstraction).
 *
 * The fleet layer (registry, commands, later queues and rollouts) reaches devices only through
 * a DeviceLink; transports report what devices do through a DeviceSessionHandler. Neither side
 * imports the other: an operation means the same thing over MQTT, CoAP and LwM2M.
 */
import type { Link, LwM2mPath, LwM2mRecord, NotificationAttributes, Operation, OperationResult } from '../protocol/model/index.js';
import type { TransportKind } from '../protocol/states.js';

export interface SendOptions {
  timeoutMs: number;
  signal?: AbortSignal;
  /**
   * The request's id on a wire that carries one (DM over MQTT): the same id on a re-delivery lets
   * the device answer from its cache instead of executing twice. Absent, the link makes a fresh one.
   * LwM2M/CoAP has no such field (CoAP message-id dedup spans EXCHANGE_LIFETIME only), so it is ignored there.
   */
  requestId?: string;
}

export interface DeviceLink {
  readonly transport: TransportKind;
  /** Sends one operation and resolves with the device's result; rejects with a DeviceLinkError. */
  send(endpoint: string, operation: Operation, options: SendOptions): Promise<OperationResult>;
  isConnected(endpoint: string): boolean;
  /** Drops the device's session at once (decommission, revoked credential). */
  disconnect(endpoint: string, reason: string): void;
}

export type DeviceLinkErrorKind = 'timeout' | 'unreachable' | 'cancelled' | 'protocol';

export class DeviceLinkError extends Error {
  constructor(
    readonly kind: DeviceLinkErrorKind,
    readonly endpoint: string,
    message: string,
  ) {
    super(message);
    this.name = 'DeviceLinkError';
  }
}

/** What authentication found: which identity of the device presented itself. */
export type CredentialRole = 'factory' | 'operational';

export interface RegistrationEvent {
  transport: TransportKind;
  lwm2mVersion: string;
  lifetime: number;
  binding: string;
  queueMode: boolean;
  objectLinks: Link[];
  address: string | null;
  /**
   * What the device says it still holds for this server (DM over MQTT). Absent (LwM2M, CoAP,
   * older agents): nothing is assumed to have survived, as after a new LwM2M registration.
   */
  session?: DeviceSessionReport;
}

/** A device's own account of its session at registration. */
export interface DeviceSessionReport {
  /** New at every start of the device's agent: what was read of it under another boot id may have changed. */
  bootId: string;
  /** Observations it kept from an earlier connection of the same boot, with the attributes in force at each path. */
  observations: { id: string; path: LwM2mPath; attributes: NotificationAttributes }[];
}

export interface RegistrationUpdateEvent {
  lifetime?: number;
  objectLinks?: Link[];
  address?: string | null;
}

export interface NotificationEvent {
  observationId: string;
  path: LwM2mPath;
  sequence: number;
  content: LwM2mRecord[];
}

/** Bootstrap-Write content for the Security (0) and Server (1) objects. */
export interface BootstrapGrant {
  content: LwM2mRecord[];
  /** SPKI DER of the key that signs firmware manifests: the device's trust anchor. */
  firmwareTrustAnchor?: Uint8Array;
}

/** Implemented by the fleet layer; called by every transport. */
export interface DeviceSessionHandler {
  authenticate(endpoint: string, secret: string): CredentialRole | null;
  /**
   * Whether an endpoint that presents no credential (LwM2M and CoAP in NoSec mode) may register:
   * it must be in the registry and not decommissioned.
   */
  admit(endpoint: string, transport: TransportKind): boolean;
  bootstrap(endpoint: string, transport: TransportKind): BootstrapGrant;
  connected(endpoint: string, role: CredentialRole, transport: TransportKind): void;
  registered(endpoint: string, event: RegistrationEvent): void;
  updated(endpoint: string, event: RegistrationUpdateEvent): void;
  deregistered(endpoint: string, reason: string): void;
  /** A queue-mode device stopped listening; requests wait for it to wake (it is still registered). */
  sleeping(endpoint: string): void;
  disconnected(endpoint: string, reason: string): void;
  notified(endpoint: string, event: NotificationEvent): void;
  /** Any sign of life (keepalive ping, response): keeps last-seen current. */
  seen(endpoint: string): void;
}
