import { ConfigError, loadLayeredConfig, requireLogLevel, requirePositiveInteger, type ConfigSources, type ConfigSpec } from '../common/config.js';
import { isValidEndpointName } from '../protocol/endpoint.js';

export const HOST_KINDS = ['auto', 'linux', 'simulated'] as const;
export type HostKind = (typeof HOST_KINDS)[number];

/** The agent's settings, layered like the gateway's (docs/configuration.md). */
export interface AgentConfig {
  /** The factory identity: endpoint name and secret, as imported into the gateway. */
  endpoint: string;
  factorySecret: string;
  /** Where to bootstrap; the operational server comes from the bootstrap grant. */
  bootstrapServerUri: string;
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
  stateDir: './.edgedm/agent',
  keepaliveSeconds: 60,
  reconnect: { minDelayMs: 1000, maxDelayMs: 60_000 },
  host: 'auto',
  logLevel: 'info',
}) as AgentConfig;

export const AGENT_CONFIG_SPEC: ConfigSpec<AgentConfig> = {
  name: 'agent',
  defaults: DEFAULT_AGENT_CONFIG,
  env: {
    EDGEDM_ENDPOINT: { key: 'endpoint', type: 'string' },
    EDGEDM_FACTORY_SECRET: { key: 'factorySecret', type: 'string' },
    EDGEDM_BOOTSTRAP_SERVER_URI: { key: 'bootstrapServerUri', type: 'string' },
    EDGEDM_STATE_DIR: { key: 'stateDir', type: 'string' },
    EDGEDM_KEEPALIVE_SECONDS: { key: 'keepaliveSeconds', type: 'integer' },
    EDGEDM_HOST: { key: 'host', type: 'string' },
    EDGEDM_LOG_LEVEL: { key: 'logLevel', type: 'string' },
  },
  validate(c) {
    requireLogLevel(c.logLevel);
    if (!c.endpoint) throw new ConfigError('the agent needs an endpoint name: --endpoint, EDGEDM_ENDPOINT or "endpoint" in the file');
    if (!isValidEndpointName(c.endpoint)) throw new ConfigError(`"endpoint" is not a valid endpoint name: "${c.endpoint}"`);
    if (!c.factorySecret) {
      throw new ConfigError('the agent needs its factory secret: EDGEDM_FACTORY_SECRET, "factorySecret" in the file, or --factory-secret');
    }
    if (!/^(mqtts?|coap):\/\/[^/]+/.test(c.bootstrapServerUri)) {
      throw new ConfigError(`"bootstrapServerUri" must be an mqtt://, mqtts:// or coap:// (LwM2M) URI, got "${c.bootstrapServerUri}"`);
    }
    requirePositiveInteger('keepaliveSeconds', c.keepaliveSeconds, 1);
    requirePositiveInteger('reconnect.minDelayMs', c.reconnect.minDelayMs, 1);
    if (c.reconnect.maxDelayMs < c.reconnect.minDelayMs) throw new ConfigError('"reconnect.maxDelayMs" must not be below "reconnect.minDelayMs"');
    if (!(HOST_KINDS as readonly string[]).includes(c.host)) throw new ConfigError(`"host" must be one of ${HOST_KINDS.join(', ')}, got "${c.host}"`);
  },
};

export function loadAgentConfig(sources: ConfigSources<AgentConfig> = {}): AgentConfig {
  return loadLayeredConfig(AGENT_CONFIG_SPEC, sources);
}
