// lwm2m-node-lib 1.4.0 as an LwM2M 1.0 client, in its own process (the library keeps one
// client per process). Registers with the server given on the command line and reports what
// happens as JSON lines on stdout, so a test can follow it.
//
//   node client.cjs <server-host> <server-port> <endpoint> <listen-port>
//
// On SIGTERM it de-registers, then exits.
'use strict';
const lwm2m = require('lwm2m-node-lib');
const [host, port, endpoint, listenPort] = process.argv.slice(2);
const say = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
const client = lwm2m.client;

const config = {
  client: {
    lifetime: '60',
    version: '1.0',
    logLevel: 'FATAL',
    observe: { period: 500 },
    ipProtocol: 'udp4',
    serverProtocol: 'udp4',
    port: Number(listenPort),
    formats: [{ name: 'lightweightm2m/text', value: 1541 }],
    writeFormat: 'lightweightm2m/text',
  },
};

function step(fn) {
  return new Promise((resolve, reject) => fn((err, result) => (err ? reject(err) : resolve(result))));
}

async function main() {
  client.init(config);
  await step((cb) => client.registry.create('/3/0', cb));
  await step((cb) => client.registry.setResource('/3/0', 0, 'lwm2m-node-lib', cb));
  await step((cb) => client.registry.setResource('/3/0', 1, 'peer-1.0', cb));
  await step((cb) => client.registry.setResource('/3/0', 2, `SN-${endpoint}`, cb));
  await step((cb) => client.registry.setResource('/3/0', 3, '1.4.0', cb));
  await step((cb) => client.registry.setResource('/3/0', 9, '80', cb));
  const info = await step((cb) => client.register(host, Number(port), '/', endpoint, cb));
  client.setHandler(info.serverInfo, 'write', (objectType, objectId, resourceId, value, cb) => {
    say('write', { path: `/${objectType}/${objectId}/${resourceId}`, value });
    cb(null);
  });
  client.setHandler(info.serverInfo, 'execute', (objectType, objectId, resourceId, args, cb) => {
    say('execute', { path: `/${objectType}/${objectId}/${resourceId}`, args: args ?? null });
    cb(null);
  });
  say('registered', { location: info.location });
  process.on('SIGTERM', () => {
    client.unregister(info, (err) => {
      say('deregistered', { error: err ? String(err.message || err) : null });
      process.exit(0);
    });
  });
  process.stdin.setEncoding('utf8').on('data', (line) => {
    const [cmd, path, resource, value] = line.trim().split(/\s+/);
    if (cmd === 'set') {
      client.registry.setResource(path, Number(resource), value, (err) => say('set', { path, resource, error: err ? String(err) : null }));
    } else if (cmd === 'update') {
      client.update(info, (err) => say('updated', { error: err ? String(err.message || err) : null }));
    }
  });
}

main().catch((err) => {
  say('error', { message: String(err && err.message ? err.message : err) });
  process.exit(1);
});
