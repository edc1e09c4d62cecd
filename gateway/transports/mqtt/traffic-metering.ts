import type { Socket } from 'node:net';
import type { Aedes, Client } from 'aedes';
import { parseTopic } from '../../../protocol/mqtt/topics.js';
import type { TrafficMeter } from '../../traffic-meter.js';
import type { SessionTable } from './sessions.js';

/** Topics the gateway publishes to a device: what counts as a message out. */
const DOWNLINK_KINDS = new Set(['req', 'bs/res']);

/** The device a gateway-published topic goes down to, or undefined when it is not a downlink message. */
export function downlinkEndpoint(topic: string): string | undefined {
  const parsed = parseTopic(topic);
  return parsed && DOWNLINK_KINDS.has(parsed.kind) ? parsed.endpoint : undefined;
}

interface Metered {
  endpoint: string;
  socket: Socket;
  read: number;
  written: number;
}

/**
 * Accounting of MQTT traffic per device. Bytes are the TCP payload of the device's connection,
 * every MQTT control packet as on the wire (CONNECT to DISCONNECT, PUBLISH, PUBACK, PINGREQ, …),
 * read from the socket's counters: sampled at every ledger flush and when the connection closes,
 * so a connection's bytes count in full, including its CONNECT and CONNACK. Only authenticated
 * connections are attributed (a refused CONNECT names nobody for sure). Messages are PUBLISH
 * packets: the device's publishes in, the gateway's requests and bootstrap answers out.
 */
export class MqttTrafficMetering {
  private readonly metered = new Map<Client, Metered>();

  constructor(
    broker: Aedes,
    private readonly sessions: SessionTable,
    private readonly meter: TrafficMeter,
  ) {
    broker.on('clientReady', (client) => {
      const identity = sessions.identityOf(client);
      const socket = client.conn as Partial<Socket> | undefined;
      if (!identity || typeof socket?.bytesRead !== 'number') return;
      this.metered.set(client, { endpoint: identity.endpoint, socket: socket as Socket, read: 0, written: 0 });
    });
    broker.on('clientDisconnect', (client) => {
      const m = this.metered.get(client);
      if (!m) return;
      this.sampleOne(m);
      this.metered.delete(client);
    });
    broker.on('publish', (packet, client) => {
      if (client) {
        const identity = this.sessions.identityOf(client);
        if (identity) this.meter.messages(identity.endpoint, 'mqtt', 'in');
        return;
      }
      const endpoint = downlinkEndpoint(packet.topic);
      if (endpoint) this.meter.messages(endpoint, 'mqtt', 'out');
    });
    meter.addSampler(() => this.sample());
  }

  sample(): void {
    for (const m of this.metered.values()) this.sampleOne(m);
  }

  private sampleOne(m: Metered): void {
    const read = m.socket.bytesRead;
    const written = m.socket.bytesWritten;
    if (read > m.read) this.meter.bytes(m.endpoint, 'mqtt', 'in', read - m.read);
    if (written > m.written) this.meter.bytes(m.endpoint, 'mqtt', 'out', written - m.written);
    m.read = read;
    m.written = written;
  }
}
