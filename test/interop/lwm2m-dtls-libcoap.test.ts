import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import { Gateway } from '../../gateway/gateway.js';
import { deriveBootstrapPsk } from '../../protocol/bootstrap-psk.js';
import { adminToken, api, capturingLogger, gatewayConfig, startGateway, tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

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

/**
 * A factory secret whose bootstrap key libcoap 4.3.1 can be given: its `-k` takes the key as a
 * C string (it has no hex form), so the key must hold no NUL byte, and the shell
 * that passes it (`$(printf …)`) drops a trailing newline. About 94 % of keys qualify; devices
 * and LwM2M clients that take the key in hex (Anjay, Wakaama, Leshan) need none of this.
 */
function libcoapFriendlySecret(prefix: string): { secret: string; key: Buffer } {
  for (let i = 0; ; i++) {
    const secret = `${prefix}-factory-secret-${i}`;
    const key = deriveBootstrapPsk(secret);
    if (!key.includes(0) && key.at(-1) !== 0x0a) return { secret, key };
  }
}

/** coap-client with a binary PSK: through sh, whose printf writes the key's bytes into the argument. */
function runWithBinaryKey(bin: string, key: Buffer, args: string[]): ReturnType<typeof run> {
  const octal = [...key].map((b) => `\\${b.toString(8).padStart(3, '0')}`).join('');
  const quoted = args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  return run('sh', ['-c', `exec ${bin} -k "$(printf '${octal}')" ${quoted}`]);
}

describe('libcoap DTLS clients bootstrap over coaps:// with the key derived from the factory secret', () => {
  const dir = tempDir();
  const logs = capturingLogger('debug');
  let gateway: Gateway;

  before(async () => {
    gateway = await Gateway.start(
      gatewayConfig(`${dir.path}/gw`, {
        logLevel: 'debug',
        coap: { enabled: true, host: '127.0.0.1', port: 0, resourceDirectory: true, dtls: { enabled: true, port: 0 } },
        lwm2m: { ...DEFAULT_GATEWAY_CONFIG.lwm2m, security: 'psk' },
        monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, observe: false },
      }),
      logs.log,
    );
    adminToken(gateway);
  });
  after(async () => {
    await gateway?.close();
    dir.remove();
  });

  for (const bin of CLIENTS) {
    const endpoint = `libcoap-bs-${bin.split('-').at(-1)}`;
    const { secret, key } = libcoapFriendlySecret(endpoint);
    describe(bin, { skip: missing(bin) }, () => {
      before(() => gateway.devices.importFactoryIdentities([{ endpoint, secret, tags: [], groups: [] }]));

      test('POST /bs?ep=… over DTLS (identity = endpoint) is answered 2.04, and the bootstrap sequence starts through that session', async () => {
        const r = await runWithBinaryKey(bin, key, ['-m', 'post', '-v', '6', '-u', endpoint, '-B', '10', `${gateway.coapsBootstrapUrl}/bs?ep=${endpoint}`]);
        assert.match(r.stdout + r.stderr, /2\.04/, r.stdout + r.stderr);
        // The grant is made for the writes: a DM server PSK account (lwm2m.security: psk). coap-client
        // exits once answered, so the writes that follow find no one (our agent's e2e test runs the whole sequence).
        await waitFor('the bootstrap grant', () => logs.entries().some((e) => e.endpoint === endpoint && e.msg === 'bootstrapped a DTLS pre-shared key account'));
        assert.ok(gateway.psks.get(endpoint), 'its DM server PSK was made for the Security object write');
      });

      test('a key derived from another secret fails the handshake', async () => {
        const failedBefore = gateway.coapsBootstrapEndpoint!.stats.handshakesFailed;
        const r = await runWithBinaryKey(bin, Buffer.from(deriveBootstrapPsk(`${secret}-wrong`).map((b) => b || 1)), ['-m', 'post', '-v', '6', '-u', endpoint, '-B', '4', `${gateway.coapsBootstrapUrl}/bs?ep=${endpoint}`]);
        assert.doesNotMatch(r.stdout, /2\.04/);
        assert.ok(gateway.coapsBootstrapEndpoint!.stats.handshakesFailed > failedBefore);
      });

      test('plain /bs is refused 4.03 for it', async () => {
        const r = await run(bin, ['-m', 'post', '-v', '6', '-B', '4', `${gateway.coapUrl}/bs?ep=${endpoint}`]);
        assert.match(r.stdout + r.stderr, /4\.03/, r.stdout + r.stderr);
      });
    });
  }
});
