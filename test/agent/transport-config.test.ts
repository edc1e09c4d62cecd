import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { agentTransportOptions, loadAgentConfig } from '../../agent/config.js';
import { ConfigError } from '../../common/config.js';

describe('agent configuration: the transport', () => {
  const { publicKey } = generateKeyPairSync('ed25519');
  const der = new Uint8Array(publicKey.export({ format: 'der', type: 'spki' }));

  test('auto keeps the scheme rule; coap is asked for by name and needs no factory secret', () => {
    const mqtt = loadAgentConfig({ overrides: { endpoint: 'a', factorySecret: 's' } });
    assert.equal(agentTransportOptions(mqtt).transport, 'mqtt');
    const lwm2m = loadAgentConfig({ overrides: { endpoint: 'a', factorySecret: 's', bootstrapServerUri: 'coap://gw:5683' } });
    assert.equal(agentTransportOptions(lwm2m).transport, 'lwm2m');
    const coap = loadAgentConfig({ env: { EDGEDM_ENDPOINT: 'a', EDGEDM_TRANSPORT: 'coap', EDGEDM_BOOTSTRAP_SERVER_URI: 'coap://gw:5683', EDGEDM_COAP_LIFETIME_SECONDS: '120' } });
    assert.deepEqual(agentTransportOptions(coap), { transport: 'coap', coap: { lifetimeSeconds: 120 } });
  });

  test('the firmware trust anchor as PEM or base64 SPKI DER', () => {
    const base = { endpoint: 'a', transport: 'coap' as const, bootstrapServerUri: 'coap://gw' };
    const pem = loadAgentConfig({ overrides: { ...base, firmwareTrustAnchor: publicKey.export({ format: 'pem', type: 'spki' }).toString() } });
    assert.deepEqual(agentTransportOptions(pem).firmwareTrustAnchor, der);
    const b64 = loadAgentConfig({ overrides: { ...base, firmwareTrustAnchor: Buffer.from(der).toString('base64') } });
    assert.deepEqual(agentTransportOptions(b64).firmwareTrustAnchor, der);
  });

  test('refuses what does not fit together', () => {
    const refuse = (overrides: Parameters<typeof loadAgentConfig>[0], pattern: RegExp) => assert.throws(() => loadAgentConfig(overrides), (err: unknown) => err instanceof ConfigError && pattern.test(err.message));
    refuse({ overrides: { endpoint: 'a', factorySecret: 's', transport: 'http' as never } }, /"transport" must be one of auto, mqtt, lwm2m, coap/);
    refuse({ overrides: { endpoint: 'a', transport: 'coap' } }, /"transport" coap does not go with the server URI "mqtt:/);
    refuse({ overrides: { endpoint: 'a', factorySecret: 's', transport: 'mqtt', bootstrapServerUri: 'coap://gw' } }, /does not go with/);
    refuse({ overrides: { endpoint: 'a', bootstrapServerUri: 'coap://gw', transport: 'lwm2m' } }, /factory secret/);
    refuse({ overrides: { endpoint: 'a', transport: 'coap', bootstrapServerUri: 'coap://gw', firmwareTrustAnchor: 'not a key' } }, /"firmwareTrustAnchor" must be an Ed25519 public key/);
    refuse({ overrides: { endpoint: 'a', transport: 'coap', bootstrapServerUri: 'coap://gw', coap: { lifetimeSeconds: 5 } } }, /coap.lifetimeSeconds/);
  });
});
