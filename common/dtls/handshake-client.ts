import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TLS_EMPTY_RENEGOTIATION_INFO_SCSV, deriveProtection } from './cipher-suites.js';
import { DtlsError } from './errors.js';
import type { FlightItem } from './flight.js';
import type { HandshakeMessage } from './fragment-reassembly.js';
import {
  ExtensionType,
  HandshakeType,
  decodeFinished,
  decodeHelloVerifyRequest,
  decodePskServerKeyExchange,
  decodeRenegotiationInfo,
  decodeServerHello,
  encodeClientHello,
  encodeHandshake,
  encodePskIdentity,
  encodeRenegotiationInfo,
  findExtension,
  type Extension,
} from './handshake-messages.js';
import { finishedVerifyData, masterSecret, pskPremasterSecret, sha256 } from './prf.js';
import { DTLS_1_2 } from './record.js';
import type { HandshakeDriver, HandshakeSession } from './session.js';

export interface PskCredentials {
  identity: Buffer;
  key: Buffer;
}

/** Chooses the credentials, knowing the server's identity hint (if it sent one). */
export type ClientPsk = PskCredentials | ((hint: Buffer | undefined) => PskCredentials);

export interface ClientHandshakeOptions {
  psk: ClientPsk;
  cipherSuites: number[];
  /** Offer RFC 7627 extended_master_secret (default true). */
  extendedMasterSecret: boolean;
  /** Offer the RFC 5746 renegotiation_info extension (default true); else the SCSV. */
  renegotiationInfo: boolean;
}

type Expect = 'server_hello' | 'server_key_exchange_or_done' | 'finished' | 'done';

/**
 * The client side of a PSK handshake (RFC 6347 §4.2, RFC 4279):
 *   → ClientHello            ← HelloVerifyRequest
 *   → ClientHello + cookie   ← ServerHello, [ServerKeyExchange], ServerHelloDone
 *   → ClientKeyExchange, ChangeCipherSpec, Finished   ← ChangeCipherSpec, Finished
 */
export class ClientHandshake implements HandshakeDriver {
  private expect: Expect = 'server_hello';
  private readonly random = Buffer.concat([Buffer.alloc(4), randomBytes(28)]);
  private cookie: Buffer = Buffer.alloc(0);
  private hellosSent = 0;
  private sendSeq = 0;
  private lastHello: Buffer = Buffer.alloc(0);
  private transcript: Buffer[] = [];
  private serverRandom: Buffer = Buffer.alloc(0);
  private suite = 0;
  private hint: Buffer | undefined;
  private ems = false;
  private master: Buffer = Buffer.alloc(0);
  private identity: Buffer = Buffer.alloc(0);
  private clientVerify: Buffer = Buffer.alloc(0);
  private readonly epoch: number;

  constructor(
    private readonly session: HandshakeSession,
    private readonly opts: ClientHandshakeOptions,
  ) {
    this.random.writeUInt32BE(Math.floor(Date.now() / 1000) >>> 0, 0);
    this.epoch = session.currentWriteEpoch;
  }

  start(): void {
    this.sendHello();
  }

  private sendHello(): void {
    const renegotiating = this.session.established;
    const extensions: Extension[] = [];
    const suites = [...this.opts.cipherSuites];
    if (renegotiating) extensions.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(renegotiating.clientVerifyData) });
    else if (this.opts.renegotiationInfo) extensions.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(Buffer.alloc(0)) });
    else suites.push(TLS_EMPTY_RENEGOTIATION_INFO_SCSV);
    if (this.opts.extendedMasterSecret) extensions.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
    const body = encodeClientHello({
      clientVersion: DTLS_1_2,
      random: this.random,
      sessionId: Buffer.alloc(0),
      cookie: this.cookie,
      cipherSuites: suites,
      compressionMethods: Buffer.from([0]),
      extensions,
    });
    const messageSeq = this.sendSeq++;
    this.lastHello = encodeHandshake(HandshakeType.client_hello, messageSeq, body);
    this.hellosSent++;
    this.session.sendFlight([{ kind: 'handshake', epoch: this.epoch, msgType: HandshakeType.client_hello, messageSeq, body }], false);
  }

  onMessage(m: HandshakeMessage): void {
    switch (this.expect) {
      case 'server_hello':
        if (m.msgType === HandshakeType.hello_verify_request) return this.onHelloVerifyRequest(m);
        if (m.msgType === HandshakeType.server_hello) return this.onServerHello(m);
        break;
      case 'server_key_exchange_or_done':
        if (m.msgType === HandshakeType.server_key_exchange && this.hint === undefined) {
          this.transcript.push(m.raw);
          this.hint = decodePskServerKeyExchange(m.body);
          return;
        }
        if (m.msgType === HandshakeType.server_hello_done) return this.onServerHelloDone(m);
        if (m.msgType === HandshakeType.certificate || m.msgType === HandshakeType.certificate_request) {
          throw new DtlsError('handshake_failure', 'certificates are not supported (PSK only)');
        }
        break;
      case 'finished':
        if (m.msgType === HandshakeType.finished) return this.onFinished(m);
        break;
      case 'done':
        return;
    }
    throw new DtlsError('unexpected_message', `handshake message ${m.msgType} while expecting ${this.expect}`);
  }

  private onHelloVerifyRequest(m: HandshakeMessage): void {
    const { cookie } = decodeHelloVerifyRequest(m.body);
    if (this.hellosSent > 2 || cookie.length === 0) throw new DtlsError('illegal_parameter', 'bad HelloVerifyRequest');
    this.cookie = cookie;
    if (this.epoch === 0) this.session.resetEpochZero();
    // The HelloVerifyRequest and the ClientHello before it stay out of the transcript.
    this.sendHello();
  }

  private onServerHello(m: HandshakeMessage): void {
    const sh = decodeServerHello(m.body);
    if (sh.serverVersion !== DTLS_1_2) throw new DtlsError('protocol_version', `server chose version 0x${sh.serverVersion.toString(16)}`);
    if (!this.opts.cipherSuites.includes(sh.cipherSuite)) throw new DtlsError('illegal_parameter', `server chose a suite not offered: 0x${sh.cipherSuite.toString(16)}`);
    if (sh.compressionMethod !== 0) throw new DtlsError('illegal_parameter', 'server chose compression');
    const ri = findExtension(sh.extensions, ExtensionType.renegotiation_info);
    const previous = this.session.established;
    if (previous) {
      // RFC 5746 §3.5: the server echoes both Finished of the previous handshake.
      const expected = Buffer.concat([previous.clientVerifyData, previous.serverVerifyData]);
      if (!ri || !decodeRenegotiationInfo(ri.data).equals(expected)) throw new DtlsError('handshake_failure', 'renegotiation_info does not match');
    } else if (ri && decodeRenegotiationInfo(ri.data).length !== 0) {
      throw new DtlsError('handshake_failure', 'non-empty renegotiation_info in an initial handshake');
    }
    this.ems = this.opts.extendedMasterSecret && findExtension(sh.extensions, ExtensionType.extended_master_secret) !== undefined;
    this.serverRandom = sh.random;
    this.suite = sh.cipherSuite;
    this.transcript = [this.lastHello, m.raw];
    this.expect = 'server_key_exchange_or_done';
  }

  private onServerHelloDone(m: HandshakeMessage): void {
    if (m.body.length !== 0) throw new DtlsError('decode_error', 'ServerHelloDone with a body');
    this.transcript.push(m.raw);
    const creds = typeof this.opts.psk === 'function' ? this.opts.psk(this.hint) : this.opts.psk;
    this.identity = creds.identity;
    const ckeBody = encodePskIdentity(creds.identity);
    const ckeSeq = this.sendSeq++;
    this.transcript.push(encodeHandshake(HandshakeType.client_key_exchange, ckeSeq, ckeBody));
    const premaster = pskPremasterSecret(creds.key);
    this.master = masterSecret(premaster, this.random, this.serverRandom, this.ems ? sha256(...this.transcript) : undefined);
    premaster.fill(0);
    const keys = deriveProtection(this.suite, this.master, this.random, this.serverRandom);
    const next = this.epoch + 1;
    this.session.installWriteKeys(next, keys.client);
    this.session.expectReadKeys(next, keys.server);
    this.clientVerify = finishedVerifyData(this.master, 'client', sha256(...this.transcript));
    const finSeq = this.sendSeq++;
    this.transcript.push(encodeHandshake(HandshakeType.finished, finSeq, this.clientVerify));
    const flight: FlightItem[] = [
      { kind: 'handshake', epoch: this.epoch, msgType: HandshakeType.client_key_exchange, messageSeq: ckeSeq, body: ckeBody },
      { kind: 'ccs', epoch: this.epoch },
      { kind: 'handshake', epoch: next, msgType: HandshakeType.finished, messageSeq: finSeq, body: this.clientVerify },
    ];
    this.expect = 'finished';
    this.session.sendFlight(flight, false);
  }

  private onFinished(m: HandshakeMessage): void {
    if (m.epoch !== this.epoch + 1) throw new DtlsError('unexpected_message', 'Finished before ChangeCipherSpec');
    const received = decodeFinished(m.body);
    const expected = finishedVerifyData(this.master, 'server', sha256(...this.transcript));
    if (!timingSafeEqual(received, expected)) throw new DtlsError('decrypt_error', 'server Finished does not verify');
    this.expect = 'done';
    this.master.fill(0);
    this.session.complete({
      cipherSuite: this.suite,
      identity: this.identity,
      identityHint: this.hint,
      extendedMasterSecret: this.ems,
      clientVerifyData: this.clientVerify,
      serverVerifyData: Buffer.from(received),
    });
  }
}
