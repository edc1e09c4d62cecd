/**
 * The MQTT push peer for bench/firmware.ts: a bare aedes broker (no authentication, no ACL, no
 * registry, no protobuf, no SQL) in its own process that pushes a payload to subscribed devices
 * the way the gateway's pusher does (gateway/firmware/package-push.ts over
 * gateway/transports/mqtt/mqtt-device-link.ts): each block is published from inside the broker
 * process with `broker.publish` at QoS 1 on `push/{device}/req`, one block in flight per device,
 * the next one only after the device answered on `push/{device}/res`; every device at once.
 *
 * Protocol: prints its port on stdout once it listens; then takes lines on stdin,
 * `push <devices> <bytes> <blockBytes>`, pushes to devices d0…d{devices-1} (which must be
 * subscribed by then) and prints `done <ms>`.
 */
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { Aedes } from 'aedes';

const broker = await Aedes.createBroker();
const server = createServer(broker.handle);
const waiting = new Map<string, () => void>();

await new Promise<void>((resolve) => {
  broker.subscribe(
    'push/+/res',
    (packet, done) => {
      const device = packet.topic.split('/')[1]!;
      const next = waiting.get(device);
      waiting.delete(device);
      done();
      next?.();
    },
    resolve,
  );
});

function publish(topic: string, payload: Buffer): Promise<void> {
  return new Promise((resolve, reject) =>
    broker.publish({ cmd: 'publish', topic, payload, qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
  );
}

async function pushTo(device: string, image: Buffer, blockBytes: number): Promise<void> {
  for (let offset = 0; offset < image.length; offset += blockBytes) {
    const answered = new Promise<void>((resolve) => waiting.set(device, resolve));
    await publish(`push/${device}/req`, image.subarray(offset, Math.min(offset + blockBytes, image.length)));
    await answered;
  }
}

createInterface({ input: process.stdin }).on('line', (line) => {
  const [cmd, devices, bytes, block] = line.trim().split(/\s+/);
  if (cmd !== 'push') return;
  const image = Buffer.alloc(Number(bytes));
  for (let i = 0; i < image.length; i++) image[i] = (i * 131 + (i >> 11)) & 0xff;
  const started = performance.now();
  void Promise.all(Array.from({ length: Number(devices) }, (_, i) => pushTo(`d${i}`, image, Number(block)))).then(() =>
    process.stdout.write(`done ${(performance.now() - started).toFixed(1)}\n`),
  );
});

server.listen(0, '127.0.0.1', () => {
  const address = server.address();
  process.stdout.write(`${typeof address === 'object' && address ? address.port : 0}\n`);
});
process.on('SIGTERM', () => {
  server.close();
  broker.close(() => process.exit(0));
});
