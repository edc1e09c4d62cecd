/**
 * The bare-MQTT peers of bench/registration.ts and bench/fanout.ts, one process per role:
 *
 *   register <mqtt-url> <prefix> <n>   n mqtt.js clients doing the MQTT part of a device's
 *       bootstrap + registration: connect, subscribe, one QoS 1 round trip through the broker,
 *       disconnect, connect again, subscribe, one QoS 1 publish. Prints `ready` when all have
 *       done it, keeps the connections until SIGTERM.
 *   respond <mqtt-url> <prefix> <n> <answer-bytes>   n mqtt.js "devices" `<prefix>-<i>`, each
 *       subscribed (QoS 1) to `peer/<id>/req` and answering every request on `peer/<id>/res`
 *       (QoS 1, the request's first 8 bytes + answer-bytes of payload). Prints `ready`.
 *   server   a bare aedes broker (no authentication, ACL, registry, codec or SQL) with the
 *       requester inside its process, as the gateway's MqttDeviceLink publishes from inside its
 *       broker. Prints `{"port":…}`. On stdin `run <maxConcurrent> <timeoutMs> <id,id,…>`: sends
 *       one request (QoS 1, 20 bytes) to each id, at most maxConcurrent unanswered at a time,
 *       and prints `{"ms":…,"answered":…,"latencies":[…]}` (per-device ms, request → answer).
 */
import { createServer, type AddressInfo } from 'node:net';
import { createInterface } from 'node:readline';
import { Aedes } from 'aedes';
import { connectAsync, type MqttClient } from 'mqtt';

const [role, ...rest] = process.argv.slice(2);

async function pool<T>(items: T[], limit: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) await work(items[next++]!);
    }),
  );
}

const clients: MqttClient[] = [];
let retries = 0;
process.once('SIGTERM', () => {
  for (const c of clients) c.end(true);
  setTimeout(() => process.exit(0), 200);
});

if (role === 'register') {
  const [url, prefix, n] = rest as [string, string, string];
  const ids = Array.from({ length: Number(n) }, (_, i) => `${prefix}-${i}`);
  // As fast as the broker takes them: 200 clients at work at a time per process (more overflows
  // the listen backlog and the kernel resets connections); a reset client starts over.
  await pool(ids, 200, async (id) => {
    for (let attempt = 1; ; attempt++) {
      try {
        const first = await connectAsync(url, { clientId: id, reconnectPeriod: 0, connectTimeout: 120_000 });
        first.on('error', () => {});
        await first.subscribeAsync(`peer/${id}/res`, { qos: 1 });
        const echoed = new Promise((resolve) => first.once('message', resolve));
        await first.publishAsync(`peer/${id}/res`, Buffer.alloc(200), { qos: 1 });
        await echoed;
        await first.endAsync();
        const second = await connectAsync(url, { clientId: id, reconnectPeriod: 0, connectTimeout: 120_000 });
        second.on('error', () => {});
        await second.subscribeAsync(`peer/${id}/req`, { qos: 1 });
        await second.publishAsync(`peer/${id}/register`, Buffer.alloc(100), { qos: 1 });
        clients.push(second);
        return;
      } catch (err) {
        retries++;
        if (attempt >= 10) throw err;
      }
    }
  });
  if (retries) process.stderr.write(`fanout-peer register: ${retries} client(s) started over after a connection error\n`);
  process.stdout.write('ready\n');
} else if (role === 'respond') {
  const [url, prefix, n, answerBytes] = rest as [string, string, string, string];
  const filler = Buffer.alloc(Number(answerBytes), 0x41);
  const ids = Array.from({ length: Number(n) }, (_, i) => `${prefix}-${i}`);
  await pool(ids, 200, async (id) => {
    const c = await connectAsync(url, { clientId: id, reconnectPeriod: 0, connectTimeout: 120_000, keepalive: 30 });
    c.on('error', () => {});
    await c.subscribeAsync(`peer/${id}/req`, { qos: 1 });
    c.on('message', (_topic, payload) => {
      c.publish(`peer/${id}/res`, Buffer.concat([payload.subarray(0, 8), filler]), { qos: 1 });
    });
    clients.push(c);
  });
  process.stdout.write('ready\n');
} else if (role === 'server') {
  const broker = await Aedes.createBroker();
  const server = createServer(broker.handle);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const waiting = new Map<string, () => void>();
  await new Promise<void>((resolve) =>
    broker.subscribe(
      'peer/+/res',
      (packet, cb) => {
        const id = packet.topic.split('/')[1]!;
        waiting.get(id)?.();
        cb();
      },
      resolve,
    ),
  );
  process.stdout.write(`${JSON.stringify({ port: (server.address() as AddressInfo).port })}\n`);
  createInterface({ input: process.stdin }).on('line', (line) => {
    const [cmd, limit, timeoutMs, list] = line.trim().split(' ');
    if (cmd !== 'run') return;
    const ids = list!.split(',');
    const latencies: number[] = [];
    const started = performance.now();
    void pool(ids, Number(limit), async (id) => {
      const sent = performance.now();
      const answered = await new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve(false);
        }, Number(timeoutMs));
        waiting.set(id, () => {
          clearTimeout(timer);
          waiting.delete(id);
          resolve(true);
        });
        const payload = Buffer.alloc(20);
        payload.writeDoubleBE(sent, 0);
        broker.publish({ cmd: 'publish', topic: `peer/${id}/req`, payload, qos: 1, retain: false, dup: false }, () => {});
      });
      if (answered) latencies.push(performance.now() - sent);
    }).then(() => {
      process.stdout.write(`${JSON.stringify({ ms: performance.now() - started, answered: latencies.length, latencies })}\n`);
    });
  });
  process.removeAllListeners('SIGTERM');
  process.once('SIGTERM', () => {
    server.close();
    broker.close(() => process.exit(0));
    setTimeout(() => process.exit(0), 1000);
  });
} else {
  process.stderr.write('usage: fanout-peer.ts register|respond|server …\n');
  process.exit(2);
}
