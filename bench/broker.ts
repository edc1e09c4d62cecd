/**
 * MQTT broker throughput and latency: the gateway's embedded broker (aedes with edgedm's access
 * control, session table and uplink router), bare aedes, and mosquitto (the Debian package,
 * configured fairly), one after the other on the same machine under the same load, QoS 0 and 1.
 *
 * The load comes from a small C generator on libmosquitto (bench/support/mqtt-load.c, compiled
 * here into bench/out/): one thread, N publisher connections with an end-to-end window of W
 * messages each, one wildcard subscriber measuring what arrives and its latency. Its CPU share
 * (of one core) is reported for every measurement: close to 1.0 would mean the generator, not
 * the broker, set the rate. Each broker's CPU share over the same window comes from /proc.
 *
 * Every broker gets the same traffic: publisher i connects as `ld-000i` (client id = username,
 * password = the bench secret) and publishes a DM-over-MQTT Notify message (the protobuf
 * encoding devices send, ~64 bytes, a 12-byte stamp inside its opaque value) on its own topic
 * `edgedm/v1/ld-000i/notify`; the monitor subscribes to `edgedm/v1/+/notify`.
 *
 *   npm run bench:broker [-- --runs 3 --seconds 10 --publishers 50 --window 20 --qos 0,1]
 *
 * Needs: `mosquitto` (apt-get install mosquitto), a C compiler and libmosquitto's header
 * (apt-get install libmosquitto-dev).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { LwM2mPath } from '../protocol/model/index.js';
import { encodeNotifyMessage } from '../protocol/mqtt/codec.js';
import { freePort } from '../test/support/ports.js';
import { cpuSeconds, ProcSampler } from './support/proc.js';
import { benchArgs } from './support/args.js';

const args = benchArgs();
const { flag } = args;
const num = (name: string, fallback: number) => args.num(name, fallback);
const runs = num('runs', 3);
const seconds = num('seconds', 10);
const publishers = num('publishers', 50);
const window = num('window', 20);
const qosList = (flag('qos') ?? '0,1').split(',').map(Number);
const brokers = (flag('brokers') ?? 'mosquitto,aedes,gateway').split(',') as BrokerKind[];
const root = join(import.meta.dirname, '..');
const out = join(root, 'bench/out');
const SECRET = 'bench-broker-secret';

type BrokerKind = 'mosquitto' | 'aedes' | 'gateway';
const LABEL: Record<BrokerKind, string> = {
  mosquitto: 'mosquitto 2.0 (fair config)',
  aedes: 'bare aedes',
  gateway: 'gateway broker (auth/ACL/uplink)',
};

// ---- prerequisites -----------------------------------------------------------------------------

function which(cmd: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(':').concat(['/usr/sbin', '/sbin'])) {
    const p = join(dir, cmd);
    if (existsSync(p)) return p;
  }
  return undefined;
}
const mosquittoBin = which('mosquitto');
const cc = which('cc') ?? which('gcc');
const missing: string[] = [];
if (!mosquittoBin && brokers.includes('mosquitto')) missing.push('mosquitto (apt-get install mosquitto)');
if (!cc) missing.push('a C compiler (apt-get install gcc)');
if (!existsSync('/usr/include/mosquitto.h')) missing.push("libmosquitto's header and library (apt-get install libmosquitto-dev)");
if (missing.length > 0) {
  process.stderr.write(`bench/broker.ts needs: ${missing.join('; ')}\n  apt-get update && apt-get install -y mosquitto libmosquitto-dev gcc\n`);
  process.exit(1);
}
mkdirSync(out, { recursive: true });
const generator = join(out, 'mqtt-load');
const compiled = spawnSync(cc!, ['-O2', '-Wall', '-o', generator, join(root, 'bench/support/mqtt-load.c'), '-lmosquitto'], { encoding: 'utf8' });
if (compiled.status !== 0) {
  process.stderr.write(`compiling bench/support/mqtt-load.c failed:\n${compiled.stderr}\n`);
  process.exit(1);
}
const mosquittoVersion = mosquittoBin ? /mosquitto version (\S+)/.exec(spawnSync(mosquittoBin, ['-h'], { encoding: 'utf8' }).stdout)?.[1] ?? '?' : 'n/a';

// ---- the payload: a real Notify message with room for the stamp ----------------------------------

const MARK = Buffer.alloc(12, 0xa5);
const template = Buffer.from(
  encodeNotifyMessage({
    observationId: 'obs-bench-1',
    path: LwM2mPath.parse('/3/0'),
    sequence: 1,
    content: [{ path: LwM2mPath.parse('/3/0/9'), type: 'opaque', value: Buffer.concat([MARK, Buffer.alloc(16, 0x42)]) }],
  }),
);
const stampOffset = template.indexOf(MARK);
if (stampOffset < 0) throw new Error('no room for the stamp in the Notify template');

// ---- processes -----------------------------------------------------------------------------------

const children = new Set<ChildProcess>();
const dirs = new Set<string>();
process.on('exit', () => {
  for (const c of children) c.kill('SIGKILL');
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});
process.once('SIGINT', () => process.exit(130));
function track<T extends ChildProcess>(c: T): T {
  children.add(c);
  c.once('exit', () => children.delete(c));
  return c;
}

const mosquittoConf = (port: number) => `# bench/broker.ts: mosquitto configured fairly for a throughput comparison
listener ${port} 127.0.0.1
allow_anonymous true
# Nagle off, as aedes (node net sockets) and the generator have it
set_tcp_nodelay true
# deep queues: the defaults (1000 messages) drop a fast subscriber's overflow
max_queued_messages 1000000
max_queued_bytes 0
# the default of 20 in flight per client throttles one subscriber at QoS 1
max_inflight_messages 1000
persistence false
log_dest stderr
log_type error
log_type warning
`;

interface Broker {
  pid: number;
  port: number;
  stop(): Promise<void>;
}

async function startBroker(kind: BrokerKind, dir: string): Promise<Broker> {
  let child: ChildProcess;
  let port: number;
  if (kind === 'mosquitto') {
    port = await freePort();
    const conf = join(dir, 'mosquitto.conf');
    writeFileSync(conf, mosquittoConf(port));
    child = track(spawn(mosquittoBin!, ['-c', conf], { stdio: ['ignore', 'ignore', 'inherit'] }));
    // Ready when it accepts a connection.
    for (let i = 0; ; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const s = connect(port, '127.0.0.1');
        s.once('connect', () => (s.destroy(), resolve(true)));
        s.once('error', () => resolve(false));
      });
      if (ok) break;
      if (i > 100) throw new Error('mosquitto did not come up');
      await new Promise((r) => setTimeout(r, 50));
    }
  } else {
    child = track(
      spawn(process.execPath, ['--import', 'tsx', join(root, 'bench/support/broker-aedes.ts'), kind === 'aedes' ? 'bare' : 'gateway', SECRET], {
        stdio: ['ignore', 'pipe', 'inherit'],
      }),
    );
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    port = (JSON.parse(String((await lines.next()).value)) as { port: number }).port;
  }
  return {
    pid: child.pid!,
    port,
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
      await once(child, 'exit');
      clearTimeout(timer);
    },
  };
}

interface GeneratorResult {
  received: number;
  msgsPerSec: number;
  p50Ms: number;
  p99Ms: number;
  p999Ms: number;
  sentTotal: number;
  receivedTotal: number;
  deliveredShare: number;
  disconnects: number;
  lostSlots: number;
  generatorCpuShare: number;
  seconds: number;
}

interface Measurement extends GeneratorResult {
  broker: BrokerKind;
  qos: number;
  run: number;
  brokerCpuShare: number;
  brokerPeakRssMiB: number;
  load1: number;
}

async function measure(kind: BrokerKind, broker: Broker, qos: number, run: number): Promise<Measurement> {
  const argv = [
    '-p', String(broker.port), '-n', String(publishers), '-s', '1', '-q', String(qos), '-t', String(seconds), '-w', '2', '-d', '5', '-W', String(window),
    '-c', 'ld-', '-T', 'edgedm/v1/%s/notify', '-F', 'edgedm/v1/+/notify', '-P', SECRET, '-U', 'bench-monitor', '-S', SECRET, '-I', 'bench-monitor',
    '-x', template.toString('hex'), '-o', String(stampOffset),
  ];
  const load1 = loadavg()[0]!;
  const gen = track(spawn(generator, argv, { stdio: ['ignore', 'pipe', 'inherit'] }));
  const sampler = new ProcSampler(broker.pid);
  let cpu0 = 0;
  let t0 = 0;
  let share = 0;
  let result: GeneratorResult | undefined;
  for await (const line of createInterface({ input: gen.stdout! })) {
    if (line === 'measure') {
      cpu0 = cpuSeconds(broker.pid);
      t0 = performance.now();
    } else if (line === 'drain') {
      share = (cpuSeconds(broker.pid) - cpu0) / ((performance.now() - t0) / 1000);
    } else if (line.startsWith('{')) {
      result = JSON.parse(line) as GeneratorResult;
    }
  }
  const [code] = (gen.exitCode !== null ? [gen.exitCode] : await once(gen, 'exit')) as [number | null];
  const usage = sampler.stop();
  if (code !== 0 || !result) throw new Error(`mqtt-load against ${kind} QoS ${qos} failed (exit ${code})`);
  return { ...result, broker: kind, qos, run, brokerCpuShare: share, brokerPeakRssMiB: usage.peakRssKiB / 1024, load1 };
}

// ---- the runs ------------------------------------------------------------------------------------

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = Math.floor(s.length / 2);
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const fmt = (x: number, d = 1) => x.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });

const started = new Date();
const results: Measurement[] = [];
for (let run = 1; run <= runs; run++) {
  // The order rotates per run, so no broker always goes first (or last) on a warming machine.
  const order = brokers.map((_, i) => brokers[(i + run - 1) % brokers.length]!);
  for (const kind of order) {
    const dir = mkdtempSync(join(tmpdir(), 'edgedm-bench-broker-'));
    dirs.add(dir);
    const broker = await startBroker(kind, dir);
    try {
      for (const qos of qosList) {
        const m = await measure(kind, broker, qos, run);
        results.push(m);
        console.log(
          `run ${run} ${LABEL[kind].padEnd(34)} QoS ${qos}: ${fmt(m.msgsPerSec, 0).padStart(8)} msg/s, p50 ${fmt(m.p50Ms, 2)} ms, p99 ${fmt(m.p99Ms, 2)} ms, ` +
            `delivered ${(m.deliveredShare * 100).toFixed(1)}%${m.lostSlots ? ` (lost ${m.lostSlots})` : ''}, broker CPU ${fmt(m.brokerCpuShare, 2)}, generator CPU ${fmt(m.generatorCpuShare, 2)}, ` +
            `broker peak RSS ${fmt(m.brokerPeakRssMiB, 0)} MiB, load ${m.load1.toFixed(2)}`,
        );
      }
    } finally {
      await broker.stop();
      rmSync(dir, { recursive: true, force: true });
      dirs.delete(dir);
    }
  }
}

// ---- summary -------------------------------------------------------------------------------------

const rows: Record<string, unknown>[] = [];
console.log(
  `\n${publishers} publishers × window ${window}, ${template.length}-byte Notify payloads, ${seconds} s windows; medians of ${runs} run(s); ` +
    `ratio = broker msg/s ÷ mosquitto msg/s in the same run (median of the per-run ratios)`,
);
console.log('| broker | QoS | msg/s | p50 ms | p99 ms | delivered | broker CPU (cores) | broker CPU µs/msg | generator CPU (of 1 core) | broker peak RSS MiB | ratio to mosquitto |');
console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
for (const qos of qosList) {
  for (const kind of brokers) {
    const mine = results.filter((r) => r.broker === kind && r.qos === qos);
    if (mine.length === 0) continue;
    const ratios = mine
      .map((r) => {
        const peer = results.find((p) => p.broker === 'mosquitto' && p.qos === qos && p.run === r.run);
        return peer ? r.msgsPerSec / peer.msgsPerSec : NaN;
      })
      .filter((x) => !Number.isNaN(x));
    const row = {
      broker: kind,
      qos,
      msgsPerSec: median(mine.map((r) => r.msgsPerSec)),
      p50Ms: median(mine.map((r) => r.p50Ms)),
      p99Ms: median(mine.map((r) => r.p99Ms)),
      delivered: median(mine.map((r) => r.deliveredShare)),
      brokerCpu: median(mine.map((r) => r.brokerCpuShare)),
      generatorCpu: median(mine.map((r) => r.generatorCpuShare)),
      generatorCpuMax: Math.max(...mine.map((r) => r.generatorCpuShare)),
      brokerRss: median(mine.map((r) => r.brokerPeakRssMiB)),
      brokerCpuUsPerMsg: median(mine.map((r) => (r.brokerCpuShare / r.msgsPerSec) * 1e6)),
      ratio: ratios.length ? median(ratios) : NaN,
      perRunRatios: ratios,
    };
    rows.push(row);
    console.log(
      `| ${LABEL[kind]} | ${qos} | ${fmt(row.msgsPerSec, 0)} | ${fmt(row.p50Ms, 2)} | ${fmt(row.p99Ms, 2)} | ${(row.delivered * 100).toFixed(1)}% | ${fmt(row.brokerCpu, 2)} | ${fmt(row.brokerCpuUsPerMsg, 1)} | ` +
        `${fmt(row.generatorCpu, 2)} (max ${fmt(row.generatorCpuMax, 2)}) | ${fmt(row.brokerRss, 0)} | ${kind === 'mosquitto' ? '1' : `×${row.ratio.toFixed(2)} (${ratios.map((x) => x.toFixed(2)).join(', ')})`} |`,
    );
  }
}
const loads = results.map((r) => r.load1);
console.log(
  `load average (1 min) at the start of the measurements: ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)} (median ${median(loads).toFixed(2)}); ` +
    `${cpus().length} CPUs (${cpus()[0]?.model ?? '?'}), ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}, mosquitto ${mosquittoVersion}`,
);
const file = join(out, `broker-${started.toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(
  file,
  JSON.stringify({ started, args, publishers, window, seconds, payloadBytes: template.length, mosquittoConf: mosquittoConf(0), mosquittoVersion, results, summary: rows }, null, 2),
);
console.log(`raw results: ${file}`);
