import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

describe('operator CLI against a running gateway', async () => {
  const dir = tempDir();
  const identities = testIdentities(2, 'cli');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  let cli: (...args: string[]) => ReturnType<typeof runCli>;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gateway`);
    fleet = startFleet(gateway, identities, `${dir.path}/devices`);
    await fleet.whenAllRegistered(20_000);
    await waitFor('identities synced', () => identities.every((d) => gateway.repository.get(d.endpoint)?.serialNumber));
    cli = (...args) => runCli(['--api', gateway.apiUrl, ...args]);
  });

  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('devices --json lists every device online', async () => {
    const r = await cli('devices', '--json');
    assert.equal(r.status, 0, r.stderr);
    const page = JSON.parse(r.stdout) as { total: number; items: { endpoint: string; status: string }[] };
    assert.equal(page.total, 2);
    assert.deepEqual(
      page.items.map((d) => [d.endpoint, d.status]),
      identities.map((d) => [d.endpoint, 'online']),
    );
  });

  test('devices prints a table and filters by target expression', async () => {
    const all = await cli('devices');
    assert.equal(all.status, 0, all.stderr);
    assert.match(all.stdout, /^ENDPOINT\s+STATUS\s+TRANSPORT/m);
    assert.match(all.stdout, new RegExp(`^${identities[0]!.endpoint}\\s+online\\s+mqtt`, 'm'));
    const filtered = await cli('devices', '--target', `id:${identities[1]!.endpoint}`, '--json');
    assert.deepEqual((JSON.parse(filtered.stdout) as { items: { endpoint: string }[] }).items.map((d) => d.endpoint), [identities[1]!.endpoint]);
    const bad = await cli('devices', '--target', 'colour:red');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /^error: .*unknown key "colour"/);
  });

  test('read prints the manufacturer and the serial number', async () => {
    const ep = identities[0]!.endpoint;
    const manufacturer = await cli('read', ep, '/3/0/0');
    assert.equal(manufacturer.status, 0, manufacturer.stderr);
    assert.equal(manufacturer.stdout.trim(), 'edgedm simulated devices');
    const serial = await cli('read', ep, '/3/0/2');
    assert.equal(serial.stdout.trim(), identities[0]!.serialNumber);
    const instance = await cli('read', ep, '/3/0');
    assert.match(instance.stdout, /^\/3\/0\/2\s+SN/m);
  });

  test('a read of a missing path prints a 4.04 error and exits non-zero', async () => {
    const r = await cli('read', identities[0]!.endpoint, '/3/0/99');
    assert.equal(r.status, 1);
    assert.match(r.stderr, /^error: 4\.04 Not Found/);
    assert.equal(r.stderr.trim().split('\n').length, 1, 'one line');
  });

  test('write then read back; exec reboot', async () => {
    const ep = identities[1]!.endpoint;
    assert.equal((await cli('write', ep, '/3/0/14', '+02:00')).status, 0);
    assert.equal((await cli('read', ep, '/3/0/14')).stdout.trim(), '+02:00');
    const reboot = await cli('exec', ep, '/3/0/4');
    assert.equal(reboot.status, 0, reboot.stderr);
    assert.match(reboot.stdout, /2\.04 Changed/);
    await waitFor('device back after reboot', () => gateway.repository.get(ep)?.status === 'online' && fleet.agent(ep)!.registered);
  });

  test('discover, tag, group and import', async () => {
    const ep = identities[0]!.endpoint;
    const discover = await cli('discover', ep, '/3/0');
    assert.equal(discover.status, 0, discover.stderr);
    assert.match(discover.stdout, /^<\/3\/0\/0>/m);
    const tag = await cli('tag', ep, 'rooftop');
    assert.match(tag.stdout, /rooftop/);
    assert.equal((await cli('group', ep, 'zone-7')).status, 0);
    const filtered = JSON.parse((await cli('devices', '--target', 'tag:rooftop group:zone-7', '--json')).stdout) as { total: number };
    assert.equal(filtered.total, 1);
    const csv = `${dir.path}/factory.csv`;
    writeFileSync(csv, 'endpoint,secret,model\nnew-device-1,0123456789abcdef0123,EDM-X\n');
    const imported = await cli('devices', 'import', csv);
    assert.equal(imported.status, 0, imported.stderr);
    assert.match(imported.stdout, /imported 1 new/);
    writeFileSync(csv, 'endpoint,secret\nbad name,Zq9tinyXYZ\n');
    const rejected = await cli('devices', 'import', csv);
    assert.notEqual(rejected.status, 0);
    assert.match(rejected.stderr, /line 2/);
    assert.doesNotMatch(rejected.stderr, /Zq9tinyXYZ/, 'the secret is never echoed');
  });

  test('an unreachable API gives a one-line error', async () => {
    const r = await runCli(['--api', 'http://127.0.0.1:1', 'devices']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot reach the gateway API/);
  });
});
