import { DEVICE_STATUSES, TRANSPORTS } from '../states.js';

/** The keys a target term can filter on. Grammar and semantics: docs/targets.md. */
export const TARGET_KEYS = ['id', 'tag', 'group', 'transport', 'status', 'fw', 'model', 'serial'] as const;
export type TargetKey = (typeof TARGET_KEYS)[number];

/** Keys whose values come from a closed vocabulary; any other value is a syntax error. */
export const ENUMERATED_TARGET_VALUES: Readonly<Partial<Record<TargetKey, readonly string[]>>> = {
  transport: TRANSPORTS,
  status: DEVICE_STATUSES,
};

/** `key:v1,v2` (any value matches) or its negation `!key:v1,v2`. */
export interface TargetFilterTerm {
  key: TargetKey;
  values: readonly string[];
  negated: boolean;
}

/** `all`: true for every device. */
export interface TargetAllTerm {
  key: 'all';
}

export type TargetTerm = TargetFilterTerm | TargetAllTerm;

/** A parsed target: a device matches when it matches every term. */
export interface TargetExpression {
  terms: readonly TargetTerm[];
}

/** What a target can see of a device. */
export interface TargetableDevice {
  endpoint: string;
  tags: readonly string[];
  groups: readonly string[];
  transport: string | null;
  status: string;
  firmwareVersion: string | null;
  model: string | null;
  /** Object 3's Serial Number (/3/0/2), once the device has reported it. */
  serialNumber: string | null;
}

export function isTargetKey(s: string): s is TargetKey {
  return (TARGET_KEYS as readonly string[]).includes(s);
}
