import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import { api, startGateway, tempDir } from '../support/harness.js';

/**
 * A third-party DTLS client, unmodified: libcoap's coap-client (OpenSSL and GnuTLS builds)
 * registers with the gateway's coaps:// LwM2M server using a PSK the operator provisioned
 * through the API, the way a device configured by hand would.
 */
const CLIENTS = ['coap-client-openssl', 'coap-client-gnutls'];
const missing = (bin: string) => ((spawnSync(bin, ['-?'], { stdio: 'ignore' }).error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT' ? `${bin} not installed (apt-get install libcoap3-bin)` : false);

function run(bin: string, args: string[], timeoutMs = 20_000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

describe('libcoap DTLS clients register with the gateway over coaps:// with a provisioned PSK', () => {
  const dir = tempDir();
  let gateway: Gateway;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`, {
      coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
      // No monitoring observations: libcoap's client exits after its one request.
      monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, observe: false },
    });
  });
  after(async () => {
    await gateway?.close();
    dir.remove();
  });

  for (const bin of CLIENTS) {
    const endpoint = `libcoap-${bin.split('-').at(-1)}`;
    const key = `${endpoint}-key-0123`;
    describe(bin, { skip: missing(bin) }, () => {
      test('provisioned through the API (identity and key of our choosing)', async () => {
        gateway.devices.importFactoryIdentities([{ endpoint, secret: 'factory-secret-0123456789', tags: [], groups: [] }]);
        const issued = await api<{ identity: string; key: string }>(gateway, 'POST', `/api/v1/devices/${endpoint}/psk`, { identity: endpoint, key: Buffer.from(key).toString('hex') });
        assert.equal(issued.status, 201, JSON.stringify(issued.body));
        assert.equal(issued.body.identity, endpoint);
      });

      test('POST /rd?ep=…&lt=60 over DTLS is answered 2.01 with a Location, and the device is registered over coaps', async () => {
        const r = await run(bin, ['-m', 'post', '-v', '6', '-u', endpoint, '-k', key, '-B', '10', '-e', '</1/0>,</3/0>', `${gateway.coapsUrl}/rd?ep=${endpoint}&lt=60&lwm2m=1.1`]);
        assert.match(r.stdout + r.stderr, /2\.01/, r.stdout + r.stderr);
        const registration = gateway.lwm2m!.registration(endpoint);
        assert.ok(registration, 'registered');
        assert.deepEqual(registration.channel, { scheme: 'coaps', pskIdentity: endpoint });
        assert.match(r.stdout + r.stderr, new RegExp(`Location-Path:rd, Location-Path:${registration.id}`));
      });

      test('with a wrong key the handshake fails and nothing registers', async () => {
        gateway.lwm2m!.disconnect(endpoint, 'test');
        const failedBefore = gateway.coapsEndpoint!.stats.handshakesFailed;
        const r = await run(bin, ['-m', 'post', '-v', '6', '-u', endpoint, '-k', 'not-the-key-at-all', '-B', '4', '-e', '</1/0>', `${gateway.coapsUrl}/rd?ep=${endpoint}&lt=60`]);
        assert.doesNotMatch(r.stdout, /2\.01/);
        assert.equal(gateway.lwm2m!.registration(endpoint), undefined);
        assert.ok(gateway.coapsEndpoint!.stats.handshakesFailed > failedBefore);
      });

      test("another device's identity cannot register this endpoint (4.03)", async () => {
        const other = `${endpoint}-other`;
        gateway.devices.importFactoryIdentities([{ endpoint: other, secret: 'factory-secret-0123456789', tags: [], groups: [] }]);
        const otherKey = `${other}-key`;
        await api(gateway, 'POST', `/api/v1/devices/${other}/psk`, { key: Buffer.from(otherKey).toString('hex') });
        const r = await run(bin, ['-m', 'post', '-v', '6', '-u', other, '-k', otherKey, '-B', '10', '-e', '</1/0>', `${gateway.coapsUrl}/rd?ep=${endpoint}&lt=60`]);
        assert.match(r.stdout + r.stderr, /4\.03/, r.stdout + r.stderr);
        assert.equal(gateway.lwm2m!.registration(endpoint), undefined);
      });
    });
  }
});
