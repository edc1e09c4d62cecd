import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generate, parse } from 'coap-packet';
import { createSocket } from 'node:dgram';
import { DtlsClient, DtlsError } from '../../common/dtls/index.js';
import { Gateway } from '../../gateway/gateway.js';
import type { GatewayEvent } from '../../gateway/events.js';
import { SEALING_KEY_FILE } from '../../gateway/security/sealing-key.js';
import { CoapsEndpoint } from '../../gateway/transports/coap/coaps-endpoint.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { SecurityResource } from '../../protocol/model/objects/index.js';
import { adminToken, api, capturingLogger, gatewayConfig, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

interface PskIssued {
  endpoint: string;
  identity: string;
  key: string;
  rotated: boolean;
}

const LINKS = Buffer.from('</1/0>,</3/0>');

/** A CoAP request as one datagram (Confirmable), for exchanges the test controls to the byte. */
function request(messageId: number, path: string[], query: string[], payload = Buffer.alloc(0), method: 'POST' | 'DELETE' = 'POST'): Buffer {
  return generate({
    code: method === 'POST' ? '0.02' : '0.04',
    confirmable: true,
    messageId,
    token: Buffer.from([messageId & 0xff, 0x5a]),
    options: [...path.map((p) => ({ name: 'Uri-Path' as const, value: Buffer.from(p) })), ...query.map((q) => ({ name: 'Uri-Query' as const, value: Buffer.from(q) }))],
    payload,
  });
}

/** A raw DTLS client session with the gateway's coaps endpoint: datagrams in, answers out. */
async function dtlsPeer(gateway: Gateway, identity: string, key: Buffer): Promise<{ ask(datagram: Buffer): Promise<ReturnType<typeof parse>>; close(): Promise<void>; connect(): Promise<unknown> }> {
  const port = Number(new URL(gateway.coapsUrl!).port);
  const client = await DtlsClient.create({ psk: { identity: Buffer.from(identity), key }, retransmit: { initialMs: 200, maxMs: 400, maxRetransmissions: 2 } });
  return {
    connect: () => client.connect(port, '127.0.0.1'),
    ask: (datagram) =>
      new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no CoAP answer over DTLS')), 3000);
        const onMessage = (msg: Buffer) => {
          const packet = parse(msg);
          if (packet.ack || packet.code.startsWith('2.') || packet.code.startsWith('4.')) {
            clearTimeout(timer);
            client.off('message', onMessage);
            resolve(packet);
          }
        };
        client.on('message', onMessage);
        client.send(datagram, port, '127.0.0.1', (err) => {
          if (err) {
            clearTimeout(timer);
            client.off('message', onMessage);
            reject(err);
          }
        });
      }),
    close: () => client.close(),
  };
}

/** A plain CoAP exchange with the gateway's coap:// endpoint. */
async function plainAsk(gateway: Gateway, datagram: Buffer): Promise<ReturnType<typeof parse>> {
  const port = Number(new URL(gateway.coapUrl!).port);
  const socket = createSocket('udp4');
  try {
    return await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CoAP answer')), 3000);
      socket.on('message', (msg) => {
        clearTimeout(timer);
        resolve(parse(msg));
      });
      socket.send(datagram, port, '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

function location(packet: ReturnType<typeof parse>): string {
  return packet.options
    .filter((o) => o.name === 'Location-Path')
    .map((o) => o.value.toString())
    .join('/');
}

/** Every file of a directory tree, as bytes. */
function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  const out: { file: string; bytes: Buffer }[] = [];
  for (const name of readdirSync(dir)) {
    const file = join(dir, name);
    if (statSync(file).isDirectory()) out.push(...filesUnder(file));
    else out.push({ file, bytes: readFileSync(file) });
  }
  return out;
}

describe('LwM2M over DTLS with per-device pre-shared keys (lwm2m.security: psk)', () => {
  const dir = tempDir();
  const identities = testIdentities(3, 'dtls');
  const [a, b, c] = identities as [(typeof identities)[number], (typeof identities)[number], (typeof identities)[number]];
  const logs = capturingLogger('debug');
  const fleetLogs = capturingLogger('debug');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  const events: GatewayEvent[] = [];
  /** Every key the test saw, to look for in logs and files. */
  const keysSeen: Buffer[] = [];

  before(async () => {
    gateway = await Gateway.start(
      gatewayConfig(`${dir.path}/gw`, {
        logLevel: 'debug',
        coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
        lwm2m: { enabled: true, serverUri: null, queueAwakeMs: 93_000, security: 'psk', secureServerUri: null },
      }),
      logs.log,
    );
    adminToken(gateway);
    gateway.events.subscribe((e) => events.push(e));
    gateway.devices.importFactoryIdentities(identities);
    // The third device is not in the fleet: the test plays it with raw datagrams.
    fleet = SimulatedFleet.start({
      identities: [a, b],
      // With lwm2m.security: psk, devices whose factory secret the gateway keeps bootstrap over DTLS too.
      bootstrapServerUri: gateway.coapsBootstrapUrl!,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 50, maxDelayMs: 400 },
      log: fleetLogs.log,
    });
    await fleet.whenAllRegistered(30_000);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('bootstrap (over DTLS) hands out a PSK and a coaps:// server; the agent registers over DTLS with it', async () => {
    assert.match(gateway.coapsUrl!, /^coaps:\/\/127\.0\.0\.1:\d+$/);
    for (const id of [a, b]) {
      const registration = gateway.lwm2m!.registration(id.endpoint);
      assert.ok(registration, id.endpoint);
      assert.deepEqual(registration.channel, { scheme: 'coaps', pskIdentity: id.endpoint });
      const psk = gateway.psks.get(id.endpoint)!;
      assert.equal(psk.identity, id.endpoint);
      assert.equal(psk.key.length, 16);
      keysSeen.push(psk.key);
      // The agent's Security object holds the same account: coaps URI, mode 0, identity, key.
      const security = fleet.agent(id.endpoint)!.objects!.security.instancesOf().find((i) => i.get(SecurityResource.BOOTSTRAP_SERVER) !== true)!;
      assert.equal(security.get(SecurityResource.LWM2M_SERVER_URI), gateway.coapsUrl);
      assert.equal(security.get(SecurityResource.SECURITY_MODE), 0);
      assert.equal(Buffer.from(security.get(SecurityResource.PUBLIC_KEY_OR_IDENTITY) as Uint8Array).toString(), id.endpoint);
      assert.ok(Buffer.from(security.get(SecurityResource.SECRET_KEY) as Uint8Array).equals(psk.key));
      assert.equal(gateway.repository.get(id.endpoint)?.status, 'online');
    }
    assert.ok(gateway.coapsEndpoint!.stats.handshakesCompleted >= 2);
  });

  test('managed through the API over the DTLS session: read, write, execute, observe with notifications', async () => {
    const ep = a.endpoint;
    const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    assert.equal(read.body.content.find((r) => r.path === '/3/0/2')?.value, a.serialNumber);
    const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/1/0/3', value: 7, type: 'integer' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const back = await api<{ content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/1/0/3' });
    assert.equal(back.body.content[0]?.value, 7);
    // Registration Update Trigger: the device answers, then sends an Update (over the same session).
    const registeredBefore = gateway.lwm2m!.registration(ep)!.lastSeen;
    const exec = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/1/0/8' });
    assert.equal(exec.body.code, '2.04', JSON.stringify(exec.body));
    await waitFor('the Update the trigger asked for', () => gateway.lwm2m!.registration(ep)!.lastSeen > registeredBefore);
    assert.equal(gateway.lwm2m!.registration(ep)!.channel.scheme, 'coaps');
    const observed = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/observe`, { path: '/1/0/3' });
    assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
    const before = events.length;
    const write2 = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/1/0/3', value: 9, type: 'integer' });
    assert.equal(write2.body.code, '2.04');
    await waitFor('a notification of /1/0/3 over DTLS', () =>
      events.slice(before).some((e) => e.type === 'device.notification' && e.endpoint === ep && e.path === '/1/0/3' && e.content.some((r) => r.value === 9)),
    );
  });

  test("coap's duplicate detection works over DTLS: a retransmitted Register is answered from the cache, not registered twice", async () => {
    const issued = await api<PskIssued>(gateway, 'POST', `/api/v1/devices/${c.endpoint}/psk`, {});
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    const key = Buffer.from(issued.body.key, 'hex');
    keysSeen.push(key);
    const peer = await dtlsPeer(gateway, issued.body.identity, key);
    try {
      const register = request(0x1234, ['rd'], [`ep=${c.endpoint}`, 'lt=60', 'lwm2m=1.1'], LINKS);
      const first = await peer.ask(register);
      assert.equal(first.code, '2.01');
      const id = gateway.lwm2m!.registration(c.endpoint)!.id;
      const second = await peer.ask(register);
      assert.equal(second.code, '2.01');
      assert.equal(second.messageId, 0x1234);
      assert.equal(location(second), location(first), 'the same answer');
      assert.equal(gateway.lwm2m!.registration(c.endpoint)!.id, id, 'not registered a second time');
      assert.equal(location(first), `rd/${id}`);
      // A new message id is a new Register: a new registration.
      const third = await peer.ask(request(0x1235, ['rd'], [`ep=${c.endpoint}`, 'lt=60', 'lwm2m=1.1'], LINKS));
      assert.equal(third.code, '2.01');
      assert.notEqual(gateway.lwm2m!.registration(c.endpoint)!.id, id);
      // De-register through the same session.
      const gone = await peer.ask(request(0x1236, ['rd', gateway.lwm2m!.registration(c.endpoint)!.id], [], Buffer.alloc(0), 'DELETE'));
      assert.equal(gone.code, '2.02');
    } finally {
      await peer.close();
    }
  });

  test("a registration for endpoint B over A's session is refused 4.03; so is an Update of B's registration", async () => {
    const psk = gateway.psks.get(c.endpoint)!;
    const peer = await dtlsPeer(gateway, psk.identity, psk.key);
    try {
      const answer = await peer.ask(request(0x2001, ['rd'], [`ep=${a.endpoint}`, 'lt=60'], LINKS));
      assert.equal(answer.code, '4.03');
      assert.equal(gateway.lwm2m!.registration(a.endpoint)!.channel.pskIdentity, a.endpoint, "A's registration is untouched");
      const update = await peer.ask(request(0x2002, ['rd', gateway.lwm2m!.registration(a.endpoint)!.id], [], Buffer.alloc(0)));
      assert.equal(update.code, '4.03');
    } finally {
      await peer.close();
    }
  });

  test('a wrong key fails the handshake; an unknown identity too', async () => {
    const psk = gateway.psks.get(c.endpoint)!;
    for (const [identity, key] of [
      [psk.identity, Buffer.from('0123456789abcdef')],
      ['nobody', psk.key],
    ] as const) {
      const peer = await dtlsPeer(gateway, identity, key);
      try {
        await assert.rejects(peer.connect(), (err: unknown) => err instanceof DtlsError);
      } finally {
        await peer.close();
      }
    }
  });

  test('a NoSec (plain coap://) registration is refused 4.03 when PSK is required', async () => {
    const answer = await plainAsk(gateway, request(0x3001, ['rd'], [`ep=${a.endpoint}`, 'lt=60'], LINKS));
    assert.equal(answer.code, '4.03');
    assert.match(answer.payload.toString(), /DTLS/);
    assert.equal(gateway.lwm2m!.registration(a.endpoint)!.channel.scheme, 'coaps');
  });

  test('rotation through the API: the device’s handshake fails, it returns to bootstrap, gets the new key and registers with it', async () => {
    const ep = b.endpoint;
    const old = gateway.psks.get(ep)!;
    const registeredAt = gateway.lwm2m!.registration(ep)!.registeredAt;
    const bootstrapsBefore = fleetLogs.entries().filter((e) => e.endpoint === ep && e.msg === 'bootstrap finished').length;
    const rotated = await api<PskIssued>(gateway, 'POST', `/api/v1/devices/${ep}/psk`, {});
    assert.equal(rotated.status, 201);
    assert.equal(rotated.body.rotated, true);
    const key = Buffer.from(rotated.body.key, 'hex');
    keysSeen.push(key);
    assert.ok(!key.equals(old.key));
    // The gateway closes the device's session; the device updates at once, its handshake with
    // the old key is refused, and it returns to bootstrap. Nothing is done to the device here.
    await waitFor(
      'the device registered again with the new key',
      () => {
        const r = gateway.lwm2m!.registration(ep);
        return !!r && r.registeredAt > registeredAt && r.channel.scheme === 'coaps';
      },
      30_000,
    );
    const security = fleet.agent(ep)!.objects!.security.instancesOf().find((i) => i.get(SecurityResource.BOOTSTRAP_SERVER) !== true)!;
    assert.ok(Buffer.from(security.get(SecurityResource.SECRET_KEY) as Uint8Array).equals(key), 'the agent holds the new key');
    assert.ok(fleetLogs.entries().filter((e) => e.endpoint === ep && e.msg === 'bootstrap finished').length > bootstrapsBefore, 'through bootstrap');
    const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
  });

  test('removing a PSK (DELETE) answers 204; only admins may set one; a bad key is 400', async () => {
    const viewer = await gateway.northbound.operators.create('psk-operator', 'a-test-password', 'operator');
    assert.ok(viewer);
    const token = gateway.northbound.operators.issueToken('psk-operator', 'test', 'api').token;
    const denied = await fetch(`${gateway.apiUrl}/api/v1/devices/${c.endpoint}/psk`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{}' });
    assert.equal(denied.status, 403);
    const bad = await api(gateway, 'POST', `/api/v1/devices/${c.endpoint}/psk`, { key: 'zz' });
    assert.equal(bad.status, 400);
    const shown = await api<{ identity: string; key?: string }>(gateway, 'GET', `/api/v1/devices/${c.endpoint}/psk`);
    assert.equal(shown.status, 200);
    assert.equal(shown.body.identity, c.endpoint);
    assert.equal(shown.body.key, undefined, 'the key is never shown again');
    const removed = await api(gateway, 'DELETE', `/api/v1/devices/${c.endpoint}/psk`);
    assert.equal(removed.status, 204);
    assert.equal((await api(gateway, 'DELETE', `/api/v1/devices/${c.endpoint}/psk`)).status, 404);
  });

  test('keys at rest: not in clear in the database files; the sealing key file is 0600', () => {
    assert.ok(keysSeen.length >= 4);
    const gwDir = `${dir.path}/gw`;
    const files = filesUnder(gwDir).filter((f) => !f.file.endsWith(SEALING_KEY_FILE));
    assert.ok(files.some((f) => f.file.endsWith('edgedm.db')));
    for (const key of keysSeen) {
      for (const { file, bytes } of files) {
        assert.equal(bytes.indexOf(key), -1, `raw key bytes in ${file}`);
        assert.equal(bytes.indexOf(Buffer.from(key.toString('hex'))), -1, `hex key in ${file}`);
        assert.equal(bytes.indexOf(Buffer.from(key.toString('hex').toUpperCase())), -1, `HEX key in ${file}`);
        assert.equal(bytes.indexOf(Buffer.from(key.toString('base64'))), -1, `base64 key in ${file}`);
      }
    }
    assert.equal(statSync(join(gwDir, 'keys', SEALING_KEY_FILE)).mode & 0o777, 0o600);
    // The agent keeps its key in its state, 0600.
    for (const { file } of filesUnder(`${dir.path}/devices`)) assert.equal(statSync(file).mode & 0o077, 0, `${file} is private`);
  });

  test('no key in the logs of the gateway or the devices', () => {
    const text = logs.lines.join('') + fleetLogs.lines.join('');
    assert.ok(text.includes('device PSK set'), 'the gateway logged the PSK changes (without keys)');
    for (const key of keysSeen) {
      for (const form of [key.toString('hex'), key.toString('hex').toUpperCase(), key.toString('base64'), key.toString('base64url'), JSON.stringify([...key]).slice(1, -1)]) {
        assert.ok(!text.includes(form), `a key appears in the logs as ${form.slice(0, 8)}…`);
      }
      assert.ok(!text.includes(key.toString('latin1')), 'raw key bytes in the logs');
    }
  });
});

describe('lwm2m.security: nosec — NoSec devices keep working; a PSK provisioned by the operator moves a device to DTLS', () => {
  const dir = tempDir();
  const [plain, secured] = testIdentities(2, 'mixsec') as [ReturnType<typeof testIdentities>[number], ReturnType<typeof testIdentities>[number]];
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await Gateway.start(
      gatewayConfig(`${dir.path}/gw`, {
        coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
        // Short lifetime: Updates every 5 s, so a device learns soon that its registration went.
        devices: { requestTimeoutMs: 5000, lifetimeSeconds: 10 },
      }),
      capturingLogger('info').log,
    );
    adminToken(gateway);
    gateway.devices.importFactoryIdentities([plain, secured]);
    fleet = SimulatedFleet.start({
      identities: [plain, secured],
      bootstrapServerUri: gateway.coapUrl!,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 50, maxDelayMs: 400 },
      log: capturingLogger('info').log,
    });
    await fleet.whenAllRegistered(30_000);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('without a PSK, devices bootstrap NoSec and register over plain CoAP', async () => {
    for (const id of [plain, secured]) assert.deepEqual(gateway.lwm2m!.registration(id.endpoint)?.channel, { scheme: 'coap' });
    const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${plain.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
  });

  test('a PSK set through the API: the NoSec registration ends, the plain re-registration is refused 4.03, the device bootstraps and registers over DTLS', async () => {
    const issued = await api<PskIssued>(gateway, 'POST', `/api/v1/devices/${secured.endpoint}/psk`);
    assert.equal(issued.status, 201, JSON.stringify(issued.body));
    assert.equal(issued.body.rotated, false);
    assert.equal(gateway.lwm2m!.registration(secured.endpoint), undefined, 'the NoSec registration ended at once');
    const nosec = await plainAsk(gateway, request(0x4001, ['rd'], [`ep=${secured.endpoint}`, 'lt=60'], LINKS));
    assert.equal(nosec.code, '4.03');
    assert.match(nosec.payload.toString(), /must register over DTLS/);
    await waitFor(
      'the device registered over DTLS',
      () => gateway.lwm2m!.registration(secured.endpoint)?.channel.scheme === 'coaps',
      30_000,
    );
    assert.equal(gateway.lwm2m!.registration(secured.endpoint)!.channel.pskIdentity, secured.endpoint);
    const read = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${secured.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
    // The other device is untouched, still NoSec.
    assert.deepEqual(gateway.lwm2m!.registration(plain.endpoint)?.channel, { scheme: 'coap' });
  });

  test('removing the PSK: the device falls back to bootstrap and is NoSec again', async () => {
    const removed = await api(gateway, 'DELETE', `/api/v1/devices/${secured.endpoint}/psk`);
    assert.equal(removed.status, 204);
    await waitFor('the device registered over plain CoAP again', () => gateway.lwm2m!.registration(secured.endpoint)?.channel.scheme === 'coap', 30_000);
  });
});

describe('the coaps endpoint meters what is on the wire', () => {
  test('every UDP datagram is counted with its ciphertext size, handshake included', async () => {
    const seen: { direction: string; bytes: number }[] = [];
    const key = Buffer.from('wire-meter-key-0');
    const endpoint = await CoapsEndpoint.start({ host: '127.0.0.1', port: 0, log: capturingLogger('silent').log, pskOf: (id) => (id === 'meter' ? key : undefined), onDatagram: (direction, _peer, bytes) => seen.push({ direction, bytes }) });
    endpoint.node.route('ping', (_req, res) => void res.end('pong'));
    const client = await DtlsClient.create({ psk: { identity: Buffer.from('meter'), key } });
    try {
      await client.connect(endpoint.port, '127.0.0.1');
      const answered = new Promise<Buffer>((resolve) => client.once('message', resolve));
      client.send(request(1, ['ping'], []), endpoint.port, '127.0.0.1');
      assert.equal(parse(await answered).payload.toString(), 'pong');
      await waitFor('the last datagram counted', () => seen.filter((s) => s.direction === 'out').length === client.stats.datagramsIn);
      assert.equal(seen.filter((s) => s.direction === 'in').length, client.stats.datagramsOut, 'every datagram the client sent, handshake flights included');
      const ciphertextIn = seen.filter((s) => s.direction === 'in').at(-1)!.bytes;
      // The last one in is the request: its record adds a 13-byte header and 8-byte explicit nonce and 8-byte tag (CCM_8).
      assert.equal(ciphertextIn, request(1, ['ping'], []).length + 13 + 8 + 8);
    } finally {
      await client.close();
      await endpoint.close();
    }
  });
});
