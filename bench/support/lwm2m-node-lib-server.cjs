// The lwm2m-node-lib 1.4.0 side of bench/lwm2m.ts: its LwM2M 1.0 server (in-memory registry,
// text/plain reads), in its own process (the library keeps one server per process), with the
// same line protocol as bench/support/lwm2m-edgedm-server.ts so the bench drives both alike.
// The library is the copy installed for the interop tests (test/interop/lwm2m-node-lib/,
// `node scripts/install-peers.mjs`); test/interop/lwm2m-node-lib/server.cjs stays the tests' own.
//
//   node bench/support/lwm2m-node-lib-server.cjs <port>
//   stdout: {"event":"listening","port":N}
//   stdin:  count                              -> {"event":"count","registered":N}
//           reads <inFlight> <perEndpoint> <o> <i> <r>
//                                              -> {"event":"reads","reads":N,"ok":N,"failed":N,"ms":…,"p50":…,"p99":…,"error":…}
//   Reads every registered endpoint <perEndpoint> times through the library's own API
//   (server.read), <inFlight> at a time, timed in this process. Exits on SIGTERM or when stdin closes.
'use strict';
const { createRequire } = require('node:module');
const { join } = require('node:path');

const interopDir = join(__dirname, '..', '..', 'test', 'interop', 'lwm2m-node-lib');
const lwm2m = createRequire(join(interopDir, 'package.json'))('lwm2m-node-lib');
const server = lwm2m.server;
const port = Number(process.argv[2]);
const say = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
const text = (err) => (err ? String(err.message || err.name || err) : null);

// The same configuration as the interop tests' server.cjs: LwM2M 1.0, text/plain, memory registry.
const config = {
  port,
  lifetimeCheckInterval: 1000,
  udpWindow: 100,
  defaultType: 'Device',
  logLevel: 'FATAL',
  ipProtocol: 'udp4',
  serverProtocol: 'udp4',
  deviceRegistry: { type: 'memory' },
  formats: [{ name: 'application-vnd-oma-lwm2m/text', value: 1541 }],
  writeFormat: 'text/plain',
  defaultAcceptFormat: 'text/plain',
  types: [],
};

let serverInfo;
let registered = 0;

function percentile(sorted, p) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))] : 0;
}

function readAll(inFlight, perEndpoint, o, i, r) {
  // Device ids are resolved before the clock starts: server.read takes the registry id, and the
  // memory registry's lookup by name is a linear scan that is not the read path being measured.
  server.listDevices((err, devices) => {
    if (err) return say('reads', { error: text(err) });
    const ids = [];
    for (let round = 0; round < perEndpoint; round++) for (const d of devices) ids.push(d.id);
    const latencies = [];
    let next = 0;
    let ok = 0;
    let failed = 0;
    let firstError = null;
    let running = 0;
    const started = process.hrtime.bigint();
    const finish = () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      latencies.sort((a, b) => a - b);
      say('reads', { reads: ids.length, ok, failed, ms, p50: percentile(latencies, 50), p99: percentile(latencies, 99), error: firstError });
    };
    if (ids.length === 0) return finish();
    const launch = () => {
      while (running < inFlight && next < ids.length) {
        const id = ids[next++];
        const t = process.hrtime.bigint();
        running++;
        server.read(id, o, i, r, (readErr) => {
          latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
          if (readErr) {
            failed++;
            firstError = firstError || text(readErr);
          } else ok++;
          running--;
          if (next < ids.length) launch();
          else if (running === 0) finish();
        });
      }
    };
    launch();
  });
}

server.start(config, (err, info) => {
  if (err) {
    say('error', { message: text(err) });
    process.exit(1);
  }
  serverInfo = info;
  server.setHandler(serverInfo, 'registration', (endpoint, lifetime, version, binding, payload, callback) => {
    registered++;
    callback();
  });
  say('listening', { port });
});

let buffered = '';
process.stdin.setEncoding('utf8').on('data', (chunk) => {
  buffered += chunk;
  let nl;
  while ((nl = buffered.indexOf('\n')) >= 0) {
    const [cmd, ...rest] = buffered.slice(0, nl).trim().split(/\s+/);
    buffered = buffered.slice(nl + 1);
    if (cmd === 'count') say('count', { registered });
    else if (cmd === 'reads') {
      const [inFlight, perEndpoint, o, i, r] = rest;
      readAll(Number(inFlight), Number(perEndpoint), o, i, r);
    } else if (cmd) say('error', { message: `unknown command ${cmd}` });
  }
});

// lwm2m-node-lib's stop is stop(serverInfo, callback): test/interop/lwm2m-node-lib/server.cjs calls
// server.stop(callback), so its callback never runs and that process outlives SIGTERM (the interop
// tests' PeerProcess SIGKILLs it after 3 s). Here the server is stopped as documented, with a
// deadline, and the process exits either way.
function stop() {
  setTimeout(() => process.exit(0), 1000).unref();
  if (serverInfo) server.stop(serverInfo, () => process.exit(0));
  else process.exit(0);
}
process.on('SIGTERM', stop);
process.stdin.on('end', stop);
