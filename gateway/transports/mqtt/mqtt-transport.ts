import { createServer, type AddressInfo, type Server } from 'node:net';
import { Aedes } from 'aedes';
import type { Logger } from '../../../common/logger.js';
import type { DeviceSessionHandler } from '../../device-link.js';
import { createAccessControl } from './access-control.js';
import { ConnectRateLimit } from './connect-rate-limit.js';
import { MqttDeviceLink } from './mqtt-device-link.js';
import { PendingRequests } from './pending-requests.js';
import { SessionTable } from './sessions.js';
import { UplinkRouter } from './uplink-router.js';
import { MqttTrafficMetering } from './traffic-metering.js';
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
}

/** The embedded aedes broker with edgedm's policy, and the DeviceLink that speaks through it. */
export class MqttTransport {
  private constructor(
    readonly link: MqttDeviceLink,
    private readonly broker: Aedes,
    private readonly server: Server,
    private readonly sessions: SessionTable,
    private readonly pending: PendingRequests,
    private readonly connectRate: ConnectRateLimit,
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

    const server = createServer(broker.handle);
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(opts.port, opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const transport = new MqttTransport(link, broker, server, sessions, pending, connectRate);
    log.info({ host: opts.host, port: transport.port }, 'mqtt broker listening');
    return transport;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  get connections(): number {
    return this.sessions.size;
  }

  /** Open sessions, and CONNECTs let through and refused by the connection rate limit since the start. */
  get stats(): { connections: number; connectsAdmitted: number; connectsRefused: number } {
    return { connections: this.sessions.size, connectsAdmitted: this.connectRate.admitted, connectsRefused: this.connectRate.refused };
  }

  async close(): Promise<void> {
    this.pending.failAll('gateway shutting down');
    this.connectRate.close();
    await new Promise<void>((resolve) => this.broker.close(() => resolve()));
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
