import { stringify } from 'csv-stringify/sync';
import { OPERATION_KINDS } from '../../protocol/model/index.js';
import type { LedgerRow } from './accounting-repository.js';

const COLUMNS = ['endpoint', 'period_start', 'transport', 'messages_in', 'messages_out', 'bytes_in', 'bytes_out', 'firmware_bytes', ...OPERATION_KINDS.map((k) => `ops_${k}`)];

/** The ledger as CSV (RFC 4180): one line per device, period and transport, every operation kind a column. */
export function ledgerCsv(rows: readonly LedgerRow[]): string {
  return stringify(
    rows.map((r) => [
      r.endpoint,
      new Date(r.period).toISOString(),
      r.transport,
      r.messagesIn,
      r.messagesOut,
      r.bytesIn,
      r.bytesOut,
      r.firmwareBytes,
      ...OPERATION_KINDS.map((k) => r.operations[k] ?? 0),
    ]),
    { header: true, columns: COLUMNS, record_delimiter: 'windows' },
  );
}
