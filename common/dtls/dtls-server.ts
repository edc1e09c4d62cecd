import type { RemoteInfo, Socket } from 'node:dgram';
import { suiteCodes, type CipherSuiteName } from './cipher-suites.js';
import { CookieJar } from './cookie.js';
import { bindUdp } from '../udp.js';
import { DtlsEndpoint, peerKey, type EndpointOptions } from './dtls-endpoint.js';
import { DtlsError } from './errors.js';
import { HandshakeType, decodeClientHello, encodeHandshake, encodeHelloVerifyRequest, parseHandshakeFragments, type ClientHello } from './handshake-messages.js';
import { ServerHandshake, type ServerPskLookup } from './handshake-server.js';
import { ContentType, DTLS_1_0, encodeRecord, parseRecords } from './record.js';
import type { DtlsSession, Peer } from './session.js';

export interface DtlsServerOptions extends EndpointOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  /** Key of a PSK identity, undefined for an unknown identity. Never logged. */
  psk: ServerPskLookup;
  /** PSK identity hint sent in a ServerKeyExchange (none by default). */
  identityHint?: Buffer | string;
  /** Suites accepted, in order of preference (default: CCM_8, then CBC_SHA256). */
  cipherSuites?: (CipherSuiteName | number)[];
  /** Offer RFC 7627 extended master secret to clients that ask (default true). */
  extendedMasterSecret?: boolean;
  /** Sessions (established and half-open) kept at most; the oldest half-open one makes room. Default 10,000. */
  maxSessions?: number;
  /** A session with no authenticated record for this long is closed. Default 15 min. */
  idleTimeoutMs?: number;
  /** Cookie secret rotation period. Default 60 s. */
  cookieRotationMs?: number;
  /** Accept client-initiated renegotiation (RFC 5746 secure renegotiation). Default false. */
  renegotiation?: boolean;
  /** Use this bound socket instead of binding one (host and port are then ignored). */
  socket?: Socket;
}

/**
 * A DTLS 1.2 PSK server on one UDP socket. A ClientHello without a valid cookie gets a
 * HelloVerifyRequest and leaves no state; only a client that proves its address gets a session.
 * The session table is capped: when full, the oldest half-open handshake is evicted; if every
 * session is established, the new client is refused until one closes or idles out.
 */
export class DtlsServer extends DtlsEndpoint {
  readonly cookies: CookieJar;
  private readonly handshaking = new Set<DtlsSession>();
  private readonly sweep: NodeJS.Timeout;
  private readonly maxSessions: number;
  private readonly idleTimeoutMs: number;

  private constructor(
    socket: Socket,
    private readonly opts: DtlsServerOptions,
  ) {
    super(socket, opts);
    this.cookies = new CookieJar(opts.cookieRotationMs ?? 60_000);
    this.maxSessions = opts.maxSessions ?? 10_000;
    this.idleTimeoutMs = opts.idleTimeoutMs ?? 15 * 60_000;
    suiteCodes(opts.cipherSuites); // validates early
    this.sweep = setInterval(() => this.closeIdle(), Math.max(250, Math.min(60_000, this.idleTimeoutMs / 4)));
    this.sweep.unref();
  }

  static async listen(opts: DtlsServerOptions): Promise<DtlsServer> {
    return new DtlsServer(opts.socket ?? (await bindUdp(opts.host, opts.port)), opts);
  }

  get halfOpenCount(): number {
    return this.handshaking.size;
  }

  protected override onClose(): void {
    clearInterval(this.sweep);
  }

  override send(data: Buffer, port: number, address: string, cb?: (err: Error | null, bytes?: number) => void): void {
    const session = this.sessions.get(peerKey(address, port));
    try {
      if (!session) throw new DtlsError('internal_error', `no DTLS session with ${address}:${port}`);
      session.send(data);
      cb?.(null, data.length);
    } catch (err) {
      if (cb) cb(err as Error);
      else this.log?.debug({ err: (err as Error).message }, 'DTLS send failed');
    }
  }

  protected onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const existing = this.sessions.get(peerKey(rinfo.address, rinfo.port));
    if (existing && !this.startsNewAssociation(existing, msg)) {
      existing.handleDatagram(msg);
      return;
    }
    this.onClientHello(msg, rinfo, existing);
  }

  /**
   * RFC 6347 §4.2.8: a ClientHello in epoch 0 with a new random from a peer that has a session
   * is a client that lost its state (a reboot): it may start a new association. A repeated
   * ClientHello (same random) is a retransmission for the session to handle.
   */
  private startsNewAssociation(session: DtlsSession, msg: Buffer): boolean {
    if (msg.length < 13 + 12 + 2 + 32 || msg[0] !== ContentType.handshake || msg.readUInt16BE(3) !== 0 || msg[13] !== HandshakeType.client_hello) return false;
    const random = msg.subarray(13 + 12 + 2, 13 + 12 + 2 + 32);
    return !session.clientRandom || !session.clientRandom.equals(random);
  }

  private onClientHello(msg: Buffer, rinfo: RemoteInfo, existing: DtlsSession | undefined): void {
    const stray = () => void this.stats.strayDatagrams++;
    const { records } = parseRecords(msg);
    const record = records[0];
    if (!record || record.type !== ContentType.handshake || record.epoch !== 0) return stray();
    let hello: (ClientHello & { cookieInput: Buffer }) | undefined;
    let messageSeq = 0;
    try {
      const [f] = parseHandshakeFragments(record.fragment);
      // The first ClientHello must come whole (they are small; fragmenting one would make the
      // server keep state before the client proved its address).
      if (!f || f.msgType !== HandshakeType.client_hello || f.fragmentOffset !== 0 || f.fragmentLength !== f.length) return stray();
      hello = decodeClientHello(f.body);
      messageSeq = f.messageSeq;
    } catch {
      this.stats.malformedMessages++;
      return;
    }
    const cookieInput = { address: rinfo.address, port: rinfo.port, params: hello.cookieInput };
    if (hello.cookie.length === 0 || !this.cookies.verify(hello.cookie, cookieInput)) {
      if (hello.cookie.length > 0) this.stats.badCookies++;
      this.sendHelloVerifyRequest(rinfo, record.seq, messageSeq, this.cookies.make(cookieInput));
      return;
    }
    if (!this.makeRoom(existing)) {
      this.stats.sessionsRefused++;
      return;
    }
    // The client proved its address: from here on it has state.
    const peer: Peer = { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'IPv6' : 'IPv4' };
    if (existing) {
      existing.removeAllListeners('close');
      this.handshaking.delete(existing);
      existing.fail(new DtlsError('close_notify', 'replaced by a new association'), false);
      this.sessions.delete(peerKey(peer.address, peer.port));
    }
    const session = this.newSession('server', peer, messageSeq);
    session.clientRandom = Buffer.from(hello.random);
    session.resetEpochZero(record.seq);
    this.handshaking.add(session);
    session.once('connected', () => this.handshaking.delete(session));
    session.once('close', () => this.handshaking.delete(session));
    // Renegotiation (RFC 5746 secure renegotiation only) when allowed; else a no_renegotiation warning.
    session.onRenegotiation = (s) => {
      if (!this.opts.renegotiation) return false;
      this.stats.handshakesStarted++;
      s.runHandshake(this.serverHandshake(s));
      return true;
    };
    this.stats.handshakesStarted++;
    session.runHandshake(this.serverHandshake(session), messageSeq);
    session.handleDatagram(msg);
  }

  private serverHandshake(session: DtlsSession): ServerHandshake {
    return new ServerHandshake(session, {
      psk: this.opts.psk,
      cipherSuites: suiteCodes(this.opts.cipherSuites),
      identityHint: this.opts.identityHint === undefined ? undefined : Buffer.from(this.opts.identityHint),
      extendedMasterSecret: this.opts.extendedMasterSecret ?? true,
    });
  }

  /** True when a new session fits (evicting the oldest half-open handshake if need be). */
  private makeRoom(existing: DtlsSession | undefined): boolean {
    if (existing || this.sessions.size < this.maxSessions) return true;
    const oldest = this.handshaking.values().next().value as DtlsSession | undefined;
    if (!oldest) return false;
    this.stats.sessionsEvicted++;
    this.handshaking.delete(oldest);
    oldest.fail(new DtlsError('handshake_failure', 'evicted: session table full'), false);
    return true;
  }

  private sendHelloVerifyRequest(rinfo: RemoteInfo, recordSeq: number, messageSeq: number, cookie: Buffer): void {
    this.stats.helloVerifyRequests++;
    // RFC 6347 §4.2.1: version DTLS 1.0 in the HelloVerifyRequest, and the ClientHello's record
    // sequence number, so the server keeps no counter for the client.
    const body = encodeHelloVerifyRequest(DTLS_1_0, cookie);
    const fragment = encodeHandshake(HandshakeType.hello_verify_request, messageSeq, body);
    this.sendDatagram(
      { address: rinfo.address, port: rinfo.port, family: rinfo.family === 'IPv6' ? 'IPv6' : 'IPv4' },
      encodeRecord({ type: ContentType.handshake, version: DTLS_1_0, epoch: 0, seq: recordSeq, fragment }),
    );
  }

  private closeIdle(): void {
    const limit = Date.now() - this.idleTimeoutMs;
    for (const s of [...this.sessions.values()]) {
      if (s.lastActivity < limit) {
        this.stats.sessionsIdleClosed++;
        s.close();
      }
    }
  }
}
