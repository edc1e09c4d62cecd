import type { RemoteInfo, Socket } from 'node:dgram';
import { EventEmitter } from 'node:events';
import { DEFAULT_RETRANSMIT, type RetransmitOptions } from './retransmit.js';
import { DtlsSession, type Peer, type SessionHost, type SessionOptions } from './session.js';
import { newStats, type DtlsLogger, type DtlsStats } from './stats.js';
import type { DtlsError } from './errors.js';

export interface EndpointOptions {
  /**
   * Largest datagram sent during a handshake, in bytes (path MTU minus IP and UDP headers).
   * Handshake messages are fragmented to fit. Default 1200.
   */
  mtu?: number;
  retransmit?: Partial<RetransmitOptions>;
  log?: DtlsLogger;
}

export const DEFAULT_MTU = 1200;

export function peerKey(address: string, port: number): string {
  return `${address}|${port}`;
}

/**
 * One UDP socket and the DTLS sessions on it, keyed by peer address and port. Events:
 * 'message' (plaintext: Buffer, rinfo of the peer), 'session' (DtlsSession, once connected),
 * 'sessionClosed' (DtlsSession, DtlsError | undefined), 'error'.
 */
export abstract class DtlsEndpoint extends EventEmitter implements SessionHost {
  readonly stats: DtlsStats = newStats();
  readonly log: DtlsLogger | undefined;
  protected readonly sessions = new Map<string, DtlsSession>();
  protected readonly sessionOptions: SessionOptions;
  private closed = false;

  protected constructor(
    protected readonly socket: Socket,
    opts: EndpointOptions,
  ) {
    super();
    this.log = opts.log;
    this.sessionOptions = { mtu: opts.mtu ?? DEFAULT_MTU, retransmit: { ...DEFAULT_RETRANSMIT, ...opts.retransmit } };
    socket.on('message', (msg: Buffer, rinfo: RemoteInfo) => {
      this.stats.datagramsIn++;
      try {
        this.onDatagram(msg, rinfo);
      } catch (err) {
        // A bug, not the peer's doing: never let it take the socket down.
        this.log?.warn({ err: (err as Error).message }, 'DTLS datagram handling failed');
      }
    });
    socket.on('error', (err) => this.emit('error', err));
  }

  protected abstract onDatagram(msg: Buffer, rinfo: RemoteInfo): void;

  get type(): 'udp4' | 'udp6' {
    return this.socket.address().family === 'IPv6' ? 'udp6' : 'udp4';
  }

  address(): { address: string; family: string; port: number } {
    return this.socket.address();
  }

  get sessionCount(): number {
    return this.sessions.size;
  }

  session(port: number, address: string): DtlsSession | undefined {
    return this.sessions.get(peerKey(address, port));
  }

  sendDatagram(peer: Peer, datagram: Buffer): void {
    if (this.closed) return;
    this.stats.datagramsOut++;
    try {
      this.socket.send(datagram, peer.port, peer.address, (err) => {
        if (err) this.log?.debug({ err: err.message }, 'DTLS datagram not sent');
      });
    } catch {
      // socket closed under us
    }
  }

  protected newSession(role: 'client' | 'server', peer: Peer, firstMessageSeq = 0): DtlsSession {
    const key = peerKey(peer.address, peer.port);
    const session = new DtlsSession(role, peer, this, this.sessionOptions, firstMessageSeq);
    const rinfo = { address: peer.address, family: peer.family, port: peer.port, size: 0 };
    session.on('data', (data: Buffer) => this.emit('message', data, { ...rinfo, size: data.length }));
    session.on('connected', () => this.emit('session', session));
    session.on('close', (err: DtlsError | undefined) => {
      if (this.sessions.get(key) === session) this.sessions.delete(key);
      this.emit('sessionClosed', session, err);
    });
    this.sessions.set(key, session);
    return session;
  }

  /**
   * Sends application data to a peer through its session (socket-like signature, for the coap
   * library): `cb(err, bytes)`.
   */
  abstract send(data: Buffer, port: number, address: string, cb?: (err: Error | null, bytes?: number) => void): void;

  /** Sends close_notify to every peer, then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    for (const s of [...this.sessions.values()]) s.close();
    // Let the close_notify datagrams leave before the socket goes.
    await new Promise((resolve) => setTimeout(resolve, 5));
    this.closed = true;
    this.onClose();
    await new Promise<void>((resolve) => this.socket.close(() => resolve()));
  }

  protected onClose(): void {}

  get isClosed(): boolean {
    return this.closed;
  }
}
