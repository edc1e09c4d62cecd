import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { generate, parse, type ParsedPacket } from 'coap-packet';
import type { CoapPeerAddress, CoapRequestSpec, CoapResponse } from '../../common/coap/coap-client.js';
import { CoapNode } from '../../common/coap/coap-node.js';
import { respond } from '../../common/coap/coap-response.js';
import type { Gateway } from '../../gateway/gateway.js';
import { encodeUint } from '../../protocol/coap/index.js';
import { decodeLinks } from '../../protocol/lwm2m/index.js';
import { FAST } from '../agent/lwm2m-support.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

const LINKS = Buffer.from('</3/0>;rt="urn:oma:lwm2m:oma:3";ct="112 110";obs,</4/0>,</sensors/temp>;rt=temperature');
const linkFormat: [['Content-Format', Buffer]] = [['Content-Format', encodeUint(40)]];

/**
 * The gateway's CoRE Resource Directory (RFC 9176) at `/rd-core`: discovery, admission,
 * registration, update, removal and expiry, as a plain CoAP device sees them, and the registry
 * record the fleet layer sees.
 */
describe('CoRE Resource Directory on the gateway', () => {
  const dir = tempDir();
  const [known, other, expiring, based] = testIdentities(4, 'rdd');
  let gateway: Gateway;
  let device: CoapNode;
  let gw: CoapPeerAddress;

  const request = (spec: CoapRequestSpec): Promise<CoapResponse> => device.client.request(gw, spec, { timeoutMs: 2000 });
  const register = (ep: string, extra: string[] = [], payload: Buffer = LINKS) => request({ method: 'POST', path: ['rd-core'], query: [`ep=${ep}`, ...extra], options: linkFormat, payload });

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    gateway.devices.importFactoryIdentities([known!, other!, expiring!, based!]);
    gw = { address: '127.0.0.1', port: gateway.coapPort! };
    device = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog, transmission: FAST });
    // The device serves its Device object: what the gateway reads after a registration.
    device.fallback((req, res) => {
      if (req.path.join('/') === '3/0/0') return respond(res, '2.05', Buffer.from('ACME'), [['Content-Format', encodeUint(0)]]);
      respond(res, '4.04');
    });
  });
  after(async () => {
    await device?.close();
    await gateway?.close();
    dir.remove();
  });

  test('/.well-known/core advertises the directory as rt=core.rd;ct=40, apart from LwM2M\'s /rd; filtered by query', async () => {
    const all = await request({ method: 'GET', path: ['.well-known', 'core'] });
    assert.equal(all.code, '2.05');
    assert.equal(all.contentFormat, 40);
    assert.deepEqual(decodeLinks(all.payload), [{ target: '/rd-core', attributes: { rt: 'core.rd', ct: '40' } }]);
    const rd = await request({ method: 'GET', path: ['.well-known', 'core'], query: ['rt=core.rd'] });
    assert.equal(decodeLinks(rd.payload)[0]?.target, '/rd-core');
    const none = await request({ method: 'GET', path: ['.well-known', 'core'], query: ['rt=core.rd-lookup-ep'] });
    assert.equal(none.payload.length, 0);
    const post = await request({ method: 'POST', path: ['.well-known', 'core'] });
    assert.equal(post.code, '4.05');
  });

  test('registration: 2.01 with the registration resource; the device is online over transport coap, its objects known', async () => {
    const res = await register(known!.endpoint, ['lt=120']);
    assert.equal(res.code, '2.01');
    assert.equal(res.locationPath[0], 'rd-core');
    assert.equal(res.locationPath.length, 2);
    const record = gateway.repository.get(known!.endpoint)!;
    assert.equal(record.status, 'online');
    assert.equal(record.transport, 'coap');
    assert.equal(record.lifetime, 120);
    assert.equal(record.address, `127.0.0.1:${device.port}`);
    assert.deepEqual(record.objectLinks.map((l) => l.target), ['/3/0', '/4/0'], 'only the LwM2M object instances');
    const read = await api<{ code: string; content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${known!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(read.body.code, '2.05');
    assert.equal(read.body.content[0]?.value, 'ACME');
  });

  test('update refreshes the lifetime and may change lt; removal takes the device offline; an unknown registration is 4.04', async () => {
    const location = (await register(other!.endpoint, ['lt=60'])).locationPath;
    const updated = await request({ method: 'POST', path: location, query: ['lt=300'] });
    assert.equal(updated.code, '2.04');
    assert.equal(gateway.repository.get(other!.endpoint)!.lifetime, 300);
    const refused = await request({ method: 'POST', path: location, query: ['ep=other'] });
    assert.equal(refused.code, '4.00', 'ep cannot change in an update');
    const removed = await request({ method: 'DELETE', path: location });
    assert.equal(removed.code, '2.02');
    assert.equal(gateway.repository.get(other!.endpoint)!.status, 'offline');
    assert.equal((await request({ method: 'DELETE', path: location })).code, '4.04');
    assert.equal((await request({ method: 'POST', path: location })).code, '4.04', 'an update of a removed registration: register again');
    const unreachable = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/devices/${other!.endpoint}/read`, { path: '/3/0/0' });
    assert.equal(unreachable.status, 409);
  });

  test('a registration whose lifetime passes without an update expires: the device goes offline', async () => {
    const location = (await register(expiring!.endpoint, ['lt=1'])).locationPath;
    assert.equal(gateway.repository.get(expiring!.endpoint)!.status, 'online');
    await waitFor('expiry', () => gateway.repository.get(expiring!.endpoint)!.status === 'offline', 5000);
    assert.equal((await request({ method: 'POST', path: location })).code, '4.04');
  });

  test('base= names where the device serves: requests go there, not to the source address', async () => {
    const server = await CoapNode.bind({ host: '127.0.0.1', port: 0, log: testLog });
    server.fallback((req, res) => respond(res, '2.05', Buffer.from(`served at ${req.path.join('/')}`), [['Content-Format', encodeUint(0)]]));
    try {
      const res = await register(based!.endpoint, [`base=coap://127.0.0.1:${server.port}`]);
      assert.equal(res.code, '2.01');
      assert.equal(gateway.repository.get(based!.endpoint)!.address, `127.0.0.1:${server.port}`);
      const read = await api<{ content: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${based!.endpoint}/read`, { path: '/3/0/1' });
      assert.equal(read.body.content[0]?.value, 'served at 3/0/1');
    } finally {
      await server.close();
    }
  });

  test('admission and malformed registrations: unknown endpoint 4.03, bad parameters and payloads 4.00', async () => {
    assert.equal((await register('not-imported')).code, '4.03');
    assert.equal((await request({ method: 'POST', path: ['rd-core'], options: linkFormat, payload: LINKS })).code, '4.00', 'no ep');
    assert.equal((await register(known!.endpoint, ['lt=soon'])).code, '4.00');
    assert.equal((await register(known!.endpoint, ['base=coap://device.example'])).code, '4.00', 'base must be an IP literal');
    assert.equal((await register(known!.endpoint, [], Buffer.from('</3/0'))).code, '4.00', 'broken link format');
    const text = await request({ method: 'POST', path: ['rd-core'], query: [`ep=${known!.endpoint}`], options: [['Content-Format', encodeUint(0)]], payload: LINKS });
    assert.equal(text.code, '4.00');
    assert.equal((await request({ method: 'PUT', path: ['rd-core'] })).code, '4.05');
  });

  test('a duplicated registration datagram (same message id) registers once and gets the same answer', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    const answers: ParsedPacket[] = [];
    // Only the answers: the gateway also sends its first read of /3/0 to the new device.
    socket.on('message', (msg) => {
      const packet = parse(msg);
      if (packet.ack && packet.messageId === 777) answers.push(packet);
    });
    try {
      const datagram = generate({
        code: 'POST',
        confirmable: true,
        messageId: 777,
        token: Buffer.from('dupreg'),
        options: [
          { name: 'Uri-Path', value: Buffer.from('rd-core') },
          { name: 'Content-Format', value: encodeUint(40) },
          { name: 'Uri-Query', value: Buffer.from(`ep=${known!.endpoint}`) },
        ],
        payload: LINKS,
      });
      let registered = 0;
      const unsubscribe = gateway.events.subscribe((e) => {
        if (e.type === 'device.registered' && e.endpoint === known!.endpoint) registered++;
      });
      socket.send(datagram, gw.port, gw.address);
      socket.send(datagram, gw.port, gw.address);
      await waitFor('two answers', () => answers.length >= 2);
      await new Promise((resolve) => setTimeout(resolve, 100));
      unsubscribe();
      assert.equal(registered, 1);
      assert.equal(answers.length, 2);
      assert.deepEqual(answers[0], answers[1]);
    } finally {
      await new Promise<void>((resolve) => socket.close(() => resolve()));
    }
  });

  test('a malformed datagram on the CoAP port is dropped; the directory answers on', async () => {
    const socket = createSocket('udp4');
    socket.send(Buffer.from([0x4f, 0x02, 0x00, 0x01, 0xff, 0x00]), gw.port, gw.address);
    socket.send(Buffer.alloc(0), gw.port, gw.address);
    await new Promise((resolve) => setTimeout(resolve, 100));
    socket.close();
    assert.equal((await request({ method: 'GET', path: ['.well-known', 'core'] })).code, '2.05');
  });
});
