// lwm2m-node-lib 1.4.0 as an LwM2M 1.0 server, in its own process (the library keeps one server
// per process), managing whatever client registers. Commands on stdin, results as JSON lines:
//
//   node server.cjs <port>
//   read <endpoint> <o> <i> <r> | write <endpoint> <o> <i> <r> <value> | execute <endpoint> <o> <i> <r>
//   observe <endpoint> <o> <i> <r> | discover <endpoint> <o> <i> <r>
'use strict';
const lwm2m = require('lwm2m-node-lib');
const server = lwm2m.server;
const [port] = process.argv.slice(2);
const say = (event, data = {}) => process.stdout.write(JSON.stringify({ event, ...data }) + '\n');
const text = (err) => (err ? String(err.message || err.name || err) : null);

const config = {
  port: Number(port),
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

let running;
server.start(config, (err, serverInfo) => {
  running = serverInfo;
  if (err) {
    say('error', { message: text(err) });
    process.exit(1);
  }
  server.setHandler(serverInfo, 'registration', (endpoint, lifetime, version, binding, payload, callback) => {
    say('registered', { endpoint, lifetime, version, binding, payload: String(payload ?? '') });
    callback();
  });
  server.setHandler(serverInfo, 'updateRegistration', (object, callback) => {
    say('updated', { endpoint: object && object.name });
    callback();
  });
  server.setHandler(serverInfo, 'unregistration', (device, callback) => {
    say('deregistered', { endpoint: device && device.name });
    callback();
  });
  say('listening', { port: Number(port) });
});

process.stdin.setEncoding('utf8').on('data', (chunk) => {
  for (const line of chunk.split('\n').filter(Boolean)) {
    const [cmd, endpoint, o, i, r, ...rest] = line.trim().split(/\s+/);
    server.getRegistry().getByName(endpoint, (err, device) => {
      if (err || !device) return say(cmd, { error: text(err) || 'unknown device' });
      const id = device.id;
      const done = (err, result) => say(cmd, { path: `/${o}/${i}/${r}`, error: text(err), result: result === undefined ? null : String(result) });
      if (cmd === 'read') server.read(id, o, i, r, done);
      else if (cmd === 'write') server.write(id, o, i, r, rest.join(' '), done);
      else if (cmd === 'execute') server.execute(id, o, i, r, rest.join(' ') || null, done);
      else if (cmd === 'discover') server.discover(id, o, i, r, done);
      else if (cmd === 'observe')
        server.observe(id, o, i, r, (value) => say('notify', { path: `/${o}/${i}/${r}`, value: String(value) }), done);
      else say('error', { message: `unknown command ${cmd}` });
    });
  }
});
// stop(serverInfo, callback): with the callback alone it never calls back and SIGTERM is ignored.
process.on('SIGTERM', () => {
  setTimeout(() => process.exit(0), 1000).unref();
  if (running) server.stop(running, () => process.exit(0));
  else process.exit(0);
});
