import { LwM2mPath, type LwM2mRecord } from '../../protocol/model/index.js';

/** Security Mode 0 (pre-shared key): the identity and secret key are a shared secret pair. */
const SECURITY_MODE_PSK = 0;
/** Security Mode 3 (NoSec): LwM2M over plain CoAP. */
const SECURITY_MODE_NOSEC = 3;
export const DM_SERVER_SHORT_ID = 1;
/** LwM2M 1.2 binding letter for MQTT. */
export const MQTT_BINDING = 'M';

export interface ServerAccount {
  serverUri: string;
  endpoint: string;
  /** The PSK secret; null for a NoSec account. */
  secret: string | null;
  lifetimeSeconds: number;
  binding: string;
  /** A DTLS pre-shared key (LwM2M over coaps://): identity and key as written, instead of `endpoint` and `secret`. */
  psk?: { identity: string; key: Uint8Array };
}

/**
 * The Bootstrap-Write content that provisions one DM server account: Security instance 1
 * (server URI, PSK identity = endpoint and secret key, or NoSec) and Server instance 0 (short
 * id, lifetime, binding). Exactly what an LwM2M bootstrap server writes, so every transport
 * shares it.
 */
export function serverAccountContent(account: ServerAccount): LwM2mRecord[] {
  const utf8 = (s: string) => new Uint8Array(Buffer.from(s, 'utf8'));
  const r = (path: string, type: LwM2mRecord['type'], value: LwM2mRecord['value']): LwM2mRecord => ({
    path: LwM2mPath.parse(path),
    type,
    value,
  });
  const psk = account.psk ?? (account.secret === null ? undefined : { identity: account.endpoint, key: utf8(account.secret) });
  return [
    r('/0/1/0', 'string', account.serverUri),
    r('/0/1/1', 'boolean', false),
    r('/0/1/2', 'integer', psk ? SECURITY_MODE_PSK : SECURITY_MODE_NOSEC),
    r('/0/1/3', 'opaque', psk ? utf8(psk.identity) : new Uint8Array(0)),
    r('/0/1/4', 'opaque', new Uint8Array(0)),
    r('/0/1/5', 'opaque', psk ? new Uint8Array(psk.key) : new Uint8Array(0)),
    r('/0/1/10', 'integer', DM_SERVER_SHORT_ID),
    r('/1/0/0', 'integer', DM_SERVER_SHORT_ID),
    r('/1/0/1', 'integer', account.lifetimeSeconds),
    r('/1/0/6', 'boolean', true),
    r('/1/0/7', 'string', account.binding),
  ];
}
