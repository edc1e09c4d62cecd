import type { Logger } from '../../common/logger.js';
import type { DatagramPeer } from '../../common/coap/datagram-meter.js';
import type { TransportKind } from '../../protocol/states.js';
import type { Database } from '../store/database.js';
import type { TrafficDirection, TrafficMeter } from '../traffic-meter.js';
import { AccountingRepository, HOUR_MS, type LedgerQuery, type LedgerRow, type OperationsDelta, type TrafficDelta } from './accounting-repository.js';
import { CoapPeers } from './coap-peers.js';

export interface TrafficLedgerOptions {
  db: Database;
  log: Logger;
  /** Counters are written at most this far apart. */
  flushIntervalMs: number;
  now?: () => number;
}

interface PendingDatagrams {
  in: number;
  out: number;
  bytesIn: number;
  bytesOut: number;
  at: number;
}

/**
 * Accounting (Y.4702 8.7): a per-device ledger of management traffic (messages and bytes in and
 * out per transport), operations by kind and firmware bytes delivered, per hour. Counted in
 * memory and written every `flushIntervalMs` in one transaction: never a SQL write per message.
 * Every read writes first, so readers see exact figures.
 */
export class TrafficLedger implements TrafficMeter {
  readonly repository: AccountingRepository;
  private traffic = new Map<string, TrafficDelta>();
  private operations = new Map<string, OperationsDelta>();
  private datagrams = new Map<string, PendingDatagrams>();
  private readonly samplers: (() => void)[] = [];
  private readonly peers: CoapPeers;
  private readonly transfers = new Map<string, { endpoint: string; transport: string } | null>();
  private readonly timer: NodeJS.Timeout;
  private readonly now: () => number;
  private unattributedDatagrams = 0;

  constructor(private readonly opts: TrafficLedgerOptions) {
    this.now = opts.now ?? Date.now;
    this.repository = new AccountingRepository(opts.db);
    this.peers = new CoapPeers(opts.db);
    this.timer = setInterval(() => this.flush(), opts.flushIntervalMs);
    this.timer.unref();
  }

  bytes(endpoint: string, transport: TransportKind, direction: TrafficDirection, bytes: number): void {
    const t = this.counters(endpoint, transport);
    if (direction === 'in') t.bytesIn += bytes;
    else t.bytesOut += bytes;
  }

  messages(endpoint: string, transport: TransportKind, direction: TrafficDirection, count = 1): void {
    const t = this.counters(endpoint, transport);
    if (direction === 'in') t.messagesIn += count;
    else t.messagesOut += count;
  }

  addSampler(sample: () => void): void {
    this.samplers.push(sample);
  }

  /** A datagram on the gateway's CoAP socket: one message, its UDP payload bytes; attributed to a device at the flush. */
  datagram = (direction: 'in' | 'out', peer: DatagramPeer, bytes: number): void => {
    const key = CoapPeers.key(peer);
    let p = this.datagrams.get(key);
    if (!p) {
      p = { in: 0, out: 0, bytesIn: 0, bytesOut: 0, at: this.now() };
      this.datagrams.set(key, p);
    }
    if (direction === 'in') {
      p.in++;
      p.bytesIn += bytes;
    } else {
      p.out++;
      p.bytesOut += bytes;
    }
  };

  /** An operation the gateway sent to a device. */
  operation(endpoint: string, transport: TransportKind, kind: string): void {
    const hour = this.hour();
    const key = `${endpoint}\u0000${hour}\u0000${transport}\u0000${kind}`;
    const o = this.operations.get(key);
    if (o) o.count++;
    else this.operations.set(key, { endpoint, hour, transport, kind, count: 1 });
  }

  /** Firmware bytes served through a transfer (the firmware repository's own count, reused). */
  firmwareServed(transferId: string, bytes: number): void {
    const owner = this.transferOwner(transferId);
    if (owner) this.counters(owner.endpoint, owner.transport).firmwareBytes += bytes;
  }

  query(q: LedgerQuery): LedgerRow[] {
    this.flush();
    return this.repository.query(q);
  }

  flush(): void {
    for (const sample of this.samplers) sample();
    this.attributeDatagrams();
    if ((this.traffic.size === 0 && this.operations.size === 0) || !this.opts.db.open) return;
    const traffic = [...this.traffic.values()];
    const operations = [...this.operations.values()];
    this.traffic = new Map();
    this.operations = new Map();
    try {
      this.repository.add(traffic, operations);
    } catch (err) {
      this.opts.log.error({ err, rows: traffic.length + operations.length }, 'writing the accounting ledger failed');
    }
  }

  close(): void {
    clearInterval(this.timer);
    this.flush();
  }

  /** Datagrams from or to addresses no device is registered at (e.g. before its registration). */
  get unattributed(): number {
    return this.unattributedDatagrams;
  }

  private attributeDatagrams(): void {
    if (this.datagrams.size === 0) return;
    const pending = this.datagrams;
    this.datagrams = new Map();
    if ([...pending.keys()].some((k) => !this.peers.lookup(k)) && this.opts.db.open) this.peers.refresh();
    for (const [key, p] of pending) {
      const owner = this.peers.lookup(key);
      if (!owner) {
        this.unattributedDatagrams += p.in + p.out;
        continue;
      }
      const t = this.counters(owner.endpoint, owner.transport, p.at);
      t.messagesIn += p.in;
      t.messagesOut += p.out;
      t.bytesIn += p.bytesIn;
      t.bytesOut += p.bytesOut;
    }
  }

  private counters(endpoint: string, transport: string, at = this.now()): TrafficDelta {
    const hour = this.hour(at);
    const key = `${endpoint}\u0000${hour}\u0000${transport}`;
    let t = this.traffic.get(key);
    if (!t) {
      t = { endpoint, hour, transport, messagesIn: 0, messagesOut: 0, bytesIn: 0, bytesOut: 0, firmwareBytes: 0 };
      this.traffic.set(key, t);
    }
    return t;
  }

  private transferOwner(transferId: string): { endpoint: string; transport: string } | undefined {
    if (!this.transfers.has(transferId)) {
      if (this.transfers.size >= 10_000) this.transfers.clear();
      const row = this.opts.db
        .prepare<[string], { endpoint: string; transport: string }>(
          'SELECT t.endpoint AS endpoint, COALESCE(d.transport, t.transport) AS transport FROM transfers t LEFT JOIN devices d ON d.endpoint = t.endpoint WHERE t.id = ?',
        )
        .get(transferId);
      this.transfers.set(transferId, row ?? null);
    }
    return this.transfers.get(transferId) ?? undefined;
  }

  private hour(at = this.now()): number {
    return Math.floor(at / HOUR_MS) * HOUR_MS;
  }
}
