/**
 * The REST API's shapes as the portal reads them (gateway/api/routes/*). Kept here rather than
 * imported from gateway/: the portal is browser code and depends on the API, not on the gateway.
 */

export type Role = 'viewer' | 'operator' | 'admin';

export const ROLES: readonly Role[] = ['viewer', 'operator', 'admin'];

export interface Operator {
  username: string;
  role: Role;
}

/** An account as GET /api/v1/operators lists it (admin). */
export interface OperatorAccount extends Operator {
  createdAt: string;
  updatedAt: string;
}

export interface ApiToken {
  id: string;
  username: string;
  name: string;
  kind: 'session' | 'api';
  createdAt: string;
  expiresAt: string | null;
  lastUsedAt: string | null;
}

/** Every list answers `{ items }`; paginated ones add `total`, `offset`, `limit`. */
export interface Page<T> {
  items: T[];
  total?: number;
  offset?: number;
  limit?: number;
}

export const DEVICE_STATUSES = ['online', 'sleeping', 'offline', 'bootstrapping', 'decommissioned'] as const;
export const TRANSPORTS = ['mqtt', 'coap', 'lwm2m'] as const;

export interface Device {
  endpoint: string;
  status: string;
  transport: string | null;
  lastSeen: string | null;
  registeredAt: string | null;
  lifetime: number | null;
  lwm2mVersion: string | null;
  binding: string | null;
  queueMode: boolean;
  address: string | null;
  manufacturer: string | null;
  model: string | null;
  serialNumber: string | null;
  firmwareVersion: string | null;
  tags: string[];
  groups: string[];
  objects: string[];
  hasCredential: boolean;
  createdAt: string;
  updatedAt: string;
  decommissionedAt: string | null;
}

export type JsonValue = string | number | boolean | { objectId: number; instanceId: number };

export interface JsonRecord {
  path: string;
  type: string;
  value: JsonValue;
}

export interface Link {
  target: string;
  attributes: Record<string, string | null>;
}

export interface OperationResult {
  endpoint: string;
  operation: string;
  path: string;
  code: string;
  codeText: string;
  success: boolean;
  message?: string;
  content?: JsonRecord[];
  links?: Link[];
}

export interface Alarm {
  id: number;
  ruleId: string;
  ruleName: string;
  endpoint: string;
  severity: string;
  state: 'active' | 'acknowledged' | 'cleared';
  message: string;
  value: unknown;
  raisedAt: string;
  acknowledgedAt: string | null;
  acknowledgedBy: string | null;
  clearedAt: string | null;
  clearReason: string | null;
}

export interface AlarmRule {
  id: string;
  name: string;
  kind: 'value' | 'offline' | 'update-failed';
  severity: string;
  enabled: boolean;
  path?: string;
  op?: string;
  threshold?: number;
  hysteresis?: number;
  afterSeconds?: number;
}

export interface Firmware {
  id: string;
  name: string;
  version: string;
  vendor: string;
  models: string[];
  size: number;
  sha256: string;
  createdAt: string;
}

export interface Rollout {
  id: string;
  firmwareId: string;
  target: string;
  state: string;
  reason: string | null;
  policy: Record<string, unknown>;
  total: number;
  counts: Record<string, number>;
  currentBatch: number | null;
  bytesServed: number;
  createdAt: string;
  updatedAt: string;
  finishedAt: string | null;
}

export interface RolloutDevice {
  endpoint: string;
  batch: number;
  state: string;
  updateResult: number | null;
  reason: string | null;
  attempts: number;
  fromVersion: string | null;
  startedAt: string | null;
  finishedAt: string | null;
}

export interface StepOutcome {
  kind: string;
  path: string;
  code: string;
  message?: string;
  content?: JsonRecord[];
  recentEvents?: string[];
}

export interface FleetCommandPolicy {
  ttlSeconds: number;
  maxConcurrent: number;
  ratePerMin: number | null;
  timeoutMs: number;
  maxAttempts: number;
}

export interface FleetCommand {
  id: string;
  target: string;
  operation: string;
  path: string | null;
  steps: string[];
  state: string;
  reason: string | null;
  policy?: FleetCommandPolicy;
  total: number;
  counts: Record<string, number>;
  createdAt: string;
  updatedAt?: string;
  expiresAt: string;
  finishedAt: string | null;
}

/** How one resource's values spread over the devices that answered (gateway/commands/aggregate.ts). */
export interface ValueDistribution {
  devices: number;
  distinct: number;
  top: { value: string | number | boolean; count: number }[];
  numeric?: { min: number; max: number; mean: number };
}

export interface CommandAggregate {
  steps: { kind: string; path: string; codes: Record<string, number> }[];
  values: Record<string, ValueDistribution>;
}

export interface FleetCommandDetail extends FleetCommand {
  aggregate: CommandAggregate;
}

export interface CommandDeviceRow {
  endpoint: string;
  state: string;
  attempts: number;
  reason: string | null;
  result: { steps: StepOutcome[] } | null;
  queuedAt: string;
  sentAt: string | null;
  finishedAt: string | null;
  expiresAt: string;
}

export interface DeviceFleetCommand extends FleetCommand {
  device: CommandDeviceRow;
}

export interface SeriesPoint {
  at: string;
  value?: number;
  min?: number;
  max?: number;
  avg?: number;
  count?: number;
}

export interface Series {
  path: string;
  points: SeriesPoint[];
}

export interface AccountingRow {
  endpoint: string;
  period: string;
  transport: string;
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  firmwareBytes: number;
  operations: Record<string, number>;
}

export interface AuditEntry {
  id: number;
  at: string;
  actor: string | null;
  role: string | null;
  action: string;
  method: string;
  path: string;
  target: string | null;
  status: number;
  outcome: string;
}

/** What GET /api/v1/events streams (gateway/events.ts), times in epoch ms. */
export type GatewayEvent =
  | { type: 'device.status'; endpoint: string; status: string; previous: string | null; at: number }
  | { type: 'device.registered'; endpoint: string; transport: string; at: number }
  | { type: 'device.info'; endpoint: string; at: number }
  | { type: 'device.notification'; endpoint: string; observationId: string; path: string; content: JsonRecord[]; at: number }
  | { type: 'rollout.progress'; rolloutId: string; state: string; counts: Record<string, number>; total: number; reason: string | null; at: number }
  | { type: 'rollout.device'; rolloutId: string; endpoint: string; state: string; updateResult: number | null; reason: string | null; at: number }
  | { type: 'fleet.command.progress'; commandId: string; state: string; counts: Record<string, number>; total: number; reason: string | null; at: number }
  | { type: 'fleet.command.device'; commandId: string; endpoint: string; state: string; code: string | null; reason: string | null; at: number }
  | { type: 'alarm.raised' | 'alarm.cleared' | 'alarm.acknowledged'; alarm: Alarm; at: number };

export type GatewayEventType = GatewayEvent['type'];

export const EVENT_TYPES: readonly GatewayEventType[] = [
  'device.status',
  'device.registered',
  'device.info',
  'device.notification',
  'rollout.progress',
  'rollout.device',
  'fleet.command.progress',
  'fleet.command.device',
  'alarm.raised',
  'alarm.acknowledged',
  'alarm.cleared',
];
