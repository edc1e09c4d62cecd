import type { JsonRecord } from '../../protocol/model/index.js';
import type { TimeSeriesStore } from './timeseries-store.js';

const NUMERIC_TYPES = new Set(['integer', 'unsigned', 'float']);

/** Keeps the numeric values of a device's notification (or an Observe's current value) as samples. */
export function recordNumericValues(store: TimeSeriesStore, endpoint: string, content: readonly JsonRecord[], at: number): void {
  for (const record of content) {
    if (NUMERIC_TYPES.has(record.type) && typeof record.value === 'number') store.record({ endpoint, path: record.path, at, value: record.value });
  }
}
