/**
 * An aedes broker in its own process for bench/broker.ts, in one of two configurations:
 *
 * - `bare`: `Aedes.createBroker()` with its defaults, nothing else: aedes as a library gives it.
 * - `gateway`: the gateway's embedded broker as devices use it: `MqttTransport.start` from
 *   gateway/transports/mqtt/mqtt-transport.ts, so the gateway's access-control hooks
 *   (authenticate, authorizePublish on every publication, authorizeSubscribe), its session
 *   table, its connection event handlers and its UplinkRouter (the in-process wildcard
 *   subscriptions that decode every device message with the protobuf codec). What it leaves
 *   out is the fleet layer behind `DeviceSessionHandler` (SQLite registry, events): here a
 *   handler that knows the load generator's identities, with operational credentials, and
 *   does nothing with what it is told. One exemption from the ACL: the load generator's
 *   monitor (client id `bench-monitor`, its own secret) may subscribe to the wildcard filter
 *   the bench measures on; the gateway's real consumer of device messages is in-process and
 *   has no TCP subscriber to compare with mosquitto's.
 *
 * Prints `{"port":…}` on stdout once it listens; SIGTERM closes it.
 *
 *   node --import tsx bench/support/broker-aedes.ts bare|gateway [secret] [monitor-filter]
 */
import { createServer, type AddressInfo } from 'node:net';
import { Aedes, type Client, type Subscription } from 'aedes';
import { createLogger } from '../../common/logger.js';
import type { DeviceSessionHandler } from '../../gateway/device-link.js';
import { MqttTransport } from '../../gateway/transports/mqtt/mqtt-transport.js';

const [mode, secret = 'bench-secret', monitorFilter = 'edgedm/v1/+/notify'] = process.argv.slice(2);
const MONITOR = 'bench-monitor';

let close: () => Promise<void>;
let port: number;

if (mode === 'bare') {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
  close = async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
} else if (mode === 'gateway') {
  let notified = 0;
  const handler: DeviceSessionHandler = {
    // Any endpoint with the bench's secret is an operational device (the real handler looks the
    // SHA-256 of the secret up in SQLite: once per connection, not per message).
    authenticate: (_endpoint, presented) => (presented === secret ? 'operational' : null),
    admit: () => false,
    bootstrap: () => {
      throw new Error('no bootstrap in the broker benchmark');
    },
    connected: () => {},
    registered: () => {},
    updated: () => {},
    deregistered: () => {},
    sleeping: () => {},
    disconnected: () => {},
    notified: () => {
      notified++;
    },
    seen: () => {},
  };
  const transport = await MqttTransport.start({
    host: '127.0.0.1',
    port: 0,
    maxMessageBytes: 256 * 1024, // the gateway's default mqtt.maxMessageBytes
    handler,
    log: createLogger({ level: 'warn' }),
  });
  // The monitor's exemption; every other subscription still goes through the gateway's hook.
  const broker = (transport as unknown as { broker: Aedes }).broker;
  const gatewayHook = broker.authorizeSubscribe.bind(broker);
  broker.authorizeSubscribe = (client: Client, sub: Subscription, done: (err: Error | null, sub?: Subscription | null) => void) => {
    if (client.id === MONITOR && sub.topic === monitorFilter) return done(null, sub);
    gatewayHook(client, sub, done);
  };
  port = transport.port;
  close = async () => {
    process.stderr.write(`broker-aedes gateway: the uplink router decoded ${notified} notifications\n`);
    await transport.close();
  };
} else {
  process.stderr.write('usage: broker-aedes.ts bare|gateway [secret] [monitor-filter]\n');
  process.exit(2);
}

process.stdout.write(`${JSON.stringify({ port })}\n`);
process.once('SIGTERM', () => {
  const timer = setTimeout(() => process.exit(0), 2000);
  void close().finally(() => {
    clearTimeout(timer);
    process.exit(0);
  });
});
