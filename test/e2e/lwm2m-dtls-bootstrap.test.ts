import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { generate, parse } from 'coap-packet';
import { DtlsClient, DtlsError } from '../../common/dtls/index.js';
import { deriveBootstrapPsk } from '../../protocol/bootstrap-psk.js';
import { SecurityResource } from '../../protocol/model/objects/index.js';
import { Gateway } from '../../gateway/gateway.js';
import { SEALING_KEY_FILE } from '../../gateway/security/sealing-key.js';
import { hashSecret } from '../../gateway/security/secrets.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { adminToken, api, capturingLogger, gatewayConfig, tempDir, testIdentities } from '../support/harness.js';

type Packet = ReturnType<typeof parse>;

/** `POST /bs?ep=…` as one Confirmable datagram. */
function bootstrapRequest(messageId: number, endpoint: string): Buffer {
  return generate({
    code: '0.02',
    confirmable: true,
    messageId,
    token: Buffer.from([messageId & 0xff, 0xb5]),
    options: [
      { name: 'Uri-Path', value: Buffer.from('bs') },
      { name: 'Uri-Query', value: Buffer.from(`ep=${endpoint}`) },
    ],
  });
}

/** One exchange over DTLS with the bootstrap endpoint: the answer to our request (the server's own requests that follow are ignored). */
async function askOverDtls(url: string, identity: string, key: Buffer, datagram: Buffer): Promise<Packet> {
  const port = Number(new URL(url).port);
  const client = await DtlsClient.create({ psk: { identity: Buffer.from(identity), key }, retransmit: { initialMs: 200, maxMs: 400, maxRetransmissions: 2 } });
  try {
    await client.connect(port, '127.0.0.1');
    return await new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CoAP answer over DTLS')), 3000);
      client.on('message', (msg: Buffer) => {
        const packet = parse(msg);
        if (packet.ack && packet.messageId === parse(datagram).messageId) {
          clearTimeout(timer);
          resolve(packet);
        }
      });
      client.send(datagram, port, '127.0.0.1');
    });
  } finally {
    await client.close();
  }
}

async function askPlain(url: string, datagram: Buffer): Promise<Packet> {
  const socket = createSocket('udp4');
  try {
    return await new Promise<Packet>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no CoAP answer')), 3000);
      socket.on('message', (msg) => {
        const packet = parse(msg);
        if (!packet.ack) return;
        clearTimeout(timer);
        resolve(packet);
      });
      socket.send(datagram, Number(new URL(url).port), '127.0.0.1');
    });
  } finally {
    socket.close();
  }
}

function filesUnder(dir: string): { file: string; bytes: Buffer }[] {
  return readdirSync(dir).flatMap((name) => {
    const file = join(dir, name);
    return statSync(file).isDirectory() ? filesUnder(file) : [{ file, bytes: readFileSync(file) }];
  });
}

describe('LwM2M bootstrap over DTLS with a PSK derived from the factory secret', () => {
  const dir = tempDir();
  const identities = testIdentities(3, 'bsdtls');
  const [a, b, legacy] = identities as [(typeof identities)[number], (typeof identities)[number], (typeof identities)[number]];
  const logs = capturingLogger('debug');
  const fleetLogs = capturingLogger('debug');
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await Gateway.start(
      gatewayConfig(`${dir.path}/gw`, {
        logLevel: 'debug',
        coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
        // bootstrapSecurity unset: as `security`, so DTLS bootstrap is required.
        lwm2m: { enabled: true, serverUri: null, queueAwakeMs: 93_000, security: 'psk', secureServerUri: null },
      }),
      logs.log,
    );
    adminToken(gateway);
    gateway.devices.importFactoryIdentities([a, b]);
    // A device imported before factory secrets were kept: a hash only.
    gateway.repository.importFactoryIdentities([{ endpoint: legacy.endpoint, factorySecretHash: hashSecret(legacy.secret), tags: [], groups: [] }], Date.now());
    fleet = SimulatedFleet.start({
      identities: [a, b],
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

  test('the agents bootstrap over DTLS (identity = endpoint), then register over DTLS with the PSK they were given, and are managed', async () => {
    assert.match(gateway.coapsBootstrapUrl!, /^coaps:\/\/127\.0\.0\.1:\d+$/);
    assert.notEqual(gateway.coapsBootstrapUrl, gateway.coapsUrl, 'a port of its own');
    assert.ok(gateway.coapsBootstrapEndpoint!.stats.handshakesCompleted >= 2);
    for (const id of [a, b]) {
      assert.deepEqual(gateway.lwm2m!.registration(id.endpoint)?.channel, { scheme: 'coaps', pskIdentity: id.endpoint });
      // The agent's bootstrap account: coaps URI, PSK mode, the endpoint as identity, the derived key.
      const account = fleet.agent(id.endpoint)!.objects!.security.instancesOf().find((i) => i.get(SecurityResource.BOOTSTRAP_SERVER) === true)!;
      assert.equal(account.get(SecurityResource.LWM2M_SERVER_URI), gateway.coapsBootstrapUrl);
      assert.ok(Buffer.from(account.get(SecurityResource.SECRET_KEY) as Uint8Array).equals(deriveBootstrapPsk(id.secret)));
      const view = await api<{ hasBootstrapPsk: boolean }>(gateway, 'GET', `/api/v1/devices/${id.endpoint}`);
      assert.equal(view.body.hasBootstrapPsk, true);
    }
    assert.ok(logs.entries().some((e) => e.msg === 'LwM2M bootstrap finished' && e.endpoint === a.endpoint));
    assert.ok(fleetLogs.entries().some((e) => e.msg === 'client-initiated bootstrap' && e.secure === true));
    const read = await api<{ code: string; content: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${a.endpoint}/read`, { path: '/3/0' });
    assert.equal(read.body.code, '2.05', JSON.stringify(read.body));
    assert.equal(read.body.content.find((r) => r.path === '/3/0/2')?.value, a.serialNumber);
  });

  test('a key derived from a wrong factory secret fails the handshake; so does an unknown identity', async () => {
    const port = Number(new URL(gateway.coapsBootstrapUrl!).port);
    const failedBefore = gateway.coapsBootstrapEndpoint!.stats.handshakesFailed;
    for (const [identity, key] of [
      [a.endpoint, deriveBootstrapPsk('not-the-factory-secret-of-a')],
      ['nobody-here', deriveBootstrapPsk(a.secret)],
      // The factory secret itself is not the key.
      [a.endpoint, Buffer.from(a.secret)],
    ] as const) {
      const client = await DtlsClient.create({ psk: { identity: Buffer.from(identity), key }, retransmit: { initialMs: 200, maxMs: 400, maxRetransmissions: 1 } });
      try {
        await assert.rejects(client.connect(port, '127.0.0.1'), (err: unknown) => err instanceof DtlsError);
      } finally {
        await client.close();
      }
    }
    assert.ok(gateway.coapsBootstrapEndpoint!.stats.handshakesFailed > failedBefore);
  });

  test("a session authenticated as B cannot bootstrap A (4.03)", async () => {
    const answer = await askOverDtls(gateway.coapsBootstrapUrl!, b.endpoint, deriveBootstrapPsk(b.secret), bootstrapRequest(0x5101, a.endpoint));
    assert.equal(answer.code, '4.03');
    assert.match(answer.payload.toString(), /not authenticated as this endpoint/);
  });

  test('plain /bs is refused 4.03 for a device with a bootstrap PSK; a device imported before (hash only) still bootstraps over plain CoAP', async () => {
    const refused = await askPlain(gateway.coapUrl!, bootstrapRequest(0x5201, a.endpoint));
    assert.equal(refused.code, '4.03');
    assert.match(refused.payload.toString(), /must bootstrap over DTLS/);
    const served = await askPlain(gateway.coapUrl!, bootstrapRequest(0x5202, legacy.endpoint));
    assert.equal(served.code, '2.04');
    const view = await api<{ hasBootstrapPsk: boolean }>(gateway, 'GET', `/api/v1/devices/${legacy.endpoint}`);
    assert.equal(view.body.hasBootstrapPsk, false);
    // It has no bootstrap key: its identity is unknown to the DTLS bootstrap server.
    assert.equal(gateway.bootstrapPsks.keyOf(legacy.endpoint), undefined);
    assert.equal(gateway.bootstrapPsks.reportLegacy(), 1);
    assert.ok(logs.entries().some((e) => e.level === 40 && e.devices === 1 && String(e.msg).includes('re-import their factory CSV')));
  });

  test('re-importing a device keeps its new secret sealed and ends its bootstrap sessions under the old one; decommissioning drops it', async () => {
    // A DTLS session under B's current bootstrap key; B's factory secret is then replaced.
    const client = await DtlsClient.create({ psk: { identity: Buffer.from(b.endpoint), key: deriveBootstrapPsk(b.secret) } });
    try {
      await client.connect(Number(new URL(gateway.coapsBootstrapUrl!).port), '127.0.0.1');
      const closed = new Promise<void>((resolve) => client.once('sessionClosed', () => resolve()));
      gateway.devices.importFactoryIdentities([{ ...b, secret: `${b.secret}-v2` }]);
      await closed;
    } finally {
      await client.close();
    }
    assert.ok(gateway.bootstrapPsks.keyOf(b.endpoint)!.equals(deriveBootstrapPsk(`${b.secret}-v2`)));
    gateway.devices.importFactoryIdentities([{ ...legacy, secret: `${legacy.secret}-v2` }]);
    assert.ok(gateway.bootstrapPsks.keyOf(legacy.endpoint)!.equals(deriveBootstrapPsk(`${legacy.secret}-v2`)));
    const view = await api<{ hasBootstrapPsk: boolean }>(gateway, 'GET', `/api/v1/devices/${legacy.endpoint}`);
    assert.equal(view.body.hasBootstrapPsk, true);
    gateway.devices.decommission(legacy.endpoint);
    assert.equal(gateway.bootstrapPsks.keyOf(legacy.endpoint), undefined);
  });

  test('factory secrets are not in clear at rest (database, WAL, every file of the data directory)', () => {
    const files = filesUnder(`${dir.path}/gw`).filter((f) => !f.file.endsWith(SEALING_KEY_FILE));
    assert.ok(files.some((f) => f.file.endsWith('edgedm.db')));
    for (const secret of [a.secret, b.secret, `${b.secret}-v2`, `${legacy.secret}-v2`]) {
      const derived = deriveBootstrapPsk(secret);
      for (const { file, bytes } of files) {
        for (const form of [Buffer.from(secret), Buffer.from(Buffer.from(secret).toString('hex')), Buffer.from(Buffer.from(secret).toString('base64')), derived, Buffer.from(derived.toString('hex'))]) {
          assert.equal(bytes.indexOf(form), -1, `a factory secret or bootstrap key in ${file}`);
        }
      }
    }
  });

  test('no factory secret or bootstrap key in the logs', () => {
    const text = logs.lines.join('') + fleetLogs.lines.join('');
    for (const secret of [a.secret, b.secret]) {
      const derived = deriveBootstrapPsk(secret);
      for (const form of [secret, derived.toString('hex'), derived.toString('base64'), derived.toString('latin1')]) assert.ok(!text.includes(form), 'a secret in the logs');
    }
  });
});
