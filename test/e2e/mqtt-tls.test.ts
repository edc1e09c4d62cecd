import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect as tlsConnect } from 'node:tls';
import { after, before, describe, test } from 'node:test';
import { connect } from 'mqtt';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { runProcess } from '../support/process.js';

interface OperationView {
  code: string;
  content?: { path: string; value: unknown }[];
}

const hasMosquittoSub = spawnSync('mosquitto_sub', ['--help'], { encoding: 'utf8' }).error === undefined;

/**
 * DM over MQTT with TLS (Y.4702 8.4): the broker's second listener, its certificate issued by the
 * gateway's local CA, and devices told at bootstrap to use it.
 */
describe('MQTT over TLS', () => {
  const dir = tempDir();
  const identities = testIdentities(2, 'tls');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  let ca: string;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gateway`, { mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: 0, tls: { enabled: true, port: 0, certFile: null, keyFile: null } } });
    ca = readFileSync(gateway.localCaFile!, 'utf8');
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttsUrl!,
      tlsCa: ca,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
      log: testLog,
    });
    await fleet.whenAllRegistered(30_000);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('devices bootstrap and register over TLS, are told to stay on mqtts://, and are managed as usual', async () => {
    assert.match(gateway.mqttsUrl!, /^mqtts:\/\/127\.0\.0\.1:\d+$/);
    for (const { endpoint } of identities) {
      const account = fleet.agent(endpoint)!.objects!.security.dmServerAccount()!;
      assert.equal(account.serverUri, gateway.mqttsUrl, 'the bootstrap grant names the TLS listener');
      const read = await api<OperationView>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path: '/3/0/2' });
      assert.equal(read.body.code, '2.05');
    }
  });

  test('the broker presents a certificate chain to the local CA, for the names devices use', async () => {
    const port = Number(new URL(gateway.mqttsUrl!).port);
    const socket = tlsConnect({ host: '127.0.0.1', port, ca });
    await new Promise<void>((resolve, reject) => {
      socket.once('secureConnect', resolve);
      socket.once('error', reject);
    });
    assert.equal(socket.authorized, true);
    assert.match(socket.getProtocol() ?? '', /^TLSv1\.[23]$/);
    socket.destroy();
    // Without the CA the certificate is not trusted: a client checking it refuses.
    await assert.rejects(
      new Promise((resolve, reject) => {
        const untrusting = tlsConnect({ host: '127.0.0.1', port });
        untrusting.once('secureConnect', resolve);
        untrusting.once('error', reject);
      }),
      /self[- ]signed|unable to (get|verify)/i,
    );
  });

  test('a device that does not trust the CA never sends its secret: the TLS handshake fails first', async () => {
    const client = connect(gateway.mqttsUrl!, { clientId: identities[0]!.endpoint, username: identities[0]!.endpoint, password: identities[0]!.secret, reconnectPeriod: 0, connectTimeout: 5000 });
    const err = await new Promise<Error>((resolve) => client.once('error', resolve));
    client.end(true);
    assert.match(err.message, /self[- ]signed|unable to (get|verify)/i);
  });

  test('mosquitto_sub (libmosquitto, OpenSSL) connects over TLS with the CA and is refused on wrong credentials, not on TLS', { skip: !hasMosquittoSub && 'mosquitto-clients not installed (.ci/run installs it)' }, async () => {
    const port = new URL(gateway.mqttsUrl!).port;
    const caFile = gateway.localCaFile!;
    const wrong = await runProcess('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '--cafile', caFile, '-i', 'nobody', '-u', 'nobody', '-P', 'wrong-password-value', '-t', 'x', '-C', '1', '-W', '3'], { timeoutMs: 10_000 });
    assert.notEqual(wrong.status, 0);
    assert.match(wrong.stderr, /not authori[sz]ed|bad user name or password|refused/i);
    const untrusted = await runProcess('mosquitto_sub', ['-h', '127.0.0.1', '-p', port, '--capath', '/etc/ssl/certs', '-i', 'nobody', '-u', 'nobody', '-P', 'x', '-t', 'x', '-C', '1', '-W', '3'], { timeoutMs: 10_000 });
    assert.notEqual(untrusted.status, 0);
    assert.doesNotMatch(untrusted.stderr, /not authori[sz]ed/i, 'the TLS handshake failed before any credential was checked');
  });

  test('the plain listener is still there (for devices without TLS), and plain MQTT to the TLS port gets nowhere', async () => {
    const port = Number(new URL(gateway.mqttsUrl!).port);
    const client = connect(`mqtt://127.0.0.1:${port}`, { clientId: 'x', reconnectPeriod: 0, connectTimeout: 2000 });
    const outcome = await new Promise<string>((resolve) => {
      client.once('connect', () => resolve('connected'));
      client.once('error', (e) => resolve(`error ${e.message}`));
      client.once('close', () => resolve('closed'));
    });
    client.end(true);
    assert.notEqual(outcome, 'connected');
    assert.ok(gateway.mqttPort > 0);
  });
});
