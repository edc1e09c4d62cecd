/**
 * The gateway's CoAP firmware serving on its own, for profiling: a gateway in this process
 * serves one image over `coap://…/fw/{transfer}/…` to N raw lockstep clients in a child process
 * (one Confirmable Block2 GET in flight per client, the next block after the answer, as the
 * agent fetches). Prints blocks/s and the gateway process's CPU per block; no fleet, no rollout.
 *
 *   node [--cpu-prof --cpu-prof-dir=/tmp/prof] --import tsx bench/support/coap-block-load.ts
 *     [--clients 100] [--seconds 20] [--size-mib 4]
 */
import { fork } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generate, parse } from 'coap-packet';
import { createLogger } from '../../common/logger.js';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { encodeBlock } from '../../protocol/coap/index.js';

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
};

interface ClientJob {
  port: number;
  paths: string[][];
  seconds: number;
}

if (process.env.COAP_BLOCK_LOAD_CHILD === '1') {
  process.once('message', (job: ClientJob) => void runClients(job).then((r) => process.send!(r, () => process.exit(0))));
} else {
  await runGateway();
}

async function runGateway(): Promise<void> {
  const clients = flag('clients', 100);
  const seconds = flag('seconds', 20);
  const size = Math.round(flag('size-mib', 4) * 1024 * 1024);
  const dataDir = mkdtempSync(join(tmpdir(), 'edgedm-coap-load-'));
  const log = createLogger({ level: 'warn' });
  const gateway = await Gateway.start(
    {
      ...DEFAULT_GATEWAY_CONFIG,
      dataDir,
      logLevel: 'warn',
      mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: 0 },
      api: { ...DEFAULT_GATEWAY_CONFIG.api, host: '127.0.0.1', port: 0 },
      coap: { ...DEFAULT_GATEWAY_CONFIG.coap, host: '127.0.0.1', port: 0 },
    },
    log,
  );
  const cacheBytes = process.env.COAP_BLOCK_LOAD_RESPONSE_CACHE_BYTES;
  if (cacheBytes !== undefined) replaceResponseCache(gateway, Number(cacheBytes));
  try {
    const image = await gateway.firmware.add(Readable.from([randomBytes(size)]), { name: 'load', version: '1.0.0', models: ['EDM-T'], vendor: 'bench' }, size);
    const paths = Array.from({ length: clients }, (_, i) => {
      const t = gateway.firmware.createTransfer({ firmwareId: image.id, endpoint: `load-${i}`, rolloutId: null, transport: 'coap', allowDowngrade: false });
      return ['fw', t.id, 'load-1.0.0.bin'];
    });
    const child = fork(import.meta.filename, [], { env: { ...process.env, COAP_BLOCK_LOAD_CHILD: '1' }, execArgv: ['--import', 'tsx'] });
    const cpuBefore = process.cpuUsage();
    const started = performance.now();
    child.send({ port: gateway.coapPort!, paths, seconds } satisfies ClientJob);
    const result = await new Promise<{ blocks: number; timeouts: number }>((resolve) => child.once('message', resolve as (m: unknown) => void));
    const wallS = (performance.now() - started) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const cpuS = (cpu.user + cpu.system) / 1e6;
    const served = gateway.firmware.transfers({}).reduce((n, t) => n + t.bytesServed, 0);
    const rssMiB = process.memoryUsage().rss / 2 ** 20;
    process.stdout.write(
      `${clients} clients, ${wallS.toFixed(1)} s: ${result.blocks} blocks (${(result.blocks / wallS).toFixed(0)}/s), ${result.timeouts} timeouts, ` +
        `${(served / 1e6 / wallS).toFixed(2)} MB/s counted, gateway CPU ${cpuS.toFixed(1)} s (${((cpuS / result.blocks) * 1e6).toFixed(0)} µs/block), RSS ${rssMiB.toFixed(0)} MiB\n`,
    );
  } finally {
    await gateway.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

/**
 * An experiment, not product code: swaps the coap server's response cache (duplicate detection,
 * 32 MiB by default) for one of `maxBytes`, built like the library builds its own.
 */
function replaceResponseCache(gateway: Gateway, maxBytes: number): void {
  type Cache = { constructor: new (opts: object) => Cache };
  const server = (gateway as unknown as { coap: { server: { _lru: Cache } } }).coap.server;
  server._lru = new server._lru.constructor({
    maxSize: maxBytes,
    sizeCalculation: (buf: Buffer) => buf.byteLength,
    ttl: 247_000,
    dispose: (buf: { sender?: { reset(): void } }) => buf.sender?.reset(),
  });
  process.stderr.write(`response cache replaced: ${maxBytes} bytes\n`);
}

/** N clients on one socket, told apart by token; each asks for its next block when one arrives. */
async function runClients(job: ClientJob): Promise<{ blocks: number; timeouts: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const deadline = Date.now() + job.seconds * 1000;
  let messageId = 0;
  let blocks = 0;
  let timeouts = 0;
  const next = job.paths.map(() => 0);
  const timers = new Map<number, NodeJS.Timeout>();
  const ask = (client: number) => {
    if (Date.now() > deadline) return;
    messageId = (messageId + 1) & 0xffff;
    const token = Buffer.alloc(4);
    token.writeUInt32BE(client);
    const datagram = generate({
      code: 'GET',
      confirmable: true,
      messageId,
      token,
      options: [...job.paths[client]!.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p) })), { name: 'Block2', value: encodeBlock({ num: next[client]!, more: false, szx: 6 }) }],
    });
    socket.send(datagram, job.port, '127.0.0.1');
    timers.set(
      client,
      setTimeout(() => {
        timeouts++;
        ask(client);
      }, 5000),
    );
  };
  socket.on('message', (msg) => {
    const packet = parse(msg);
    if (packet.token.length !== 4 || packet.code !== '2.05') return;
    const client = packet.token.readUInt32BE(0);
    clearTimeout(timers.get(client));
    blocks++;
    const more = packet.options.find((o) => o.name === 'Block2')?.value;
    next[client] = more && (more[more.length - 1]! & 0x08) !== 0 ? next[client]! + 1 : 0;
    ask(client);
  });
  job.paths.forEach((_, i) => ask(i));
  await new Promise((resolve) => setTimeout(resolve, job.seconds * 1000 + 200));
  for (const t of timers.values()) clearTimeout(t);
  socket.close();
  return { blocks, timeouts };
}
