import type { Database } from '../store/database.js';

export const HOUR_MS = 3_600_000;

/** Counters of one device on one transport in one hour. */
export interface TrafficCounters {
  messagesIn: number;
  messagesOut: number;
  bytesIn: number;
  bytesOut: number;
  firmwareBytes: number;
}

export interface TrafficDelta extends TrafficCounters {
  endpoint: string;
  hour: number;
  transport: string;
}

export interface OperationsDelta {
  endpoint: string;
  hour: number;
  transport: string;
  kind: string;
  count: number;
}

export interface LedgerRow extends TrafficCounters {
  endpoint: string;
  /** Start of the period (an hour or a UTC day), Unix ms. */
  period: number;
  transport: string;
  operations: Record<string, number>;
}

export interface LedgerQuery {
  endpoint?: string;
  from: number;
  to: number;
  group: 'hour' | 'day';
}

const DAY_MS = 24 * HOUR_MS;

/** The ledger in SQL: counters per device, hour and transport, added to (upserts), never rewritten. */
export class AccountingRepository {
  private readonly addTraffic;
  private readonly addOperations;

  constructor(private readonly db: Database) {
    this.addTraffic = db.prepare(
      `INSERT INTO accounting_traffic (endpoint, hour, transport, messages_in, messages_out, bytes_in, bytes_out, firmware_bytes)
       VALUES (@endpoint, @hour, @transport, @messagesIn, @messagesOut, @bytesIn, @bytesOut, @firmwareBytes)
       ON CONFLICT (endpoint, hour, transport) DO UPDATE SET
         messages_in = messages_in + excluded.messages_in, messages_out = messages_out + excluded.messages_out,
         bytes_in = bytes_in + excluded.bytes_in, bytes_out = bytes_out + excluded.bytes_out,
         firmware_bytes = firmware_bytes + excluded.firmware_bytes`,
    );
    this.addOperations = db.prepare(
      `INSERT INTO accounting_operations (endpoint, hour, transport, kind, count) VALUES (@endpoint, @hour, @transport, @kind, @count)
       ON CONFLICT (endpoint, hour, transport, kind) DO UPDATE SET count = count + excluded.count`,
    );
  }

  /** Adds a flush's worth of counters in one transaction. */
  add(traffic: readonly TrafficDelta[], operations: readonly OperationsDelta[]): void {
    this.db.transaction(() => {
      for (const t of traffic) this.addTraffic.run(t);
      for (const o of operations) this.addOperations.run(o);
    })();
  }

  /** Rows per device, period and transport, in that order; periods are hours or UTC days. */
  query(q: LedgerQuery): LedgerRow[] {
    const periodMs = q.group === 'day' ? DAY_MS : HOUR_MS;
    const params = { endpoint: q.endpoint ?? null, from: q.from, to: q.to, periodMs };
    const where = '(@endpoint IS NULL OR endpoint = @endpoint) AND hour + 3600000 > @from AND hour <= @to';
    const traffic = this.db
      .prepare(
        `SELECT endpoint, (hour / CAST(@periodMs AS INTEGER)) * CAST(@periodMs AS INTEGER) AS period, transport,
           SUM(messages_in) AS messagesIn, SUM(messages_out) AS messagesOut, SUM(bytes_in) AS bytesIn,
           SUM(bytes_out) AS bytesOut, SUM(firmware_bytes) AS firmwareBytes
         FROM accounting_traffic WHERE ${where} GROUP BY 1, 2, 3`,
      )
      .all(params) as (TrafficCounters & { endpoint: string; period: number; transport: string })[];
    const operations = this.db
      .prepare(
        `SELECT endpoint, (hour / CAST(@periodMs AS INTEGER)) * CAST(@periodMs AS INTEGER) AS period, transport, kind, SUM(count) AS count
         FROM accounting_operations WHERE ${where} GROUP BY 1, 2, 3, 4`,
      )
      .all(params) as { endpoint: string; period: number; transport: string; kind: string; count: number }[];

    const rows = new Map<string, LedgerRow>();
    const rowFor = (endpoint: string, period: number, transport: string) => {
      const k = `${endpoint}\u0000${period}\u0000${transport}`;
      let row = rows.get(k);
      if (!row) {
        row = { endpoint, period, transport, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, firmwareBytes: 0, operations: {} };
        rows.set(k, row);
      }
      return row;
    };
    for (const t of traffic) Object.assign(rowFor(t.endpoint, t.period, t.transport), { ...t, operations: rowFor(t.endpoint, t.period, t.transport).operations });
    for (const o of operations) rowFor(o.endpoint, o.period, o.transport).operations[o.kind] = o.count;
    return [...rows.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : a.period - b.period || (a.transport < b.transport ? -1 : 1)));
  }

  /** Drops hours before `before`; returns how many rows went. */
  prune(before: number): number {
    return this.db.transaction(() => {
      const a = this.db.prepare('DELETE FROM accounting_traffic WHERE hour < ?').run(before).changes;
      const b = this.db.prepare('DELETE FROM accounting_operations WHERE hour < ?').run(before).changes;
      return a + b;
    })();
  }
}
