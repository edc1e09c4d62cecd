import { EventEmitter } from 'node:events';
import { NULL_PROTECTION, suiteName, type RecordProtection } from './cipher-suites.js';
import { AlertDescription, AlertLevel, DtlsError, DtlsTimeoutError, alertName } from './errors.js';
import { encodeFlight, type FlightItem } from './flight.js';
import { FragmentReassembly, type HandshakeMessage } from './fragment-reassembly.js';
import { HandshakeType, parseHandshakeFragments } from './handshake-messages.js';
import { ContentType, DTLS_1_2, parseRecords, recordHeader, type DtlsRecord } from './record.js';
import { ReplayWindow } from './replay-window.js';
import { RetransmitTimer, type RetransmitOptions } from './retransmit.js';
import type { DtlsLogger, DtlsStats } from './stats.js';

export interface Peer {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** What a session needs from its endpoint. */
export interface SessionHost {
  sendDatagram(peer: Peer, datagram: Buffer): void;
  readonly stats: DtlsStats;
  readonly log: DtlsLogger | undefined;
}

export interface SessionOptions {
  /** Largest datagram we send during the handshake (path MTU minus IP/UDP headers). */
  mtu: number;
  retransmit: RetransmitOptions;
}

/** What a completed handshake established (no key material: that stays in the record layer). */
export interface HandshakeResult {
  cipherSuite: number;
  identity: Buffer;
  identityHint: Buffer | undefined;
  extendedMasterSecret: boolean;
  clientVerifyData: Buffer;
  serverVerifyData: Buffer;
}

/** The record layer as the handshake drivers see it. */
export interface HandshakeSession {
  readonly role: 'client' | 'server';
  /** Epoch the records of a new handshake start in. */
  readonly currentWriteEpoch: number;
  /** Result of the previous handshake (renegotiation binds to its Finished, RFC 5746). */
  readonly established: HandshakeResult | undefined;
  sendFlight(items: FlightItem[], final: boolean): void;
  resetEpochZero(writeSeq?: number): void;
  installWriteKeys(epoch: number, protection: RecordProtection): void;
  expectReadKeys(epoch: number, protection: RecordProtection): void;
  complete(result: HandshakeResult): void;
}

export interface HandshakeDriver {
  start(): void;
  onMessage(message: HandshakeMessage): void;
}

interface ReadState {
  protection: RecordProtection;
  window: ReplayWindow;
  /** Records authenticated in this epoch (a first one that fails means a wrong key). */
  accepted: number;
}

interface WriteState {
  protection: RecordProtection;
  seq: number;
}

const MAX_BUFFERED_FUTURE = 16;

export type SessionState = 'handshaking' | 'connected' | 'closed';

/**
 * One DTLS association with one peer: record protection per epoch, replay windows, the
 * handshake's flights and retransmissions, alerts, and application data. Events:
 * 'connected' (HandshakeResult), 'data' (Buffer), 'close' (DtlsError | undefined).
 */
export class DtlsSession extends EventEmitter {
  state: SessionState = 'handshaking';
  /** Last time a record from the peer authenticated (or the session was created). */
  lastActivity = Date.now();
  readonly createdAt = Date.now();
  established: HandshakeResult | undefined;
  /** The ClientHello random that started this association (server side, to tell a new one). */
  clientRandom: Buffer | undefined;

  private readEpoch = 0;
  private readonly readStates = new Map<number, ReadState>([[0, { protection: NULL_PROTECTION, window: new ReplayWindow(), accepted: 0 }]]);
  private pendingRead: { epoch: number; protection: RecordProtection } | undefined;
  private writeEpoch = 0;
  private readonly writeStates = new Map<number, WriteState>([[0, { protection: NULL_PROTECTION, seq: 0 }]]);
  private future: DtlsRecord[] = [];
  private reassembly: FragmentReassembly;
  private driver: HandshakeDriver | undefined;
  private flight: FlightItem[] | undefined;
  private lastRetransmitOnDemand = 0;
  private readonly timer: RetransmitTimer;
  private readonly version = DTLS_1_2;

  constructor(
    readonly role: 'client' | 'server',
    readonly peer: Peer,
    private readonly host: SessionHost,
    private readonly options: SessionOptions,
    firstMessageSeq = 0,
  ) {
    super();
    this.reassembly = new FragmentReassembly(firstMessageSeq);
    this.timer = new RetransmitTimer(
      options.retransmit,
      () => {
        this.host.stats.retransmissions++;
        this.transmitFlight();
      },
      () => {
        this.host.stats.handshakeTimeouts++;
        this.fail(new DtlsTimeoutError(`no answer from ${this.peer.address}:${this.peer.port} after ${options.retransmit.maxRetransmissions} retransmissions`), false);
      },
    );
  }

  get cipherSuite(): number | undefined {
    return this.established?.cipherSuite;
  }

  get cipherSuiteName(): string | undefined {
    return this.established ? suiteName(this.established.cipherSuite) : undefined;
  }

  get epoch(): { read: number; write: number } {
    return { read: this.readEpoch, write: this.writeEpoch };
  }

  get currentWriteEpoch(): number {
    return this.writeEpoch;
  }

  /** Starts (or, when connected, restarts: renegotiation) a handshake run by `driver`. */
  runHandshake(driver: HandshakeDriver, firstMessageSeq = 0): void {
    this.driver = driver;
    if (this.established) this.reassembly = new FragmentReassembly(firstMessageSeq);
    if (this.state === 'connected') this.state = 'handshaking';
    driver.start();
  }

  // ---- HandshakeSession ----

  sendFlight(items: FlightItem[], final: boolean): void {
    this.flight = items;
    this.transmitFlight();
    if (final) this.timer.stop();
    else this.timer.start();
  }

  /**
   * Server: epoch-0 records continue from the verified ClientHello's record sequence number
   * (the stateless HelloVerifyRequest reused the previous one). Client: after a
   * HelloVerifyRequest the server's numbering restarts, so the epoch-0 window does too.
   */
  resetEpochZero(writeSeq?: number): void {
    if (writeSeq !== undefined) this.writeStates.get(0)!.seq = Math.max(this.writeStates.get(0)!.seq, writeSeq);
    else this.readStates.set(0, { protection: NULL_PROTECTION, window: new ReplayWindow(), accepted: 0 });
  }

  installWriteKeys(epoch: number, protection: RecordProtection): void {
    this.writeStates.set(epoch, { protection, seq: 0 });
  }

  expectReadKeys(epoch: number, protection: RecordProtection): void {
    this.pendingRead = { epoch, protection };
  }

  complete(result: HandshakeResult): void {
    const renegotiated = this.established !== undefined;
    this.established = result;
    this.state = 'connected';
    // The client's last flight needs no retransmission once the server's Finished is in; the
    // server keeps its final flight to answer a retransmitted client flight (its own was lost).
    if (this.role === 'client') this.flight = undefined;
    this.timer.stop();
    // Older epochs are of no more use except the one just before (retransmitted handshake).
    for (const e of [...this.writeStates.keys()]) if (e < this.writeEpoch - 1) this.writeStates.delete(e);
    for (const e of [...this.readStates.keys()]) if (e < this.readEpoch - 1) this.readStates.delete(e);
    this.host.stats.handshakesCompleted++;
    this.host.log?.debug({ peer: `${this.peer.address}:${this.peer.port}`, suite: suiteName(result.cipherSuite), renegotiated }, 'DTLS handshake complete');
    this.emit('connected', result);
  }

  // ---- record layer ----

  private transmitFlight(): void {
    if (!this.flight || this.state === 'closed') return;
    const datagrams = encodeFlight(
      this.flight,
      {
        protection: (epoch) => this.writeState(epoch).protection,
        nextSeq: (epoch) => this.writeState(epoch).seq++,
      },
      this.options.mtu,
      this.version,
    );
    for (const item of this.flight) if (item.epoch > this.writeEpoch) this.writeEpoch = item.epoch;
    for (const d of datagrams) this.host.sendDatagram(this.peer, d);
  }

  private writeState(epoch: number): WriteState {
    const w = this.writeStates.get(epoch);
    if (!w) throw new DtlsError('internal_error', `no write keys for epoch ${epoch}`);
    return w;
  }

  private sendRecord(type: number, plaintext: Buffer): void {
    const w = this.writeState(this.writeEpoch);
    const seq = w.seq++;
    const fragment = w.protection.encrypt(type, this.version, this.writeEpoch, seq, plaintext);
    this.host.sendDatagram(this.peer, Buffer.concat([recordHeader(type, this.version, this.writeEpoch, seq, fragment.length), fragment]));
  }

  /** Sends application data (one record: at most 16384 bytes). */
  send(data: Buffer): void {
    // During a renegotiation the previous keys (or, once our ChangeCipherSpec went out, the new ones) carry data.
    if (this.state === 'closed' || !this.established) throw new DtlsError('unexpected_message', `session is ${this.state}`);
    if (data.length > 16384) throw new DtlsError('record_overflow', `${data.length} bytes do not fit in one record`);
    this.sendRecord(ContentType.applicationData, data);
  }

  /** Ends the association: close_notify to the peer, then 'close'. */
  close(): void {
    if (this.state === 'closed') return;
    this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
    this.end(undefined);
  }

  private sendAlert(level: number, description: number): void {
    try {
      this.sendRecord(ContentType.alert, Buffer.from([level, description]));
      this.host.stats.alertsSent++;
    } catch {
      // No keys for the epoch (cannot happen in practice): nothing to send with.
    }
  }

  /** Ends the session on an error; a local fatal error is told to the peer first. */
  fail(err: DtlsError, sendAlert = !err.remote): void {
    if (this.state === 'closed') return;
    if (this.state === 'handshaking') this.host.stats.handshakesFailed++;
    if (sendAlert) this.sendAlert(AlertLevel.fatal, err.alertCode);
    this.host.log?.debug({ peer: `${this.peer.address}:${this.peer.port}`, alert: err.alert, remote: err.remote, err: err.message }, 'DTLS session failed');
    this.end(err);
  }

  private end(err: DtlsError | undefined): void {
    this.state = 'closed';
    this.timer.stop();
    this.flight = undefined;
    this.future = [];
    this.emit('close', err);
  }

  /** A datagram from the peer. Never throws: what does not parse or authenticate is counted and dropped. */
  handleDatagram(datagram: Buffer): void {
    const { records, malformed } = parseRecords(datagram);
    this.host.stats.malformedRecords += malformed;
    for (const record of records) {
      if (this.state === 'closed') return;
      this.host.stats.recordsIn++;
      try {
        this.handleRecord(record);
      } catch (err) {
        if (err instanceof DtlsError) this.fail(err);
        else this.fail(new DtlsError('internal_error', (err as Error).message));
      }
    }
  }

  private handleRecord(record: DtlsRecord): void {
    const stats = this.host.stats;
    if (record.epoch !== this.readEpoch) {
      if (record.epoch === this.readEpoch + 1 && this.state === 'handshaking') {
        // Arrived before the ChangeCipherSpec that opens its epoch (reordering): keep a few.
        if (this.future.length < MAX_BUFFERED_FUTURE) this.future.push(record);
        else stats.futureEpoch++;
        return;
      }
      if (record.epoch === this.readEpoch - 1 && record.type === ContentType.handshake && this.flight && this.readStates.has(record.epoch)) {
        // The peer retransmits its last flight under the old epoch: ours was lost.
        const previous = this.readStates.get(record.epoch)!;
        if (previous.window.check(record.seq)) {
          try {
            previous.protection.decrypt(record.type, record.version, record.epoch, record.seq, record.fragment);
            previous.window.accept(record.seq);
            this.retransmitOnDemand();
            return;
          } catch {
            // falls through to the count
          }
        }
      }
      stats.oldEpoch += record.epoch < this.readEpoch ? 1 : 0;
      stats.futureEpoch += record.epoch > this.readEpoch ? 1 : 0;
      return;
    }
    const read = this.readStates.get(record.epoch)!;
    if (!read.window.check(record.seq)) {
      stats.replayed++;
      return;
    }
    let plaintext: Buffer;
    try {
      plaintext = read.protection.decrypt(record.type, record.version, record.epoch, record.seq, record.fragment);
    } catch {
      stats.badRecordMac++;
      // The first record of a new epoch during the handshake is the peer's Finished: if it does
      // not authenticate, the peer derived other keys (wrong PSK). Say so instead of waiting.
      if (this.state === 'handshaking' && record.epoch > 0 && read.accepted === 0 && record.type === ContentType.handshake) {
        throw new DtlsError('bad_record_mac', 'the peer\'s Finished does not authenticate (wrong pre-shared key?)');
      }
      return;
    }
    read.window.accept(record.seq);
    read.accepted++;
    if (record.epoch > 0 || this.state === 'handshaking') this.lastActivity = Date.now();
    switch (record.type) {
      case ContentType.changeCipherSpec:
        return this.onChangeCipherSpec(plaintext);
      case ContentType.alert:
        return this.onAlert(plaintext);
      case ContentType.handshake:
        return this.onHandshake(plaintext, record.epoch);
      case ContentType.applicationData:
        if (!this.established || record.epoch === 0) {
          stats.unexpected++;
          return;
        }
        this.emit('data', plaintext);
        return;
    }
  }

  private onChangeCipherSpec(body: Buffer): void {
    if (body.length !== 1 || body[0] !== 1) {
      this.host.stats.malformedMessages++;
      return;
    }
    const pending = this.pendingRead;
    if (!pending || pending.epoch !== this.readEpoch + 1) {
      // Early (its keys are not derived yet: the peer will retransmit) or a duplicate.
      this.host.stats.unexpected++;
      return;
    }
    this.pendingRead = undefined;
    this.readEpoch = pending.epoch;
    this.readStates.set(pending.epoch, { protection: pending.protection, window: new ReplayWindow(), accepted: 0 });
    const buffered = this.future.filter((r) => r.epoch === this.readEpoch);
    this.future = [];
    for (const r of buffered) {
      if (this.state === 'closed') return;
      this.handleRecord(r);
    }
  }

  private onAlert(body: Buffer): void {
    if (body.length !== 2) {
      this.host.stats.malformedMessages++;
      return;
    }
    this.host.stats.alertsReceived++;
    const [level, description] = [body[0]!, body[1]!];
    if (description === AlertDescription.close_notify) {
      if (this.state === 'connected') this.sendAlert(AlertLevel.warning, AlertDescription.close_notify);
      this.end(undefined);
      return;
    }
    if (level === AlertLevel.fatal) {
      this.fail(new DtlsError(alertName(description), `peer sent fatal alert ${alertName(description)}`, true), false);
      return;
    }
    this.host.log?.debug({ peer: `${this.peer.address}:${this.peer.port}`, alert: alertName(description) }, 'DTLS warning alert');
  }

  private onHandshake(plaintext: Buffer, epoch: number): void {
    let fragments;
    try {
      fragments = parseHandshakeFragments(plaintext);
    } catch {
      this.host.stats.malformedMessages++;
      return;
    }
    for (const f of fragments) {
      if (this.state === 'connected' && this.role === 'server' && f.msgType === HandshakeType.client_hello && epoch > 0 && epoch === this.readEpoch) {
        // A ClientHello under the current keys: the client renegotiates. The endpoint decides
        // (runHandshake, or a no_renegotiation warning).
        if (!this.renegotiationStarted(f.messageSeq)) continue;
      }
      const result = this.reassembly.add(f, epoch);
      if (result === 'old') {
        this.retransmitOnDemand();
        continue;
      }
      if (result === 'ignored') continue;
      for (const message of result) {
        if (this.state === 'closed') return;
        if (!this.driver || this.state === 'connected') {
          this.onHandshakeWhileConnected(message);
          continue;
        }
        this.driver.onMessage(message);
      }
    }
  }

  /** A handshake message when no handshake runs (a HelloRequest, a stray message): counted, dropped. */
  private onHandshakeWhileConnected(_message: HandshakeMessage): void {
    this.host.stats.unexpected++;
  }

  /** Set by the server endpoint: starts a renegotiation handshake, or returns false to refuse it. */
  onRenegotiation: ((session: DtlsSession) => boolean) | undefined;

  private renegotiationStarted(messageSeq: number): boolean {
    if (this.onRenegotiation?.(this)) {
      this.reassembly = new FragmentReassembly(messageSeq);
      this.flight = undefined;
      return true;
    }
    this.sendAlert(AlertLevel.warning, AlertDescription.no_renegotiation);
    return false;
  }

  /** The peer retransmits: so do we, at most once per half initial timeout. */
  private retransmitOnDemand(): void {
    if (!this.flight) return;
    const now = Date.now();
    if (now - this.lastRetransmitOnDemand < this.options.retransmit.initialMs / 2) return;
    this.lastRetransmitOnDemand = now;
    this.host.stats.retransmissions++;
    this.transmitFlight();
  }
}
