import { createServer, type AddressInfo, type Server } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import { Aedes } from 'aedes';
import type { Logger } from '../../../common/logger.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import { createAccessControl } from './access-control.js';
import { ConnectRateLimit } from './connect-rate-limit.js';
import { MqttDeviceLink } from './mqtt-device-link.js';
import { PendingRequests } from './pending-requests.js';
import { SessionTable } from './sessions.js';
import { UplinkRouter } from './uplink-router.js';
import { MqttTrafficMetering, downlinkEndpoint } from './traffic-metering.js';
import type { TrafficMeter } from '../../traffic-meter.js';

export interface MqttTransportOptions {
  host: string;
  port: number;
  maxMessageBytes: number;
  /** New connections a second before CONNACK 3 (Server unavailable); 0 for no limit. */
  maxConnectsPerSecond?: number;
  handler: DeviceSessionHandler;
  log: Logger;
  /** Accounting: bytes and messages per device. */
  traffic?: TrafficMeter;
  /** A second listener, MQTT over TLS, with this key and certificate chain (PEM). */
  tls?: { port: number; key: Buffer; cert: Buffer };
}

/** The embedded aedes broker with edgedm's policy, and the DeviceLink that speaks through it. */
export class MqttTransport {
  private constructor(
    readonly link: MqttDeviceLink,
    private readonly broker: Aedes,
    private readonly server: Server,
    private readonly tlsServer: Server | undefined,
    private readonly sessions: SessionTable,
    private readonly pending: PendingRequests,
    private readonly connectRate: ConnectRateLimit,
    private readonly messages: { in: number; out: number },
  ) {}

  static async start(opts: MqttTransportOptions): Promise<MqttTransport> {
    const log = opts.log;
    const sessions = new SessionTable();
    const pending = new PendingRequests();
    const connectRate = new ConnectRateLimit(opts.maxConnectsPerSecond ?? 0, log);
    const policy = createAccessControl({ sessions, handler: opts.handler, maxMessageBytes: opts.maxMessageBytes, connectRate, log });
    // concurrency 0: aedes' default (100 messages in flight, the rest queued) overflowed the stack
    // after a restart under 10,000 reconnecting devices: its emitter drains a long queue by
    // recursion when handlers finish synchronously ("Maximum call stack size exceeded" in
    // closeSameClients, bench/herd.ts). Without the cap nothing queues there; the connection
    // rate limit bounds what comes in instead.
    const broker = await Aedes.createBroker({ ...policy, concurrency: 0 });
    const link = new MqttDeviceLink(broker, sessions, pending, log);
    if (opts.traffic) new MqttTrafficMetering(broker, sessions, opts.traffic);
    // PUBLISH packets as accounting counts them: from authenticated devices in, the gateway's requests and bootstrap answers out.
    const messages = { in: 0, out: 0 };
    broker.on('publish', (packet, client) => {
      if (client) {
        if (sessions.identityOf(client)) messages.in++;
      } else if (downlinkEndpoint(packet.topic)) messages.out++;
    });

    broker.on('clientReady', (client) => {
      sessions.open(client);
      const identity = sessions.identityOf(client);
      if (identity) opts.handler.connected(identity.endpoint, identity.role, 'mqtt');
    });
    broker.on('clientDisconnect', (client) => {
      const session = sessions.close(client);
      if (!session) return; // a taken-over or never-authenticated connection
      pending.failEndpoint(session.endpoint, `${session.endpoint} disconnected`);
      opts.handler.disconnected(session.endpoint, 'mqtt session closed');
    });
    broker.on('ping', (_packet, client) => {
      const identity = sessions.identityOf(client);
      if (identity?.role === 'operational') opts.handler.seen(identity.endpoint);
    });
    broker.on('keepaliveTimeout', (client) => log.info({ clientId: client.id }, 'mqtt keepalive expired'));
    broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err: err.message }, 'mqtt client error'));
    broker.on('connectionError', (client, err) => log.debug({ clientId: client?.id, err: err.message }, 'mqtt connection error'));

    await new UplinkRouter(broker, sessions, pending, opts.handler, { maxMessageBytes: opts.maxMessageBytes }, log).start();

    const server = await listen(createServer(broker.handle), opts.port, opts.host);
    let tlsServer: Server | undefined;
    if (opts.tls) {
      // The same broker and policy behind TLS: a device authenticates as on the plain port, its secret now encrypted on the wire.
      const secure = createTlsServer({ key: opts.tls.key, cert: opts.tls.cert, minVersion: 'TLSv1.2' }, broker.handle);
      secure.on('tlsClientError', (err, socket) => log.debug({ err: err.message, remote: socket.remoteAddress }, 'mqtt tls handshake failed'));
      tlsServer = await listen(secure, opts.tls.port, opts.host).catch(async (err: unknown) => {
        await new Promise<void>((resolve) => server.close(() => resolve()));
        throw err;
      });
    }
    const transport = new MqttTransport(link, broker, server, tlsServer, sessions, pending, connectRate, messages);
    log.info({ host: opts.host, port: transport.port, tlsPort: transport.tlsPort ?? null }, 'mqtt broker listening');
    return transport;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** The MQTT-over-TLS port; undefined without TLS. */
  get tlsPort(): number | undefined {
    return this.tlsServer ? (this.tlsServer.address() as AddressInfo).port : undefined;
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Open sessions, CONNECTs let through and refused by the connection rate limit, and PUBLISH packets in and out, since the start. */
  get stats(): { connections: number; connectsAdmitted: number; connectsRefused: number; messagesIn: number; messagesOut: number } {
    return {
      connections: this.sessions.size,
      connectsAdmitted: this.connectRate.admitted,
      connectsRefused: this.connectRate.refused,
      messagesIn: this.messages.in,
      messagesOut: this.messages.out,
    };
  }

  async close(): Promise<void> {
    this.pending.failAll('gateway shutting down');
    this.connectRate.close();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    if (this.tlsServer) await new Promise<void>((resolve) => this.tlsServer!.close(() => resolve()));
  }
}

function listen<S extends Server>(server: S, port: number, host: string): Promise<S> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve(server);
    });
  });
}
