import type { DeviceResult } from './command-repository.js';

/** How one resource's values spread over the fleet. */
export interface ValueDistribution {
  /** Devices that reported the resource. */
  devices: number;
  distinct: number;
  /** The most common values, most common first. */
  top: { value: string | number | boolean; count: number }[];
  /** For numeric resources. */
  numeric?: { min: number; max: number; mean: number };
}

export interface StepAggregate {
  kind: string;
  path: string;
  /** Devices per result code, e.g. {"2.05": 998, "4.04": 2}. */
  codes: Record<string, number>;
}

export interface CommandAggregate {
  steps: StepAggregate[];
  /** Per resource path that devices returned a value for (reads, observes). */
  values: Record<string, ValueDistribution>;
}

/** Bounds, so the aggregate of a command over a large, diverse fleet stays a summary. */
const MAX_PATHS = 100;
const TOP_VALUES = 10;
const MAX_VALUE_LENGTH = 120;

/**
 * Sums the results of a command over its devices: result codes per step, and for every
 * resource read the distribution of its values (e.g. firmware versions across the fleet).
 */
export function aggregateResults(results: readonly DeviceResult[]): CommandAggregate {
  const steps = new Map<string, StepAggregate>();
  const values = new Map<string, { counts: Map<string | number | boolean, number>; devices: number; min: number; max: number; sum: number; numeric: number }>();
  for (const result of results) {
    for (const step of result.steps) {
      const key = `${step.kind} ${step.path}`;
      let s = steps.get(key);
      if (!s) steps.set(key, (s = { kind: step.kind, path: step.path, codes: {} }));
      s.codes[step.code] = (s.codes[step.code] ?? 0) + 1;
      for (const record of step.content ?? []) {
        let v = values.get(record.path);
        if (!v) {
          if (values.size >= MAX_PATHS) continue;
          values.set(record.path, (v = { counts: new Map(), devices: 0, min: Infinity, max: -Infinity, sum: 0, numeric: 0 }));
        }
        v.devices++;
        const raw = record.value;
        const value = typeof raw === 'object' ? JSON.stringify(raw) : typeof raw === 'string' && raw.length > MAX_VALUE_LENGTH ? `${raw.slice(0, MAX_VALUE_LENGTH)}…` : raw;
        v.counts.set(value, (v.counts.get(value) ?? 0) + 1);
        if (typeof raw === 'number') {
          v.min = Math.min(v.min, raw);
          v.max = Math.max(v.max, raw);
          v.sum += raw;
          v.numeric++;
        }
      }
    }
  }
  const out: CommandAggregate = { steps: [...steps.values()], values: {} };
  for (const [path, v] of values) {
    const top = [...v.counts.entries()]
      .sort((a, b) => b[1] - a[1] || String(a[0]).localeCompare(String(b[0])))
      .slice(0, TOP_VALUES)
      .map(([value, count]) => ({ value, count }));
    out.values[path] = {
      devices: v.devices,
      distinct: v.counts.size,
      top,
      ...(v.numeric > 0 && v.numeric === v.devices ? { numeric: { min: v.min, max: v.max, mean: v.sum / v.numeric } } : {}),
    };
  }
  return out;
}
