import { validateManagementConfig } from './management-config.js';
import { ConfigError, loadLayeredConfig, requireLogLevel, requirePort, requirePositiveInteger, type ConfigSources, type ConfigSpec } from '../common/config.js';

/** The gateway's settings. Every default is documented in docs/configuration.md. */
export interface GatewayConfig {
  /** Registry database and other state. */
  dataDir: string;
  logLevel: string;
  mqtt: {
    /** Listen address; loopback unless told otherwise, so a fresh install exposes nothing. */
    host: string;
    port: number;
    /** Larger publishes are refused and the sender disconnected. */
    maxMessageBytes: number;
    /** New connections accepted a second; over it, CONNACK 3 (Server unavailable). 0: no limit. */
    maxConnectsPerSecond: number;
    /** MQTT over TLS on its own port; devices are then told to use it (mqtts://). Without files, a certificate from the gateway's local CA. */
    tls: { enabled: boolean; port: number; certFile: string | null; keyFile: string | null };
  };
  api: {
    host: string;
    port: number;
    /** HTTPS for the API and portal. Without files of its own, a self-signed certificate is made in dataDir/tls on first start. */
    tls: { enabled: boolean; certFile: string | null; keyFile: string | null };
  };
  /** Operator accounts (northbound access control). */
  auth: {
    /** The first admin's password when the gateway starts with no operator; null: a random one, printed once. */
    initialAdminPassword: string | null;
    /** How long a login session lasts. */
    sessionHours: number;
    /** scrypt cost of new password hashes, as log2(N): 16 is 64 MiB and ~0.2 s. */
    passwordCost: number;
  };
  /** The CoAP/UDP endpoint: firmware by Block2 pull, the LwM2M server, the CoRE Resource Directory. */
  coap: {
    enabled: boolean;
    /** Listen address; loopback unless told otherwise, like MQTT. */
    host: string;
    port: number;
    /** Plain CoAP devices: the Resource Directory (`/rd-core`, RFC 9176) and devices managed by address. */
    resourceDirectory: boolean;
    /**
     * CoAP over DTLS 1.2 with pre-shared keys (`coaps://`) on its own UDP port, same host, same
     * routes; and the LwM2M bootstrap server over DTLS on a second one (`bootstrapPort`), whose
     * PSK identities are endpoint names with keys derived from factory secrets: a namespace of
     * its own, apart from the DM server's per-device PSKs. Absent `bootstrapPort`: 5784, or a
     * free port when `port` is 0.
     */
    dtls: { enabled: boolean; port: number; bootstrapPort?: number };
  };
  /** The LwM2M server and bootstrap server, on the CoAP endpoint (`/rd`, `/bs`). */
  lwm2m: {
    enabled: boolean;
    /** The DM server URI handed out at LwM2M bootstrap; null derives it from the CoAP listener. */
    serverUri: string | null;
    /** How long a queue-mode client listens after it last spoke (LwM2M: at least 93 s). */
    queueAwakeMs: number;
    /**
     * `nosec`: LwM2M devices with a PSK (provisioned through the API) must use DTLS, the others
     * may use plain CoAP. `psk`: every LwM2M device gets a PSK at bootstrap and must register over
     * DTLS (needs `coap.dtls.enabled`). Absent: nosec.
     */
    security?: 'nosec' | 'psk';
    /** The coaps:// DM server URI handed out with a PSK at bootstrap; null (or absent) derives it from the DTLS listener. */
    secureServerUri?: string | null;
    /**
     * `psk`: a device whose factory secret the gateway keeps sealed must bootstrap over DTLS
     * (`coaps://…:{coap.dtls.bootstrapPort}/bs`, identity = endpoint name, key derived from the
     * factory secret); plain `/bs` is refused 4.03 (devices imported before secrets were kept
     * still bootstrap over plain CoAP). `nosec`: plain `/bs` is served to every device (the DTLS
     * bootstrap server still runs when `coap.dtls.enabled`). null (or absent): as `security`.
     */
    bootstrapSecurity?: 'nosec' | 'psk' | null;
  };
  devices: {
    /** How long an operation on a device may take before the API answers 504. */
    requestTimeoutMs: number;
    /** Registration lifetime handed out at bootstrap (LwM2M Server object, /1/0/1). */
    lifetimeSeconds: number;
    /**
     * Trust what a device reports of its session when it registers (DM over MQTT: its boot id and
     * the observations it kept): the Device object is not read again within one boot, and
     * monitoring observations still in place are not set up again. false: every registration is
     * set up from scratch. Absent: true.
     */
    resumeSessions?: boolean;
  };
  bootstrap: {
    /** The server URI devices are told to use; null derives it from the MQTT listener. */
    serverUri: string | null;
  };
  firmware: {
    /** Base URL devices download images from; null derives it from the API listener. */
    baseUrl: string | null;
    /** Base URL devices pull images from over CoAP; null derives it from the CoAP endpoint. */
    coapBaseUrl: string | null;
    /** Vendor named in manifests of images added without one. */
    vendor: string;
    maxImageBytes: number;
  };
  rollouts: {
    /** How often each device under update is looked at. */
    pollIntervalMs: number;
  };
  /** Fleet commands: the defaults of a command that does not set its own. */
  fleetCommands: {
    /** How long a command waits for an offline or sleeping device before it ends `expired`. */
    defaultTtlSeconds: number;
    /** Devices with a request in flight at once, per command. */
    defaultMaxConcurrent: number;
    /** Sends per minute per command; 0 for no limit. */
    defaultRatePerMin: number;
    /** Sends to a connected device that does not answer, before its command fails. */
    maxAttempts: number;
  };
  /** Performance management: what is observed on every device, and how long its values are kept. */
  monitoring: {
    /** Set up the monitoring observations (battery, memory, error codes, signal, link quality, event log) at each registration. */
    observe: boolean;
    /** Write-Attributes sent with them: at most one notification per pmin seconds, at least one per pmax. */
    pmin: number;
    pmax: number;
    /** Devices whose observations are being set up at once. */
    maxConcurrentSetups: number;
    retentionHours: number;
    maxSamplesPerSeries: number;
    pruneIntervalSeconds: number;
  };
  /** Fault management: the alarm engine. */
  alarms: {
    /** How often offline devices are checked against the offline-longer-than rules. */
    offlineCheckIntervalMs: number;
    /** After a gateway start, offline alarms wait this long for devices to reconnect. */
    restartGraceSeconds: number;
    /** Cleared alarms are kept this long. */
    historyDays: number;
  };
  /** Accounting: the per-device ledger. */
  accounting: {
    /** Counters are written to SQL at most this far apart. */
    flushIntervalMs: number;
    retentionDays: number;
  };
}

export const DEFAULT_GATEWAY_CONFIG: GatewayConfig = Object.freeze({
  dataDir: './data',
  logLevel: 'info',
  mqtt: { host: '127.0.0.1', port: 1883, maxMessageBytes: 256 * 1024, maxConnectsPerSecond: 500, tls: { enabled: false, port: 8883, certFile: null, keyFile: null } },
  api: { host: '127.0.0.1', port: 8080, tls: { enabled: false, certFile: null, keyFile: null } },
  auth: { initialAdminPassword: null, sessionHours: 12, passwordCost: 16 },
  coap: { enabled: true, host: '127.0.0.1', port: 5683, resourceDirectory: true, dtls: { enabled: false, port: 5684, bootstrapPort: 5784 } },
  lwm2m: { enabled: true, serverUri: null, queueAwakeMs: 93_000, security: 'nosec', secureServerUri: null, bootstrapSecurity: null },
  devices: { requestTimeoutMs: 10_000, lifetimeSeconds: 300, resumeSessions: true },
  bootstrap: { serverUri: null },
  firmware: { baseUrl: null, coapBaseUrl: null, vendor: 'edgedm', maxImageBytes: 256 * 1024 * 1024 },
  rollouts: { pollIntervalMs: 2000 },
  fleetCommands: { defaultTtlSeconds: 86_400, defaultMaxConcurrent: 100, defaultRatePerMin: 0, maxAttempts: 3 },
  monitoring: { observe: true, pmin: 30, pmax: 600, maxConcurrentSetups: 20, retentionHours: 24, maxSamplesPerSeries: 10_000, pruneIntervalSeconds: 300 },
  alarms: { offlineCheckIntervalMs: 5000, restartGraceSeconds: 120, historyDays: 30 },
  accounting: { flushIntervalMs: 5000, retentionDays: 400 },
}) as GatewayConfig;

export const GATEWAY_CONFIG_SPEC: ConfigSpec<GatewayConfig> = {
  name: 'gateway',
  defaults: DEFAULT_GATEWAY_CONFIG,
  nullableStrings: ['mqtt.tls.certFile', 'mqtt.tls.keyFile', 'api.tls.certFile', 'api.tls.keyFile', 'auth.initialAdminPassword', 'bootstrap.serverUri', 'firmware.baseUrl', 'firmware.coapBaseUrl', 'lwm2m.serverUri', 'lwm2m.secureServerUri', 'lwm2m.bootstrapSecurity'],
  env: {
    EDGEDM_DATA_DIR: { key: 'dataDir', type: 'string' },
    EDGEDM_LOG_LEVEL: { key: 'logLevel', type: 'string' },
    EDGEDM_MQTT_HOST: { key: 'mqtt.host', type: 'string' },
    EDGEDM_MQTT_PORT: { key: 'mqtt.port', type: 'integer' },
    EDGEDM_MQTT_MAX_MESSAGE_BYTES: { key: 'mqtt.maxMessageBytes', type: 'integer' },
    EDGEDM_MQTT_MAX_CONNECTS_PER_SECOND: { key: 'mqtt.maxConnectsPerSecond', type: 'integer' },
    EDGEDM_API_HOST: { key: 'api.host', type: 'string' },
    EDGEDM_API_PORT: { key: 'api.port', type: 'integer' },
    EDGEDM_MQTT_TLS: { key: 'mqtt.tls.enabled', type: 'boolean' },
    EDGEDM_MQTT_TLS_PORT: { key: 'mqtt.tls.port', type: 'integer' },
    EDGEDM_MQTT_TLS_CERT: { key: 'mqtt.tls.certFile', type: 'string' },
    EDGEDM_MQTT_TLS_KEY: { key: 'mqtt.tls.keyFile', type: 'string' },
    EDGEDM_API_TLS: { key: 'api.tls.enabled', type: 'boolean' },
    EDGEDM_API_TLS_CERT: { key: 'api.tls.certFile', type: 'string' },
    EDGEDM_API_TLS_KEY: { key: 'api.tls.keyFile', type: 'string' },
    EDGEDM_ADMIN_PASSWORD: { key: 'auth.initialAdminPassword', type: 'string' },
    EDGEDM_COAP_ENABLED: { key: 'coap.enabled', type: 'boolean' },
    EDGEDM_COAP_HOST: { key: 'coap.host', type: 'string' },
    EDGEDM_COAP_PORT: { key: 'coap.port', type: 'integer' },
    EDGEDM_COAP_RESOURCE_DIRECTORY: { key: 'coap.resourceDirectory', type: 'boolean' },
    EDGEDM_COAP_DTLS: { key: 'coap.dtls.enabled', type: 'boolean' },
    EDGEDM_COAP_DTLS_PORT: { key: 'coap.dtls.port', type: 'integer' },
    EDGEDM_COAP_DTLS_BOOTSTRAP_PORT: { key: 'coap.dtls.bootstrapPort', type: 'integer' },
    EDGEDM_LWM2M_ENABLED: { key: 'lwm2m.enabled', type: 'boolean' },
    EDGEDM_LWM2M_SERVER_URI: { key: 'lwm2m.serverUri', type: 'string' },
    EDGEDM_LWM2M_QUEUE_AWAKE_MS: { key: 'lwm2m.queueAwakeMs', type: 'integer' },
    EDGEDM_LWM2M_SECURITY: { key: 'lwm2m.security', type: 'string' },
    EDGEDM_LWM2M_SECURE_SERVER_URI: { key: 'lwm2m.secureServerUri', type: 'string' },
    EDGEDM_LWM2M_BOOTSTRAP_SECURITY: { key: 'lwm2m.bootstrapSecurity', type: 'string' },
    EDGEDM_REQUEST_TIMEOUT_MS: { key: 'devices.requestTimeoutMs', type: 'integer' },
    EDGEDM_LIFETIME_SECONDS: { key: 'devices.lifetimeSeconds', type: 'integer' },
    EDGEDM_RESUME_SESSIONS: { key: 'devices.resumeSessions', type: 'boolean' },
    EDGEDM_BOOTSTRAP_SERVER_URI: { key: 'bootstrap.serverUri', type: 'string' },
    EDGEDM_FIRMWARE_BASE_URL: { key: 'firmware.baseUrl', type: 'string' },
    EDGEDM_FIRMWARE_COAP_BASE_URL: { key: 'firmware.coapBaseUrl', type: 'string' },
    EDGEDM_FIRMWARE_MAX_IMAGE_BYTES: { key: 'firmware.maxImageBytes', type: 'integer' },
    EDGEDM_ROLLOUT_POLL_MS: { key: 'rollouts.pollIntervalMs', type: 'integer' },
    EDGEDM_COMMAND_TTL_SECONDS: { key: 'fleetCommands.defaultTtlSeconds', type: 'integer' },
    EDGEDM_COMMAND_MAX_CONCURRENT: { key: 'fleetCommands.defaultMaxConcurrent', type: 'integer' },
    EDGEDM_COMMAND_RATE_PER_MIN: { key: 'fleetCommands.defaultRatePerMin', type: 'integer' },
    EDGEDM_MONITORING_OBSERVE: { key: 'monitoring.observe', type: 'boolean' },
    EDGEDM_MONITORING_PMIN: { key: 'monitoring.pmin', type: 'integer' },
    EDGEDM_MONITORING_PMAX: { key: 'monitoring.pmax', type: 'integer' },
    EDGEDM_MONITORING_RETENTION_HOURS: { key: 'monitoring.retentionHours', type: 'integer' },
    EDGEDM_ACCOUNTING_RETENTION_DAYS: { key: 'accounting.retentionDays', type: 'integer' },
  },
  validate(c) {
    requireLogLevel(c.logLevel);
    if (!c.dataDir) throw new ConfigError('"dataDir" must not be empty');
    requirePort('mqtt.port', c.mqtt.port);
    requirePort('api.port', c.api.port);
    requirePort('coap.port', c.coap.port);
    if ((c.api.tls.certFile === null) !== (c.api.tls.keyFile === null)) throw new ConfigError('"api.tls.certFile" and "api.tls.keyFile" go together');
    requirePort('mqtt.tls.port', c.mqtt.tls.port);
    if ((c.mqtt.tls.certFile === null) !== (c.mqtt.tls.keyFile === null)) throw new ConfigError('"mqtt.tls.certFile" and "mqtt.tls.keyFile" go together');
    if (c.auth.initialAdminPassword !== null && c.auth.initialAdminPassword.length < 10) {
      throw new ConfigError('"auth.initialAdminPassword" needs at least 10 characters');
    }
    requirePositiveInteger('auth.sessionHours', c.auth.sessionHours, 1);
    requirePositiveInteger('auth.passwordCost', c.auth.passwordCost, 10);
    if (c.auth.passwordCost > 20) throw new ConfigError('"auth.passwordCost" is at most 20 (1 GiB per hash)');
    if (!c.coap.host) throw new ConfigError('"coap.host" must not be empty');
    requirePositiveInteger('mqtt.maxMessageBytes', c.mqtt.maxMessageBytes, 1024);
    requirePositiveInteger('mqtt.maxConnectsPerSecond', c.mqtt.maxConnectsPerSecond, 0);
    requirePositiveInteger('devices.requestTimeoutMs', c.devices.requestTimeoutMs, 100);
    requirePositiveInteger('devices.lifetimeSeconds', c.devices.lifetimeSeconds, 10);
    if (c.firmware.baseUrl !== null && !/^https?:\/\/[^/]+/.test(c.firmware.baseUrl)) {
      throw new ConfigError(`"firmware.baseUrl" must be an http:// or https:// URL, got "${c.firmware.baseUrl}"`);
    }
    if (c.firmware.coapBaseUrl !== null && !/^coap:\/\/[^/]+/.test(c.firmware.coapBaseUrl)) {
      throw new ConfigError(`"firmware.coapBaseUrl" must be a coap:// URL, got "${c.firmware.coapBaseUrl}"`);
    }
    if (c.lwm2m.serverUri !== null && !/^coaps?:\/\/[^/]+/.test(c.lwm2m.serverUri)) {
      throw new ConfigError(`"lwm2m.serverUri" must be a coap:// URL, got "${c.lwm2m.serverUri}"`);
    }
    if (c.lwm2m.enabled && !c.coap.enabled) throw new ConfigError('"lwm2m.enabled" needs "coap.enabled": LwM2M runs on the CoAP endpoint');
    requirePort('coap.dtls.port', c.coap.dtls.port);
    if (c.coap.dtls.enabled && c.coap.dtls.port !== 0 && c.coap.dtls.port === c.coap.port) throw new ConfigError('"coap.dtls.port" must differ from "coap.port"');
    if (c.lwm2m.security !== undefined && c.lwm2m.security !== 'nosec' && c.lwm2m.security !== 'psk') throw new ConfigError(`"lwm2m.security" must be "nosec" or "psk", got "${String(c.lwm2m.security)}"`);
    if (c.lwm2m.security === 'psk' && !(c.coap.enabled && c.coap.dtls.enabled)) throw new ConfigError('"lwm2m.security": "psk" needs "coap.dtls.enabled": PSK devices register over DTLS');
    if (c.coap.dtls.bootstrapPort !== undefined) {
      requirePort('coap.dtls.bootstrapPort', c.coap.dtls.bootstrapPort);
      if (c.coap.dtls.enabled && c.coap.dtls.bootstrapPort !== 0 && [c.coap.port, c.coap.dtls.port].includes(c.coap.dtls.bootstrapPort)) {
        throw new ConfigError('"coap.dtls.bootstrapPort" must differ from "coap.port" and "coap.dtls.port"');
      }
    }
    const bootstrapSecurity = c.lwm2m.bootstrapSecurity;
    if (bootstrapSecurity != null && bootstrapSecurity !== 'nosec' && bootstrapSecurity !== 'psk') throw new ConfigError(`"lwm2m.bootstrapSecurity" must be "nosec" or "psk", got "${String(bootstrapSecurity)}"`);
    if (bootstrapSecurity === 'psk' && !(c.coap.enabled && c.coap.dtls.enabled)) throw new ConfigError('"lwm2m.bootstrapSecurity": "psk" needs "coap.dtls.enabled": devices bootstrap over DTLS');
    if (c.lwm2m.secureServerUri != null && !/^coaps:\/\/[^/]+/.test(c.lwm2m.secureServerUri)) {
      throw new ConfigError(`"lwm2m.secureServerUri" must be a coaps:// URL, got "${c.lwm2m.secureServerUri}"`);
    }
    requirePositiveInteger('lwm2m.queueAwakeMs', c.lwm2m.queueAwakeMs, 100);
    if (!c.firmware.vendor) throw new ConfigError('"firmware.vendor" must not be empty');
    requirePositiveInteger('firmware.maxImageBytes', c.firmware.maxImageBytes, 1);
    requirePositiveInteger('rollouts.pollIntervalMs', c.rollouts.pollIntervalMs, 50);
    requirePositiveInteger('fleetCommands.defaultTtlSeconds', c.fleetCommands.defaultTtlSeconds, 1);
    requirePositiveInteger('fleetCommands.defaultMaxConcurrent', c.fleetCommands.defaultMaxConcurrent, 1);
    requirePositiveInteger('fleetCommands.defaultRatePerMin', c.fleetCommands.defaultRatePerMin, 0);
    requirePositiveInteger('fleetCommands.maxAttempts', c.fleetCommands.maxAttempts, 1);
    validateManagementConfig(c);
    if (c.bootstrap.serverUri !== null && !/^mqtts?:\/\/[^/]+/.test(c.bootstrap.serverUri)) {
      throw new ConfigError(`"bootstrap.serverUri" must be an mqtt:// or mqtts:// URI, got "${c.bootstrap.serverUri}"`);
    }
  },
};

export function loadGatewayConfig(sources: ConfigSources<GatewayConfig> = {}): GatewayConfig {
  return loadLayeredConfig(GATEWAY_CONFIG_SPEC, sources);
}

/** The UDP port of the LwM2M bootstrap server over DTLS: `coap.dtls.bootstrapPort`, else 5784 (a free port when `coap.dtls.port` is 0). */
export function bootstrapDtlsPort(c: GatewayConfig): number {
  return c.coap.dtls.bootstrapPort ?? (c.coap.dtls.port === 0 ? 0 : 5784);
}

/** Whether a device with a kept factory secret must bootstrap over DTLS: `lwm2m.bootstrapSecurity`, else `lwm2m.security`. */
export function bootstrapSecurityOf(c: GatewayConfig): 'nosec' | 'psk' {
  return c.lwm2m.bootstrapSecurity ?? c.lwm2m.security ?? 'nosec';
}
