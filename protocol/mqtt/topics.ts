import { isValidEndpointName } from '../endpoint.js';

/**
 * The DM-over-MQTT topic scheme: `edgedm/v1/{endpoint}/{kind}`. The ACL lives here, once,
 * so the broker and the tests agree on who may publish and subscribe where.
 */
export const TOPIC_ROOT = 'edgedm/v1';

export const TOPIC_KINDS = ['bs/req', 'bs/res', 'register', 'update', 'deregister', 'req', 'res', 'notify', 'status'] as const;
export type TopicKind = (typeof TOPIC_KINDS)[number];

/** Which identity of a device is connected: the factory one only bootstraps. */
export type DeviceRole = 'factory' | 'operational';

const DEVICE_PUBLISHES: Record<DeviceRole, ReadonlySet<TopicKind>> = {
  factory: new Set(['bs/req']),
  operational: new Set(['register', 'update', 'deregister', 'res', 'notify', 'status']),
};

const DEVICE_SUBSCRIBES: Record<DeviceRole, ReadonlySet<TopicKind>> = {
  factory: new Set(['bs/res']),
  operational: new Set(['req']),
};

const KINDS = new Set<string>(TOPIC_KINDS);

export function topicFor(endpoint: string, kind: TopicKind): string {
  return `${TOPIC_ROOT}/${endpoint}/${kind}`;
}

/** Undefined for anything that is not exactly a topic of the scheme (wildcards included). */
export function parseTopic(topic: string): { endpoint: string; kind: TopicKind } | undefined {
  const prefix = `${TOPIC_ROOT}/`;
  if (typeof topic !== 'string' || !topic.startsWith(prefix)) return undefined;
  const rest = topic.slice(prefix.length);
  const slash = rest.indexOf('/');
  if (slash <= 0) return undefined;
  const endpoint = rest.slice(0, slash);
  const kind = rest.slice(slash + 1);
  if (!isValidEndpointName(endpoint) || !KINDS.has(kind)) return undefined;
  return { endpoint, kind: kind as TopicKind };
}

export function mayPublish(role: DeviceRole, endpoint: string, topic: string): boolean {
  const parsed = parseTopic(topic);
  return parsed !== undefined && parsed.endpoint === endpoint && DEVICE_PUBLISHES[role].has(parsed.kind);
}

/** Devices subscribe to exact topics only: a wildcard never parses, so it is refused. */
export function maySubscribe(role: DeviceRole, endpoint: string, topicFilter: string): boolean {
  const parsed = parseTopic(topicFilter);
  return parsed !== undefined && parsed.endpoint === endpoint && DEVICE_SUBSCRIBES[role].has(parsed.kind);
}

/** What the gateway listens to: everything devices may publish. */
export const GATEWAY_SUBSCRIPTIONS: readonly string[] = (['bs/req', 'register', 'update', 'deregister', 'res', 'notify', 'status'] as const).map(
  (kind) => `${TOPIC_ROOT}/+/${kind}`,
);
