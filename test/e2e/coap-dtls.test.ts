import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, test } from 'node:test';
import { generate, parse } from 'coap-packet';
import { agentTransportOptions, loadAgentConfig } from '../../agent/config.js';
import { ConfigError } from '../../common/config.js';
import { DtlsClient } from '../../common/dtls/index.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { GatewayEvent } from '../../gateway/events.js';
import { runCli } from '../support/cli.js';
import { startCoapAgents, type CoapAgent } from '../support/coap-agents.js';
import { api, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

type Packet = ReturnType<typeof parse>;

function rdRegister(messageId: number, endpoint: string): Buffer {
  return generate({
    code: '0.02',
    confirmable: true,
    messageId,
    token: Buffer.from([messageId & 0xff, 0xcd]),
    options: [
      { name: 'Uri-Path', value: Buffer.from('rd-core') },
      { name: 'Content-Format', value: Buffer.from([40]) },
      { name: 'Uri-Query', value: Buffer.from(`ep=${endpoint}`) },
      { name: 'Uri-Query', value: Buffer.from('lt=60') },
    ],
    payload: Buffer.from('</3/0>'),
  });
}

function answerTo(datagram: Buffer, resolve: (p: Packet) => void): (msg: Buffer) => void {
  const id = parse(datagram).messageId;
  return (msg) => {
    const packet = parse(msg);
    if (packet.ack && packet.messageId === id) resolve(packet);
  };
}

async function askPlain(url: string, datagram: Buffer): Promise<Packet> {
  const socket = createSocket('udp4');
  try {
    return await new Promise<Packet>((resolve, reject) => {
      setTimeout(() => reject(new Error('no CoAP answer')), 3000).unref();
      socket.on('message', answerTo(datagram, resolve));
      socket.send(datagram, Number(new URL(url).port), '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

async function askOverDtls(url: string, identity: string, key: Buffer, datagram: Buffer): Promise<Packet> {
  const port = Number(new URL(url).port);
  const client = await DtlsClient.create({ psk: { identity: Buffer.from(identity), key } });
  try {
    return await new Promise<Packet>((resolve, reject) => {
      setTimeout(() => reject(new Error('no CoAP answer over DTLS')), 3000).unref();
      client.on('message', answerTo(datagram, resolve));
      client.send(datagram, port, '127.0.0.1', (err) => err && reject(err));
    });
  } finally {
    await client.close();
  }
}

/** `edgedm devices psk <ep>`: what the operator runs, and the identity and key it shows once. */
async function provision(gateway: Gateway, endpoint: string, ...flags: string[]): Promise<{ identity: string; key: string }> {
  const r = await runCli(['devices', 'psk', endpoint, ...flags, '--api', gateway.apiUrl]);
  assert.equal(r.status, 0, r.stderr);
  const identity = /^identity (.+)$/m.exec(r.stdout)?.[1];
  const key = /^key +([0-9a-f]+)$/m.exec(r.stdout)?.[1];
  assert.ok(identity && key, r.stdout);
  return { identity, key };
}

describe('plain CoAP devices register with the Resource Directory over DTLS (coaps://) with the PSK the operator provisioned', () => {
  const dir = tempDir();
  const [secured, other] = testIdentities(2, 'rdsec') as [ReturnType<typeof testIdentities>[number], ReturnType<typeof testIdentities>[number]];
  let gateway: Gateway;
  let agents: CoapAgent[];
  let psk: { identity: string; key: string };
  const events: GatewayEvent[] = [];

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, {
      coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
      devices: { requestTimeoutMs: 5000, lifetimeSeconds: 300, resumeSessions: true },
    });
    gateway.events.subscribe((e) => events.push(e));
    gateway.devices.importFactoryIdentities([secured, other]);
    psk = await provision(gateway, secured.endpoint);
    // As `edgedm agent` builds it from its configuration (environment here): coap.pskIdentity / coap.pskKey.
    const config = loadAgentConfig({ env: { EDGEDM_ENDPOINT: secured.endpoint, EDGEDM_TRANSPORT: 'coap', EDGEDM_BOOTSTRAP_SERVER_URI: gateway.coapsUrl!, EDGEDM_COAP_PSK_IDENTITY: psk.identity, EDGEDM_COAP_PSK_KEY: psk.key } });
    const fromConfig = agentTransportOptions(config).coap;
    assert.ok(fromConfig.psk);
    agents = startCoapAgents([secured], `${dir.path}/devices`, { rdUri: config.bootstrapServerUri, coap: { psk: fromConfig.psk, lifetimeSeconds: 60 } });
    await agents[0]!.agent.whenRegistered(20_000);
  });
  after(async () => {
    await Promise.all((agents ?? []).map((a) => a.agent.stop()));
    await gateway?.close();
    dir.remove();
  });

  test('the agent discovers /rd-core over DTLS and registers in a session of its own identity', () => {
    const registration = gateway.coapDevices!.registration(secured.endpoint);
    assert.ok(registration);
    assert.equal(registration.source, 'directory');
    assert.deepEqual(registration.channel, { scheme: 'coaps', pskIdentity: secured.endpoint });
    assert.equal(gateway.repository.get(secured.endpoint)?.transport, 'coap');
    assert.equal(gateway.repository.get(secured.endpoint)?.status, 'online');
    assert.ok(gateway.coapsEndpoint!.stats.handshakesCompleted >= 1);
  });

  test("the gateway's requests go through that session: read, write, observe with notifications", async () => {
    const ep = secured.endpoint;
    const dtlsIn = gateway.coapsEndpoint!.stats.recordsIn;
    const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    assert.equal(read.body.content.find((r) => r.path === '/3/0/2')?.value, secured.serialNumber);
    const write = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/14', value: '+01:00', type: 'string' });
    assert.equal(write.body.code, '2.04', JSON.stringify(write.body));
    const observed = await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/observe`, { path: '/3/0/14' });
    assert.equal(observed.body.code, '2.05', JSON.stringify(observed.body));
    const before = events.length;
    await api(gateway, 'POST', `/api/v1/devices/${ep}/write`, { path: '/3/0/14', value: '+03:00', type: 'string' });
    await waitFor('a notification over DTLS', () => events.slice(before).some((e) => e.type === 'device.notification' && e.endpoint === ep && e.content.some((r) => r.value === '+03:00')));
    assert.ok(gateway.coapsEndpoint!.stats.recordsIn > dtlsIn, 'the answers came in over DTLS');
  });

  test('a device with a PSK may not register over plain CoAP (4.03); another identity may not register it over DTLS (4.03)', async () => {
    const plain = await askPlain(gateway.coapUrl!, rdRegister(0x6101, secured.endpoint));
    assert.equal(plain.code, '4.03');
    assert.match(plain.payload.toString(), /must register over DTLS/);
    const otherPsk = await provision(gateway, other.endpoint);
    const impostor = await askOverDtls(gateway.coapsUrl!, otherPsk.identity, Buffer.from(otherPsk.key, 'hex'), rdRegister(0x6102, secured.endpoint));
    assert.equal(impostor.code, '4.03');
    assert.deepEqual(gateway.coapDevices!.registration(secured.endpoint)?.channel, { scheme: 'coaps', pskIdentity: secured.endpoint }, 'untouched');
  });

  test('a rotated key ends the registration; the old key no longer completes a handshake', async () => {
    const failedBefore = gateway.coapsEndpoint!.stats.handshakesFailed;
    await provision(gateway, secured.endpoint, '--rotate');
    await waitFor('the registration ended', () => gateway.coapDevices!.registration(secured.endpoint) === undefined);
    // The agent learns of it (close_notify), and its new handshakes with the old key fail.
    await waitFor('a refused handshake', () => gateway.coapsEndpoint!.stats.handshakesFailed > failedBefore, 10_000);
    assert.notEqual(gateway.repository.get(secured.endpoint)?.status, 'online');
  });

  test('agent configuration: coap.pskIdentity and coap.pskKey go together, the key is hex, and errors do not quote it', () => {
    const env = { EDGEDM_ENDPOINT: 'x-1', EDGEDM_TRANSPORT: 'coap', EDGEDM_BOOTSTRAP_SERVER_URI: 'coaps://127.0.0.1:5684' };
    assert.throws(() => loadAgentConfig({ env }), (err: unknown) => err instanceof ConfigError && /needs the PSK/.test(err.message));
    assert.throws(() => loadAgentConfig({ env: { ...env, EDGEDM_COAP_PSK_KEY: '00112233445566778899aabbccddeeff' } }), /go together/);
    const secret = 'not-hex-secret-value';
    assert.throws(
      () => loadAgentConfig({ env: { ...env, EDGEDM_COAP_PSK_IDENTITY: 'x-1', EDGEDM_COAP_PSK_KEY: secret } }),
      (err: unknown) => err instanceof ConfigError && !err.message.includes(secret),
    );
  });
});
