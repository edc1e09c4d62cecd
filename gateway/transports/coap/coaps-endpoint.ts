import type { Socket } from 'node:dgram';
import { CoapNode } from '../../../common/coap/coap-node.js';
import { bindUdp } from '../../../common/udp.js';
import type { DatagramListener } from '../../../common/coap/datagram-meter.js';
import { DtlsServer, DtlsSocket, type DtlsSession, type DtlsStats } from '../../../common/dtls/index.js';
import type { Logger } from '../../../common/logger.js';

export interface CoapsEndpointOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  log: Logger;
  /** The key of a PSK identity (UTF-8), undefined to refuse it. Synchronous: it runs inside a handshake. */
  pskOf: (identity: string) => Buffer | undefined;
  /** Told of every UDP datagram in and out: ciphertext on the wire, DTLS handshakes included. */
  onDatagram?: DatagramListener;
  /** A session with no authenticated record for this long is closed (default: the DTLS server's, 15 min). */
  idleTimeoutMs?: number;
}

/**
 * CoAP over DTLS 1.2 with pre-shared keys (`coaps://`, RFC 7252 §9.1): a DtlsServer on its own
 * UDP port carrying a CoapNode, so the same routes (LwM2M `/rd`, the Resource Directory, `/fw`)
 * serve secured clients. Requests name the PSK identity of their session (CoapRequest.via);
 * requests to a client go back through the node's client, hence through that client's session.
 * Sessions are tracked by identity, so a rotated or removed key ends them at once.
 */
export class CoapsEndpoint {
  private readonly byIdentity = new Map<string, Set<DtlsSession>>();

  private constructor(
    readonly node: CoapNode,
    private readonly dtls: DtlsServer,
    private readonly log: Logger,
  ) {
    dtls.on('session', (session: DtlsSession) => {
      const identity = identityOf(session);
      if (identity === undefined) return;
      let set = this.byIdentity.get(identity);
      if (!set) this.byIdentity.set(identity, (set = new Set()));
      // A session replaced by its client's new association ends without 'sessionClosed'.
      for (const s of set) if (s.state === 'closed') set.delete(s);
      set.add(session);
    });
    dtls.on('sessionClosed', (session: DtlsSession) => {
      const identity = identityOf(session);
      const set = identity === undefined ? undefined : this.byIdentity.get(identity);
      if (!set) return;
      set.delete(session);
      if (set.size === 0) this.byIdentity.delete(identity!);
    });
  }

  static async start(opts: CoapsEndpointOptions): Promise<CoapsEndpoint> {
    const wire = await bindUdp(opts.host, opts.port);
    const log = opts.log;
    let dtls: DtlsServer;
    try {
      dtls = await DtlsServer.listen({
        host: opts.host,
        port: opts.port,
        socket: wire,
        log,
        ...(opts.idleTimeoutMs ? { idleTimeoutMs: opts.idleTimeoutMs } : {}),
        psk: (identity) => {
          const text = identity.toString('utf8');
          // Only identities that are valid UTF-8 (as every provisioned one is) can match.
          if (!Buffer.from(text, 'utf8').equals(identity)) return undefined;
          return opts.pskOf(text);
        },
      });
    } catch (err) {
      wire.close();
      throw err;
    }
    dtls.on('error', (err: Error) => log.warn({ err: err.message }, 'DTLS socket error'));
    const node = await CoapNode.bind({
      host: opts.host,
      port: 0,
      log,
      socket: new DtlsSocket(dtls) as unknown as Socket,
      wire,
      dtls: { pskIdentity: (peer) => identityOf(dtls.session(peer.port, peer.address)) },
      ...(opts.onDatagram ? { onDatagram: opts.onDatagram } : {}),
    });
    return new CoapsEndpoint(node, dtls, log);
  }

  get port(): number {
    return this.node.port;
  }

  get url(): string {
    return this.node.url;
  }

  get stats(): Readonly<DtlsStats> {
    return this.dtls.stats;
  }

  get sessionCount(): number {
    return this.dtls.sessionCount;
  }

  /** Ends every session authenticated with this identity (close_notify): its key changed or went. */
  closeSessions(identity: string): number {
    const sessions = [...(this.byIdentity.get(identity) ?? [])];
    for (const s of sessions) s.close();
    if (sessions.length > 0) this.log.info({ identity, sessions: sessions.length }, 'DTLS sessions of a changed PSK closed');
    return sessions.length;
  }

  /** Closes the node, which closes the DTLS server and its socket. */
  close(): Promise<void> {
    return this.node.close();
  }
}

function identityOf(session: DtlsSession | undefined): string | undefined {
  const identity = session?.established?.identity;
  return identity === undefined ? undefined : identity.toString('utf8');
}
