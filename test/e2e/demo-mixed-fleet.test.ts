import assert from 'node:assert/strict';
import { statSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import { TRANSPORTS } from '../../protocol/states.js';
import { runCli } from '../support/cli.js';
import { CliProcess } from '../support/cli-process.js';
import { tempDir } from '../support/harness.js';
import { freePort } from '../support/ports.js';
import { waitFor } from '../support/wait.js';

interface DeviceRow {
  endpoint: string;
  status: string;
  transport: string | null;
  model: string | null;
  firmwareVersion: string | null;
}

interface RolloutStatus {
  id: string;
  state: string;
  reason?: string;
  counts: Record<string, number>;
}

/**
 * What `npm start` gives a newcomer: `edgedm demo` (gateway plus a simulated fleet dealt out over
 * MQTT, LwM2M and plain CoAP), driven only through the operator CLI as the README says. Every
 * device looks the same whatever it speaks, answers a read, and takes the same rollout.
 */
describe('edgedm demo: a mixed fleet managed through the CLI', () => {
  const dir = tempDir();
  const count = 6;
  const configDir = `${dir.path}/config`;
  let demo: CliProcess;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;
  let apiUrl: string;

  before(async () => {
    const [mqttPort, apiPort, coapPort] = [await freePort(), await freePort(), await freePort()];
    demo = CliProcess.start(
      'edgedm demo',
      ['demo', '--data', `${dir.path}/demo`, '--mqtt-port', `${mqttPort}`, '--api-port', `${apiPort}`, '--coap-port', `${coapPort}`, '--count', `${count}`],
      // The demo logs the user's CLI in: here, into a config directory of this test's own.
      { EDGEDM_ROLLOUT_POLL_MS: '200', EDGEDM_CONFIG_DIR: configDir },
    );
    await demo.waitForOutput(new RegExp(`demo: gateway with ${count}/${count} simulated devices online`), 90_000);
    apiUrl = `http://127.0.0.1:${apiPort}`;
    cli = (...args) => runCli(['--api', apiUrl, ...args], { EDGEDM_CONFIG_DIR: configDir });
  });

  after(async () => {
    await demo?.kill('SIGTERM');
    dir.remove();
  });

  async function devices(): Promise<DeviceRow[]> {
    const r = await cli('devices', '--json');
    assert.equal(r.status, 0, r.stderr);
    return (JSON.parse(r.stdout) as { items: DeviceRow[] }).items;
  }

  test('the demo prints the portal and its admin login, and logs the CLI in (token file 0600)', async () => {
    assert.match(demo.log, /web portal\s+http:\/\/127\.0\.0\.1:\d+\/\s+log in as admin \/ \S{10,}/);
    assert.equal(statSync(`${configDir}/credentials.json`).mode & 0o777, 0o600);
    const me = await cli('whoami', '--json');
    assert.equal(me.status, 0, me.stderr);
    const who = JSON.parse(me.stdout) as { username: string; role: string };
    assert.deepEqual([who.username, who.role], ['admin', 'admin']);
    // The printed password is the admin's: it logs in.
    const password = /log in as admin \/ (\S+)/.exec(demo.log)![1]!;
    const login = await fetch(`${apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'admin', password }) });
    assert.equal(login.status, 200);
  });

  test('every transport is in the fleet, and every device is online with its identity synced', async () => {
    assert.match(demo.log, /fleet\s+2 mqtt, 2 coap, 2 lwm2m/);
    const rows = await waitFor('identities synced', async () => {
      const rows = await devices();
      return rows.length === count && rows.every((d) => d.status === 'online' && d.model !== null) ? rows : undefined;
    }, 30_000);
    assert.deepEqual([...new Set(rows.map((d) => d.transport))].sort(), [...TRANSPORTS].sort());
    const table = await cli('devices');
    for (const transport of TRANSPORTS) assert.match(table.stdout, new RegExp(`^sim-\\d+\\s+online\\s+${transport}\\s`, 'm'));
    const lwm2m = await cli('devices', '--target', 'transport:lwm2m', '--json');
    assert.equal((JSON.parse(lwm2m.stdout) as { total: number }).total, 2);
  });

  test('edgedm read answers alike over every transport', async () => {
    for (const row of await devices()) {
      const r = await cli('read', row.endpoint, '/3/0');
      assert.equal(r.status, 0, `${row.endpoint} (${row.transport}): ${r.stderr}`);
      assert.match(r.stdout, /^\/3\/0\/0\s+edgedm simulated devices$/m, row.endpoint);
      assert.match(r.stdout, new RegExp(`^/3/0/1\\s+${row.model}$`, 'm'), row.endpoint);
    }
  });

  test('the demo firmware rolls out to the whole fleet; each device reports the new version over the wire', async () => {
    const created = await cli('rollout', 'create', '--firmware', 'edgedm-sim@1.1.0', '--target', 'all', '--canary', '2', '--json');
    assert.equal(created.status, 0, created.stderr);
    const { id } = JSON.parse(created.stdout) as RolloutStatus;
    const done = await waitFor(
      'rollout finished',
      async () => {
        const status = JSON.parse((await cli('rollout', 'status', id, '--json')).stdout) as RolloutStatus;
        return status.state === 'running' || status.state === 'paused' ? undefined : status;
      },
      180_000,
      500,
    );
    assert.equal(done.state, 'completed', `${done.reason ?? ''} ${JSON.stringify(done.counts)}`);
    assert.equal(done.counts.succeeded, count, JSON.stringify(done.counts));
    for (const row of await devices()) {
      const r = await cli('read', row.endpoint, '/3/0/3');
      assert.equal(r.stdout.trim(), '1.1.0', `${row.endpoint} over ${row.transport}`);
    }
  });
});
