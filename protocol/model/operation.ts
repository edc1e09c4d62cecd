import type { NotificationAttributes } from './attributes.js';
import type { LwM2mRecord } from './content.js';
import type { Link } from './link.js';
import type { LwM2mPath } from './path.js';
import type { ResultCode } from './result-code.js';

/**
 * The device-management operations of the model. An operation means the same thing on
 * every transport (MQTT, CoAP, LwM2M): the fleet layer speaks only these.
 */
export type Operation =
  | { kind: 'read'; path: LwM2mPath }
  | { kind: 'write'; path: LwM2mPath; mode: 'replace' | 'update'; content: LwM2mRecord[] }
  | { kind: 'execute'; path: LwM2mPath; args?: string }
  | { kind: 'discover'; path: LwM2mPath }
  | { kind: 'observe'; path: LwM2mPath }
  | { kind: 'cancel-observe'; path: LwM2mPath }
  | { kind: 'create'; path: LwM2mPath; content: LwM2mRecord[] }
  | { kind: 'delete'; path: LwM2mPath }
  | { kind: 'write-attributes'; path: LwM2mPath; attributes: NotificationAttributes };

export type OperationKind = Operation['kind'];

export const OPERATION_KINDS: readonly OperationKind[] = [
  'read',
  'write',
  'execute',
  'discover',
  'observe',
  'cancel-observe',
  'create',
  'delete',
  'write-attributes',
];

export interface OperationResult {
  code: ResultCode;
  /** read / observe: the values; create: the new instance's path in `location`. */
  content?: LwM2mRecord[];
  /** discover: the links of the path's subtree, with attributes. */
  links?: Link[];
  location?: string;
  /** A human-readable reason on failure, never a secret. */
  message?: string;
}
