import { LwM2mPath } from './path.js';
import { toJsonValue, type LwM2mValue, type ResourceType } from './value.js';

/**
 * One value at one path: the flat form of LwM2M content (as SenML records are).
 * A read of `/3/0` yields one record per single resource and one per resource instance
 * (`/3/0/6/0`, `/3/0/6/1`, …) of multiple resources.
 */
export interface LwM2mRecord {
  path: LwM2mPath;
  type: ResourceType;
  value: LwM2mValue;
}

export interface JsonRecord {
  path: string;
  type: ResourceType;
  value: ReturnType<typeof toJsonValue>;
}

export function recordToJson(r: LwM2mRecord): JsonRecord {
  return { path: r.path.toString(), type: r.type, value: toJsonValue(r.type, r.value) };
}

/** Sorts records in tree order, so every transport emits them the same way. */
export function sortRecords(records: LwM2mRecord[]): LwM2mRecord[] {
  return [...records].sort((a, b) => LwM2mPath.compare(a.path, b.path));
}

/** The value of one resource among records, or undefined. */
export function findRecord(records: readonly LwM2mRecord[], path: LwM2mPath | string): LwM2mRecord | undefined {
  const p = typeof path === 'string' ? LwM2mPath.parse(path) : path;
  return records.find((r) => r.path.equals(p));
}
