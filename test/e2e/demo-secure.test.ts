import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runCli } from '../support/cli.js';
import { CliProcess } from '../support/cli-process.js';
import { tempDir } from '../support/harness.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

interface DeviceRow {
  endpoint: string;
  status: string;
  transport: string | null;
}

/**
 * `edgedm demo --secure`, driven through the CLI: MQTT devices over TLS, LwM2M devices
 * bootstrapping and registering over DTLS, plain CoAP devices registering over DTLS, all managed
 * alike. The secure listeners take free ports here (their defaults, 8883/5684/5784, may be taken).
 */
describe('edgedm demo --secure: every transport secured', () => {
  const dir = tempDir();
  const configDir = `${dir.path}/config`;
  let demo: CliProcess;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    const [mqttPort, apiPort, coapPort] = [await freePort(), await freePort(), await freePort()];
    demo = CliProcess.start(
      'edgedm demo --secure',
      ['demo', '--secure', '--data', `${dir.path}/demo`, '--mqtt-port', `${mqttPort}`, '--api-port', `${apiPort}`, '--coap-port', `${coapPort}`, '--count', '6'],
      { EDGEDM_CONFIG_DIR: configDir, EDGEDM_MQTT_TLS_PORT: '0', EDGEDM_COAP_DTLS_PORT: '0' },
    );
    await demo.waitForOutput(/demo: gateway with 6\/6 simulated devices online/, 90_000);
    cli = (...args) => runCli(['--api', `http://127.0.0.1:${apiPort}`, ...args], { EDGEDM_CONFIG_DIR: configDir });
  });

  after(async () => {
    await demo?.kill('SIGTERM');
    dir.remove();
  });

  test('the banner names the secure listeners', () => {
    assert.match(demo.log, /over TLS mqtts:\/\/127\.0\.0\.1:\d+ \(CA \S+ca\.pem\)/);
    assert.match(demo.log, /CoAP\/DTLS\s+coaps:\/\/127\.0\.0\.1:\d+/);
    assert.match(demo.log, /LwM2M BS\s+coaps:\/\/127\.0\.0\.1:\d+/);
  });

  test('every device is online and answers a read; LwM2M and CoAP devices hold a PSK (a plain registration would be refused)', async () => {
    const rows = await waitFor('all online', async () => {
      const r = await cli('devices', '--json');
      const items = (JSON.parse(r.stdout) as { items: DeviceRow[] }).items;
      return items.length === 6 && items.every((d) => d.status === 'online') ? items : undefined;
    }, 30_000);
    for (const row of rows) {
      const read = await cli('read', row.endpoint, '/3/0/0');
      assert.equal(read.status, 0, `${row.endpoint} (${row.transport}): ${read.stderr}`);
      assert.match(read.stdout, /edgedm simulated devices/);
      if (row.transport === 'mqtt') continue;
      const psk = await cli('devices', 'psk', row.endpoint, '--show', '--json');
      assert.equal(psk.status, 0, `${row.endpoint}: ${psk.stderr}`);
      assert.match(psk.stdout, new RegExp(`"identity":\\s*"${row.endpoint}"`));
      assert.doesNotMatch(psk.stdout, /"key"/, 'the key is never shown again');
    }
  });
});
