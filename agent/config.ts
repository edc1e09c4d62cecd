import { createPublicKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ConfigError, loadLayeredConfig, requireLogLevel, requirePositiveInteger, type ConfigSources, type ConfigSpec } from '../common/config.js';
import { isValidEndpointName } from '../protocol/endpoint.js';

export const HOST_KINDS = ['auto', 'linux', 'simulated'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/**
 * How the agent reaches its server: DM over MQTT, LwM2M 1.1 over CoAP, or plain CoAP with a
 * CoRE Resource Directory. `auto` keeps the rule that came first: the server URI's scheme
 * (coap:// is LwM2M, mqtt(s):// is MQTT); plain CoAP is always asked for by name.
 */
export const AGENT_TRANSPORTS = ['auto', 'mqtt', 'lwm2m', 'coap'] as const;
export type AgentTransport = (typeof AGENT_TRANSPORTS)[number];

/** The agent's settings, layered like the gateway's (docs/configuration.md). */
export interface AgentConfig {
  /** The factory identity: endpoint name and secret, as imported into the gateway. */
  endpoint: string;
  factorySecret: string;
  /**
   * Where to bootstrap; the operational server comes from the bootstrap grant. With the `coap`
   * transport: the Resource Directory to register with (`coap://host:port`, no bootstrap).
   */
  bootstrapServerUri: string;
  transport: AgentTransport;
  /**
   * Plain CoAP (`transport: coap`): the registration lifetime (`lt=`), seconds; and, for a
   * `coaps://` Resource Directory, the DTLS PSK the operator provisioned (`edgedm devices psk`):
   * identity (UTF-8) and key (hex). Never logged.
   */
  coap: { lifetimeSeconds: number; pskIdentity: string | null; pskKey: string | null };
  /**
   * The operator's firmware-signing public key (PEM, or base64 of its SPKI DER). LwM2M and MQTT
   * agents receive it at bootstrap; a plain CoAP agent has no bootstrap and needs it here to
   * accept firmware. When set, it replaces what a bootstrap provisioned.
   */
  firmwareTrustAnchor: string | null;
  /** A CA certificate (PEM file) to trust for mqtts:// servers besides the system's: the gateway's local CA (`<gateway data>/tls/ca.pem`). */
  tlsCaFile: string | null;
  /** Credentials and settings (0700 directory, 0600 files). */
  stateDir: string;
  keepaliveSeconds: number;
  reconnect: { minDelayMs: number; maxDelayMs: number };
  host: HostKind;
  logLevel: string;
}

export const DEFAULT_AGENT_CONFIG: AgentConfig = Object.freeze({
  endpoint: '',
  factorySecret: '',
  bootstrapServerUri: 'mqtt://127.0.0.1:1883',
  transport: 'auto',
  coap: { lifetimeSeconds: 300, pskIdentity: null, pskKey: null },
  firmwareTrustAnchor: null,
  tlsCaFile: null,
  stateDir: './.edgedm/agent',
  keepaliveSeconds: 60,
  reconnect: { minDelayMs: 1000, maxDelayMs: 60_000 },
  host: 'auto',
  logLevel: 'info',
}) as AgentConfig;

export const AGENT_CONFIG_SPEC: ConfigSpec<AgentConfig> = {
  name: 'agent',
  defaults: DEFAULT_AGENT_CONFIG,
  nullableStrings: ['firmwareTrustAnchor', 'tlsCaFile', 'coap.pskIdentity', 'coap.pskKey'],
  env: {
    EDGEDM_ENDPOINT: { key: 'endpoint', type: 'string' },
    EDGEDM_FACTORY_SECRET: { key: 'factorySecret', type: 'string' },
    EDGEDM_BOOTSTRAP_SERVER_URI: { key: 'bootstrapServerUri', type: 'string' },
    EDGEDM_TRANSPORT: { key: 'transport', type: 'string' },
    EDGEDM_COAP_LIFETIME_SECONDS: { key: 'coap.lifetimeSeconds', type: 'integer' },
    EDGEDM_COAP_PSK_IDENTITY: { key: 'coap.pskIdentity', type: 'string' },
    EDGEDM_COAP_PSK_KEY: { key: 'coap.pskKey', type: 'string' },
    EDGEDM_FIRMWARE_TRUST_ANCHOR: { key: 'firmwareTrustAnchor', type: 'string' },
    EDGEDM_TLS_CA_FILE: { key: 'tlsCaFile', type: 'string' },
    EDGEDM_STATE_DIR: { key: 'stateDir', type: 'string' },
    EDGEDM_KEEPALIVE_SECONDS: { key: 'keepaliveSeconds', type: 'integer' },
    EDGEDM_HOST: { key: 'host', type: 'string' },
    EDGEDM_LOG_LEVEL: { key: 'logLevel', type: 'string' },
  },
  validate(c) {
    requireLogLevel(c.logLevel);
    if (!c.endpoint) throw new ConfigError('the agent needs an endpoint name: --endpoint, EDGEDM_ENDPOINT or "endpoint" in the file');
    if (!isValidEndpointName(c.endpoint)) throw new ConfigError(`"endpoint" is not a valid endpoint name: "${c.endpoint}"`);
    if (!(AGENT_TRANSPORTS as readonly string[]).includes(c.transport)) {
      throw new ConfigError(`"transport" must be one of ${AGENT_TRANSPORTS.join(', ')}, got "${c.transport}"`);
    }
    const transport = resolveAgentTransport(c.transport, c.bootstrapServerUri);
    // A plain CoAP device has no bootstrap, so no factory secret to present.
    if (!c.factorySecret && transport !== 'coap') {
      throw new ConfigError('the agent needs its factory secret: EDGEDM_FACTORY_SECRET, "factorySecret" in the file, or --factory-secret');
    }
    if (!/^(mqtts?|coaps?):\/\/[^/]+/.test(c.bootstrapServerUri)) {
      throw new ConfigError(`"bootstrapServerUri" must be an mqtt://, mqtts://, coap:// or coaps:// (LwM2M, CoAP) URI, got "${c.bootstrapServerUri}"`);
    }
    if ((transport === 'mqtt') !== /^mqtts?:/.test(c.bootstrapServerUri)) {
      throw new ConfigError(`"transport" ${transport} does not go with the server URI "${c.bootstrapServerUri}"`);
    }
    requirePositiveInteger('coap.lifetimeSeconds', c.coap.lifetimeSeconds, 10);
    coapPskOf(c);
    if (transport === 'coap' && c.bootstrapServerUri.startsWith('coaps:') && c.coap.pskKey === null) {
      throw new ConfigError('a coaps:// Resource Directory needs the PSK the operator provisioned: "coap.pskIdentity" and "coap.pskKey" (EDGEDM_COAP_PSK_IDENTITY, EDGEDM_COAP_PSK_KEY)');
    }
    if (c.firmwareTrustAnchor !== null) parseTrustAnchor(c.firmwareTrustAnchor);
    requirePositiveInteger('keepaliveSeconds', c.keepaliveSeconds, 1);
    requirePositiveInteger('reconnect.minDelayMs', c.reconnect.minDelayMs, 1);
    if (c.reconnect.maxDelayMs < c.reconnect.minDelayMs) throw new ConfigError('"reconnect.maxDelayMs" must not be below "reconnect.minDelayMs"');
    if (!(HOST_KINDS as readonly string[]).includes(c.host)) throw new ConfigError(`"host" must be one of ${HOST_KINDS.join(', ')}, got "${c.host}"`);
  },
};

/** The transport `auto` stands for: the server URI's scheme decides. */
export function resolveAgentTransport(transport: AgentTransport, serverUri: string): Exclude<AgentTransport, 'auto'> {
  if (transport !== 'auto') return transport;
  return /^coaps?:\/\//.test(serverUri) ? 'lwm2m' : 'mqtt';
}

/** An Ed25519 public key as PEM or base64 SPKI DER → its SPKI DER; ConfigError when it is neither. */
export function parseTrustAnchor(text: string): Uint8Array {
  try {
    const trimmed = text.trim();
    const key = trimmed.startsWith('-----BEGIN')
      ? createPublicKey(trimmed)
      : createPublicKey({ key: Buffer.from(trimmed, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'ed25519') throw new Error(`a ${key.asymmetricKeyType ?? 'unknown'} key`);
    return new Uint8Array(key.export({ format: 'der', type: 'spki' }));
  } catch (err) {
    throw new ConfigError(`"firmwareTrustAnchor" must be an Ed25519 public key (PEM or base64 SPKI DER): ${(err as Error).message.split('\n')[0]}`);
  }
}

/**
 * The Agent options that follow from the transport settings, for whoever builds an Agent from
 * a loaded configuration (`edgedm agent`): `new Agent({ …, ...agentTransportOptions(config) })`.
 */
export function agentTransportOptions(c: AgentConfig): {
  transport: Exclude<AgentTransport, 'auto'>;
  coap: { lifetimeSeconds: number; psk?: { identity: Buffer; key: Buffer } };
  firmwareTrustAnchor?: Uint8Array;
  tlsCa?: string;
} {
  const psk = coapPskOf(c);
  return {
    transport: resolveAgentTransport(c.transport, c.bootstrapServerUri),
    coap: { lifetimeSeconds: c.coap.lifetimeSeconds, ...(psk ? { psk } : {}) },
    ...(c.firmwareTrustAnchor !== null ? { firmwareTrustAnchor: parseTrustAnchor(c.firmwareTrustAnchor) } : {}),
    ...(c.tlsCaFile !== null ? { tlsCa: readCa(c.tlsCaFile) } : {}),
  };
}

/** `coap.pskIdentity` and `coap.pskKey` (hex, 8–64 bytes): both or neither. Errors never quote the key. */
function coapPskOf(c: AgentConfig): { identity: Buffer; key: Buffer } | undefined {
  const { pskIdentity, pskKey } = c.coap;
  if ((pskIdentity === null) !== (pskKey === null)) throw new ConfigError('"coap.pskIdentity" and "coap.pskKey" go together');
  if (pskIdentity === null || pskKey === null) return undefined;
  if (pskIdentity.length === 0 || Buffer.byteLength(pskIdentity, 'utf8') > 128) throw new ConfigError('"coap.pskIdentity" must be 1–128 bytes');
  if (!/^([0-9a-f]{2}){8,64}$/i.test(pskKey)) throw new ConfigError('"coap.pskKey" must be 8–64 bytes in hex (as `edgedm devices psk` shows it)');
  return { identity: Buffer.from(pskIdentity, 'utf8'), key: Buffer.from(pskKey, 'hex') };
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`"tlsCaFile": cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export function loadAgentConfig(sources: ConfigSources<AgentConfig> = {}): AgentConfig {
  return loadLayeredConfig(AGENT_CONFIG_SPEC, sources);
}
