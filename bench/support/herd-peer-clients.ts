/**
 * The peer fleet of bench/herd.ts: plain mqtt.js clients against the bare aedes. Reconnect
 * policy `mqttjs`: mqtt.js' own as it ships (every `reconnectPeriod` = 1000 ms, no jitter);
 * `agent`: the edgedm agent's (common/backoff.ts, 0.5–30 s exponential with full jitter, the
 * first wait after a lost session 0.5–1 s), so only the broker side differs. On every connection
 * a client does the bare MQTT part of an edgedm device's registration: SUBSCRIBE its request
 * topic (QoS 1, mqtt.js resubscribes by itself) and PUBLISH a register message (QoS 1); it counts
 * as online once that PUBLISH is acknowledged. Reports over IPC every 100 ms:
 * `{ online, connects }` (clients online now, CONNACKs received so far).
 *
 *   fork bench/support/herd-peer-clients.ts <url> <prefix> <from> <to> [mqttjs|agent]
 */
import { connect, type MqttClient } from 'mqtt';
import { backoffDelay } from '../../common/backoff.js';

const [url, prefix, fromText, toText, policy = 'mqttjs'] = process.argv.slice(2);
const agentBackoff = policy === 'agent';
const from = Number(fromText);
const to = Number(toText);
const online = new Set<number>();
let connects = 0;
const clients: MqttClient[] = [];

for (let i = from; i < to; i++) {
  const id = `${prefix}-${i}`;
  const client = connect(url!, { clientId: id, clean: true, keepalive: 120, reconnectPeriod: agentBackoff ? 0 : 1000 });
  let attempt = 1;
  if (agentBackoff) client.on('close', () => setTimeout(() => client.reconnect(), backoffDelay(attempt++, 500, 30_000)));
  client.on('connect', () => {
    attempt = 1;
    connects++;
    client.publish(`peer/${id}/register`, Buffer.alloc(100), { qos: 1 }, (err) => {
      if (!err && client.connected) online.add(i);
    });
  });
  client.subscribe(`peer/${id}/req`, { qos: 1 });
  client.on('close', () => online.delete(i));
  client.on('error', () => {});
  clients.push(client);
  // 1000 connections a second while starting, as the edgedm fleet ramps.
  if ((i - from) % 100 === 99) await new Promise((r) => setTimeout(r, 100));
}

const timer = setInterval(() => process.send?.({ online: online.size, connects }), 100);
process.on('SIGTERM', () => {
  clearInterval(timer);
  for (const c of clients) c.end(true);
  process.exit(0);
});
process.on('disconnect', () => process.exit(0));
