import type { Link, LwM2mPath, LwM2mRecord, NotificationAttributes, Operation, OperationResult, ResultCode } from '../model/index.js';

/** Device → gateway on `bs/req`, with the factory identity. */
export interface BootstrapRequest {
  requestId: string;
  endpoint: string;
}

/**
 * Gateway → device on `bs/res`: Bootstrap-Write content for the Security (0) and Server (1)
 * objects; the agent applies it as it would an LwM2M bootstrap server's writes.
 */
export interface BootstrapResponse {
  requestId: string;
  code: ResultCode;
  message?: string;
  content: LwM2mRecord[];
  /** SPKI DER of the Ed25519 key that signs firmware manifests. */
  firmwareTrustAnchor?: Uint8Array;
}

export interface RegisterMessage {
  lwm2mVersion: string;
  lifetime: number;
  binding: string;
  queueMode: boolean;
  objectLinks: Link[];
  /** What the device still holds for this server; absent: it does not say (assume nothing). */
  session?: SessionState;
}

/** The device's side of its relation to the server when it registers (edgedm.proto `SessionState`). */
export interface SessionState {
  /** New at every start of the agent: what was read of the device under another boot id may be stale. */
  bootId: string;
  /** Observations kept from an earlier connection of this boot, with the attributes in force at each path. */
  observations: HeldObservation[];
}

export interface HeldObservation {
  /** The id of the observe request that established it (its notifications carry it). */
  id: string;
  path: LwM2mPath;
  attributes: NotificationAttributes;
}

export interface UpdateMessage {
  lifetime?: number;
  objectLinks?: Link[];
}

export interface DeregisterMessage {
  reason?: string;
}

export interface RequestMessage {
  id: string;
  operation: Operation;
}

export interface ResponseMessage {
  id: string;
  result: OperationResult;
}

export interface NotifyMessage {
  observationId: string;
  path: LwM2mPath;
  sequence: number;
  content: LwM2mRecord[];
}

export interface StatusMessage {
  online: boolean;
  reason?: string;
}
