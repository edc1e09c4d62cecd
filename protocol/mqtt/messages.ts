import type { Link, LwM2mPath, LwM2mRecord, Operation, OperationResult, ResultCode } from '../model/index.js';

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
