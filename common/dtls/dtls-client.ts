import type { RemoteInfo, Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { suiteCodes, type CipherSuiteName } from './cipher-suites.js';
import { bindUdp } from '../udp.js';
import { DtlsEndpoint, peerKey, type EndpointOptions } from './dtls-endpoint.js';
import { DtlsError } from './errors.js';
import { ClientHandshake, type ClientPsk } from './handshake-client.js';
import type { DtlsSession, HandshakeResult } from './session.js';

export interface DtlsClientOptions extends EndpointOptions {
  psk: ClientPsk;
  /** Suites offered, in order of preference (default: CCM_8, then CBC_SHA256). */
  cipherSuites?: (CipherSuiteName | number)[];
  /** Offer RFC 7627 extended_master_secret (default true). */
  extendedMasterSecret?: boolean;
  /** Signal RFC 5746 with the renegotiation_info extension (default) or, false, the SCSV. */
  renegotiationInfo?: boolean;
  /** Local address and port to bind (default: any port on the wildcard address of the peer's family). */
  bindAddress?: string;
  bindPort?: number;
  socket?: Socket;
}

/**
 * A DTLS 1.2 PSK client on one UDP socket. It can hold sessions with several servers; `send`
 * to a peer without a session starts a handshake and sends once it is done.
 */
export class DtlsClient extends DtlsEndpoint {
  private readonly waiting = new Map<string, Promise<DtlsSession>>();

  private constructor(
    socket: Socket,
    private readonly opts: DtlsClientOptions,
  ) {
    super(socket, opts);
    suiteCodes(opts.cipherSuites);
  }

  static async create(opts: DtlsClientOptions & { family?: 'IPv4' | 'IPv6' }): Promise<DtlsClient> {
    const host = opts.bindAddress ?? (opts.family === 'IPv6' ? '::' : '0.0.0.0');
    return new DtlsClient(opts.socket ?? (await bindUdp(host, opts.bindPort ?? 0)), opts);
  }

  /** Binds a client and completes a handshake with one server. */
  static async connect(opts: DtlsClientOptions & { host: string; port: number }): Promise<{ client: DtlsClient; session: DtlsSession }> {
    const client = await DtlsClient.create({ ...opts, family: isIPv6(opts.host) ? 'IPv6' : 'IPv4', bindAddress: opts.bindAddress ?? (isIPv6(opts.host) ? '::' : '0.0.0.0') });
    try {
      return { client, session: await client.connect(opts.port, opts.host) };
    } catch (err) {
      await client.close();
      throw err;
    }
  }

  /** The session with a server, after a handshake if there is none yet. */
  connect(port: number, address: string): Promise<DtlsSession> {
    const key = peerKey(address, port);
    const existing = this.sessions.get(key);
    if (existing?.established && existing.state !== 'closed') return Promise.resolve(existing);
    const pending = this.waiting.get(key);
    if (pending) return pending;
    const session = this.newSession('client', { address, port, family: isIPv6(address) ? 'IPv6' : 'IPv4' });
    const promise = new Promise<DtlsSession>((resolve, reject) => {
      const onConnected = () => {
        session.off('close', onClose);
        this.waiting.delete(key);
        resolve(session);
      };
      const onClose = (err: DtlsError | undefined) => {
        session.off('connected', onConnected);
        this.waiting.delete(key);
        reject(err ?? new DtlsError('close_notify', 'closed during the handshake'));
      };
      session.once('connected', onConnected);
      session.once('close', onClose);
    });
    this.waiting.set(key, promise);
    this.stats.handshakesStarted++;
    session.runHandshake(
      new ClientHandshake(session, {
        psk: this.opts.psk,
        cipherSuites: suiteCodes(this.opts.cipherSuites),
        extendedMasterSecret: this.opts.extendedMasterSecret ?? true,
        renegotiationInfo: this.opts.renegotiationInfo ?? true,
      }),
    );
    return promise;
  }

  /** Renegotiates with a connected server (RFC 5746 secure renegotiation); resolves with the new result. */
  renegotiate(port: number, address: string): Promise<HandshakeResult> {
    const session = this.sessions.get(peerKey(address, port));
    if (!session?.established || session.state !== 'connected') return Promise.reject(new DtlsError('internal_error', 'no connected session'));
    return new Promise((resolve, reject) => {
      const onClose = (err: DtlsError | undefined) => reject(err ?? new DtlsError('close_notify', 'closed during renegotiation'));
      session.once('close', onClose);
      session.once('connected', (result: HandshakeResult) => {
        session.off('close', onClose);
        resolve(result);
      });
      session.runHandshake(
        new ClientHandshake(session, {
          psk: this.opts.psk,
          cipherSuites: suiteCodes(this.opts.cipherSuites),
          extendedMasterSecret: this.opts.extendedMasterSecret ?? true,
          renegotiationInfo: true,
        }),
      );
    });
  }

  override send(data: Buffer, port: number, address: string, cb?: (err: Error | null, bytes?: number) => void): void {
    const done = (err: Error | null) => {
      if (cb) cb(err, err ? undefined : data.length);
      else if (err) this.log?.debug({ err: err.message }, 'DTLS send failed');
    };
    const session = this.sessions.get(peerKey(address, port));
    if (session?.established && session.state !== 'closed') {
      try {
        session.send(data);
        done(null);
      } catch (err) {
        done(err as Error);
      }
      return;
    }
    this.connect(port, address).then(
      (s) => {
        try {
          s.send(data);
          done(null);
        } catch (err) {
          done(err as Error);
        }
      },
      (err: Error) => done(err),
    );
  }

  protected onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    const session = this.sessions.get(peerKey(rinfo.address, rinfo.port));
    if (!session) {
      this.stats.strayDatagrams++;
      return;
    }
    session.handleDatagram(msg);
  }
}
