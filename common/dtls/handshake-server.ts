import { randomBytes, timingSafeEqual } from 'node:crypto';
import { TLS_EMPTY_RENEGOTIATION_INFO_SCSV, deriveProtection } from './cipher-suites.js';
import { DtlsError } from './errors.js';
import type { FlightItem } from './flight.js';
import type { HandshakeMessage } from './fragment-reassembly.js';
import {
  ExtensionType,
  HandshakeType,
  decodeClientHello,
  decodeFinished,
  decodePskClientKeyExchange,
  decodeRenegotiationInfo,
  encodeHandshake,
  encodePskIdentity,
  encodeRenegotiationInfo,
  encodeServerHello,
  findExtension,
  type Extension,
} from './handshake-messages.js';
import { finishedVerifyData, masterSecret, pskPremasterSecret, sha256 } from './prf.js';
import { DTLS_1_2 } from './record.js';
import type { HandshakeDriver, HandshakeSession } from './session.js';

/** Looks up the key of a PSK identity; undefined refuses it (unknown_psk_identity). */
export type ServerPskLookup = (identity: Buffer) => Buffer | undefined;

export interface ServerHandshakeOptions {
  psk: ServerPskLookup;
  /** Suites accepted, in order of preference. */
  cipherSuites: number[];
  /** Sent in a ServerKeyExchange when set (RFC 4279 §2). */
  identityHint: Buffer | undefined;
  extendedMasterSecret: boolean;
}

type Expect = 'client_hello' | 'client_key_exchange' | 'finished' | 'done';

/**
 * The server side of a PSK handshake, from the ClientHello whose cookie verified (the endpoint
 * answers cookie-less ones statelessly) to the server's Finished.
 */
export class ServerHandshake implements HandshakeDriver {
  private expect: Expect = 'client_hello';
  private readonly random = Buffer.concat([Buffer.alloc(4), randomBytes(28)]);
  private clientRandom: Buffer = Buffer.alloc(0);
  private sendSeq = 0;
  private transcript: Buffer[] = [];
  private suite = 0;
  private ems = false;
  private master: Buffer = Buffer.alloc(0);
  private identity: Buffer = Buffer.alloc(0);
  private readonly epoch: number;

  constructor(
    private readonly session: HandshakeSession,
    private readonly opts: ServerHandshakeOptions,
  ) {
    this.random.writeUInt32BE(Math.floor(Date.now() / 1000) >>> 0, 0);
    this.epoch = session.currentWriteEpoch;
  }

  start(): void {}

  onMessage(m: HandshakeMessage): void {
    switch (this.expect) {
      case 'client_hello':
        if (m.msgType === HandshakeType.client_hello) return this.onClientHello(m);
        break;
      case 'client_key_exchange':
        if (m.msgType === HandshakeType.client_key_exchange) return this.onClientKeyExchange(m);
        break;
      case 'finished':
        if (m.msgType === HandshakeType.finished) return this.onFinished(m);
        break;
      case 'done':
        return;
    }
    throw new DtlsError('unexpected_message', `handshake message ${m.msgType} while expecting ${this.expect}`);
  }

  private onClientHello(m: HandshakeMessage): void {
    const ch = decodeClientHello(m.body);
    // DTLS versions count down: 0xfefd (1.2) < 0xfeff (1.0).
    if (ch.clientVersion > DTLS_1_2) throw new DtlsError('protocol_version', `client offers only DTLS 0x${ch.clientVersion.toString(16)}`);
    if (!ch.compressionMethods.includes(0)) throw new DtlsError('illegal_parameter', 'client does not offer null compression');
    const suite = this.opts.cipherSuites.find((s) => ch.cipherSuites.includes(s));
    if (suite === undefined) throw new DtlsError('handshake_failure', 'no cipher suite in common');
    const extensions: Extension[] = [];
    const ri = findExtension(ch.extensions, ExtensionType.renegotiation_info);
    const previous = this.session.established;
    if (previous) {
      // RFC 5746 §3.7: a renegotiating client proves it knows the previous client Finished.
      if (!ri || !decodeRenegotiationInfo(ri.data).equals(previous.clientVerifyData)) throw new DtlsError('handshake_failure', 'renegotiation_info does not match');
      extensions.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(Buffer.concat([previous.clientVerifyData, previous.serverVerifyData])) });
    } else if (ri || ch.cipherSuites.includes(TLS_EMPTY_RENEGOTIATION_INFO_SCSV)) {
      if (ri && decodeRenegotiationInfo(ri.data).length !== 0) throw new DtlsError('handshake_failure', 'non-empty renegotiation_info in an initial handshake');
      extensions.push({ type: ExtensionType.renegotiation_info, data: encodeRenegotiationInfo(Buffer.alloc(0)) });
    }
    this.ems = this.opts.extendedMasterSecret && findExtension(ch.extensions, ExtensionType.extended_master_secret) !== undefined;
    if (this.ems) extensions.push({ type: ExtensionType.extended_master_secret, data: Buffer.alloc(0) });
    this.suite = suite;
    this.clientRandom = ch.random;
    // Our first message takes the ClientHello's message_seq (after a HelloVerifyRequest: 1).
    this.sendSeq = m.messageSeq;
    const flight: FlightItem[] = [];
    const add = (msgType: number, body: Buffer) => {
      const messageSeq = this.sendSeq++;
      flight.push({ kind: 'handshake', epoch: this.epoch, msgType, messageSeq, body });
      this.transcript.push(encodeHandshake(msgType, messageSeq, body));
    };
    this.transcript = [m.raw];
    add(
      HandshakeType.server_hello,
      encodeServerHello({ serverVersion: DTLS_1_2, random: this.random, sessionId: Buffer.alloc(0), cipherSuite: suite, compressionMethod: 0, extensions }),
    );
    if (this.opts.identityHint !== undefined) add(HandshakeType.server_key_exchange, encodePskIdentity(this.opts.identityHint));
    add(HandshakeType.server_hello_done, Buffer.alloc(0));
    this.expect = 'client_key_exchange';
    this.session.sendFlight(flight, false);
  }

  private onClientKeyExchange(m: HandshakeMessage): void {
    this.identity = decodePskClientKeyExchange(m.body);
    this.transcript.push(m.raw);
    const key = this.opts.psk(this.identity);
    if (!key) throw new DtlsError('unknown_psk_identity', 'unknown PSK identity');
    const premaster = pskPremasterSecret(key);
    this.master = masterSecret(premaster, this.clientRandom, this.random, this.ems ? sha256(...this.transcript) : undefined);
    premaster.fill(0);
    const keys = deriveProtection(this.suite, this.master, this.clientRandom, this.random);
    const next = this.epoch + 1;
    this.session.installWriteKeys(next, keys.server);
    this.session.expectReadKeys(next, keys.client);
    this.expect = 'finished';
  }

  private onFinished(m: HandshakeMessage): void {
    if (m.epoch !== this.epoch + 1) throw new DtlsError('unexpected_message', 'Finished before ChangeCipherSpec');
    const received = decodeFinished(m.body);
    const expected = finishedVerifyData(this.master, 'client', sha256(...this.transcript));
    if (!timingSafeEqual(received, expected)) throw new DtlsError('decrypt_error', 'client Finished does not verify');
    this.transcript.push(m.raw);
    const serverVerify = finishedVerifyData(this.master, 'server', sha256(...this.transcript));
    this.master.fill(0);
    const finSeq = this.sendSeq++;
    this.expect = 'done';
    this.session.sendFlight(
      [
        { kind: 'ccs', epoch: this.epoch },
        { kind: 'handshake', epoch: this.epoch + 1, msgType: HandshakeType.finished, messageSeq: finSeq, body: serverVerify },
      ],
      true,
    );
    this.session.complete({
      cipherSuite: this.suite,
      identity: this.identity,
      identityHint: this.opts.identityHint,
      extendedMasterSecret: this.ems,
      clientVerifyData: Buffer.from(received),
      serverVerifyData: serverVerify,
    });
  }
}
