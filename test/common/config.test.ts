import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_AGENT_CONFIG, loadAgentConfig } from '../../agent/config.js';
import { ConfigError } from '../../common/config.js';
import { DEFAULT_GATEWAY_CONFIG, loadGatewayConfig } from '../../gateway/config.js';
import { tempDir } from '../support/harness.js';

describe('gateway configuration', () => {
  const dir = tempDir();
  after(() => dir.remove());

  test('defaults: loopback broker on 1883, API on 8080, data in ./data', () => {
    const c = loadGatewayConfig();
    assert.deepEqual(c, DEFAULT_GATEWAY_CONFIG);
    assert.equal(c.mqtt.host, '127.0.0.1');
    assert.equal(c.mqtt.port, 1883);
    assert.equal(c.api.port, 8080);
    assert.equal(c.dataDir, './data');
  });

  test('file < environment < flags, for YAML and JSON files', () => {
    const yaml = join(dir.path, 'gateway.yaml');
    writeFileSync(yaml, 'mqtt:\n  port: 2883\n  host: 0.0.0.0\napi:\n  port: 9090\nlogLevel: debug\nbootstrap:\n  serverUri: mqtt://gw.example:2883\n');
    const c = loadGatewayConfig({ file: yaml, env: { EDGEDM_API_PORT: '9191' }, overrides: { logLevel: 'warn' } });
    assert.equal(c.mqtt.port, 2883);
    assert.equal(c.mqtt.host, '0.0.0.0');
    assert.equal(c.api.port, 9191);
    assert.equal(c.logLevel, 'warn');
    assert.equal(c.bootstrap.serverUri, 'mqtt://gw.example:2883');
    assert.equal(c.mqtt.maxMessageBytes, DEFAULT_GATEWAY_CONFIG.mqtt.maxMessageBytes, 'unset keys keep their default');
    const json = join(dir.path, 'gateway.json');
    writeFileSync(json, JSON.stringify({ devices: { requestTimeoutMs: 2500 } }));
    assert.equal(loadGatewayConfig({ file: json }).devices.requestTimeoutMs, 2500);
  });

  test('mistakes fail at start-up, naming the key', () => {
    const file = join(dir.path, 'typo.yaml');
    writeFileSync(file, 'mqtt:\n  prot: 1\n');
    assert.throws(() => loadGatewayConfig({ file }), (e: Error) => e instanceof ConfigError && /unknown setting "mqtt.prot"/.test(e.message));
    writeFileSync(file, 'mqtt:\n  port: "1883x"\n');
    assert.throws(() => loadGatewayConfig({ file }), /"mqtt.port" must be a number/);
    assert.throws(() => loadGatewayConfig({ env: { EDGEDM_MQTT_PORT: 'abc' } }), /EDGEDM_MQTT_PORT must be a whole number/);
    assert.throws(() => loadGatewayConfig({ overrides: { api: { port: 70000 } } }), /"api.port" must be a port number/);
    assert.throws(() => loadGatewayConfig({ overrides: { logLevel: 'loud' } }), /"logLevel" must be one of/);
    assert.throws(() => loadGatewayConfig({ file: join(dir.path, 'missing.yaml') }), /cannot read the configuration file .*ENOENT/);
    writeFileSync(file, 'mqtt: [1, 2\n');
    assert.throws(() => loadGatewayConfig({ file }), /not valid YAML or JSON/);
  });
});

describe('agent configuration', () => {
  test('needs an endpoint and a factory secret, and takes them from the environment', () => {
    assert.throws(() => loadAgentConfig(), /needs an endpoint name/);
    assert.throws(() => loadAgentConfig({ env: { EDGEDM_ENDPOINT: 'dev-1' } }), /needs its factory secret/);
    const c = loadAgentConfig({ env: { EDGEDM_ENDPOINT: 'dev-1', EDGEDM_FACTORY_SECRET: 's3cret-0123456789', EDGEDM_KEEPALIVE_SECONDS: '15' } });
    assert.equal(c.endpoint, 'dev-1');
    assert.equal(c.keepaliveSeconds, 15);
    assert.equal(c.bootstrapServerUri, DEFAULT_AGENT_CONFIG.bootstrapServerUri);
  });

  test('rejects bad values', () => {
    const base = { endpoint: 'dev-1', factorySecret: 'x'.repeat(20) };
    assert.throws(() => loadAgentConfig({ overrides: { ...base, endpoint: 'bad name' } }), /not a valid endpoint name/);
    assert.throws(() => loadAgentConfig({ overrides: { ...base, bootstrapServerUri: 'http://x' } }), /mqtt:\/\//);
    assert.throws(() => loadAgentConfig({ overrides: { ...base, host: 'windows' as never } }), /"host" must be one of/);
    assert.throws(() => loadAgentConfig({ overrides: { ...base, reconnect: { minDelayMs: 10, maxDelayMs: 5 } } }), /maxDelayMs/);
  });
});
