import type { NotificationAttributes } from './attributes.js';
import type { LwM2mRecord } from './content.js';
import type { Link } from './link.js';
import type { LwM2mPath } from './path.js';
import type { ResultCode } from './result-code.js';

/**
 * RFC 7959 Block1 semantics for a write carried in pieces (a firmware Package pushed to the
 * device): block `num` of `size` bytes starts at byte num × size; `more` unless it is the last.
 */
export interface BlockInfo {
  num: number;
  size: number;
  more: boolean;
}

/** Block sizes a block-wise write may use: powers of two, CoAP's 16 bytes up to 64 KiB. */
export const MIN_BLOCK_SIZE = 16;
export const MAX_BLOCK_SIZE = 65536;

export function isValidBlock(b: BlockInfo): boolean {
  return Number.isSafeInteger(b.num) && b.num >= 0 && b.size >= MIN_BLOCK_SIZE && b.size <= MAX_BLOCK_SIZE && (b.size & (b.size - 1)) === 0 && b.num * b.size < 2 ** 32;
}

/**
 * The device-management operations of the model. An operation means the same thing on
 * every transport (MQTT, CoAP, LwM2M): the fleet layer speaks only these.
 */
export type Operation =
  | { kind: 'read'; path: LwM2mPath }
  | { kind: 'write'; path: LwM2mPath; mode: 'replace' | 'update'; content: LwM2mRecord[]; block?: BlockInfo }
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
  /**
   * Block-wise writes (2.31 Continue, 4.08 Request Entity Incomplete): the byte offset the
   * device expects next, so an interrupted transfer resumes there instead of from zero.
   */
  nextOffset?: number;
}
