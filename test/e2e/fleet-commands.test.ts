import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { followEvents } from '../support/events.js';
import { commandDevices, createCommand, getCommand, sendTimes, whenFinished, type CommandView } from '../support/fleet-commands.js';
import { runCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

/**
 * Fleet commands end to end: real gateway, real agents over MQTT. Targeting by every kind of
 * term, the rate limit (checked on the recorded send times), cancellation in the middle of a
 * fan-out, the built-in jobs, the aggregate, the event stream, groups and tags, and the CLI.
 */

const FLEET = 24;
const OFFLINE = 4;
const LIFETIME = '/1/0/1';

describe('fleet commands', () => {
  const dir = tempDir();
  const identities = testIdentities(FLEET, 'fc');
  const online = identities.slice(0, FLEET - OFFLINE);
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  const cli = (...args: string[]) => runCli(['--api', gateway.apiUrl, ...args]);

  before(async () => {
    gateway = await startGateway(join(dir.path, 'gw'));
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({ identities: online, bootstrapServerUri: gateway.mqttUrl, stateDir: join(dir.path, 'devices'), reconnect: { minDelayMs: 50, maxDelayMs: 300 }, log: testLog });
    await fleet.whenAllRegistered(30_000);
    // The registry learns each device's firmware version from its first Device object read.
    await waitFor('device info', () => online.every((i) => gateway.repository.get(i.endpoint)?.firmwareVersion), 15_000);
  });

  after(async () => {
    await fleet.stop();
    await gateway.close();
    dir.remove();
  });

  test('every kind of target term selects exactly the devices the registry selects, resolved once at creation', async () => {
    const tagged = await api<{ matched: number; changed: number }>(gateway, 'POST', '/api/v1/tags/rooftop/add', { target: `id:${identities[1]!.endpoint},${identities[FLEET - 1]!.endpoint}` });
    assert.equal(tagged.status, 200, JSON.stringify(tagged.body));
    assert.deepEqual(tagged.body, { name: 'rooftop', matched: 2, changed: 2, members: 2 });
    const targets = [
      'all',
      `id:${identities[0]!.endpoint},${identities[5]!.endpoint},${identities[FLEET - 1]!.endpoint}`,
      'tag:rooftop',
      'tag:meter',
      'group:north',
      '!group:north',
      'transport:mqtt',
      'status:online',
      'status:offline',
      'fw:1.0.*',
      'model:EDM-GW2',
      'group:north,east model:EDM-TH1 status:online',
      'id:fc-00*',
    ];
    for (const target of targets) {
      const expected = (await api<{ items: { endpoint: string; status: string }[] }>(gateway, 'GET', `/api/v1/devices?limit=1000&target=${encodeURIComponent(target)}`)).body.items
        .map((d) => d.endpoint)
        .sort();
      assert.ok(expected.length > 0, `${target} selects someone`);
      const command = await createCommand(gateway, { target, operation: 'read', path: '/3/0/0', ttlSeconds: 30 });
      assert.equal(command.total, expected.length, target);
      const got = (await commandDevices(gateway, command.id)).map((d) => d.endpoint).sort();
      assert.deepEqual(got, expected, target);
      await api(gateway, 'POST', `/api/v1/fleet/commands/${command.id}/cancel`);
    }

    // Resolved once: a device that joins the group afterwards is not added to the command.
    const command = await createCommand(gateway, { target: 'tag:rooftop', operation: 'read', path: '/3/0/0', ttlSeconds: 30 });
    await api(gateway, 'POST', '/api/v1/tags/rooftop/add', { target: `id:${identities[2]!.endpoint}` });
    assert.equal((await getCommand(gateway, command.id)).total, 2);
    await api(gateway, 'POST', `/api/v1/fleet/commands/${command.id}/cancel`);
  });

  test('a 600/min rate limit is never exceeded: checked on the recorded send times', async (t) => {
    const RATE = 600;
    const command = await createCommand(gateway, { target: 'status:online', operation: 'read', path: '/3/0/9', ratePerMin: RATE, maxConcurrent: 100 });
    const finished = await whenFinished(gateway, command.id, 60_000);
    assert.equal(finished.counts.succeeded, online.length);
    const devices = await commandDevices(gateway, command.id);
    assert.ok(devices.every((d) => d.attempts === 1), 'each device sent once');
    const times = sendTimes(devices);
    assert.equal(times.length, online.length);
    // Any window holds at most one send plus one per 100 ms of its length (600/min, no burst).
    const interval = 60_000 / RATE;
    let tightest = Infinity;
    for (let i = 0; i < times.length; i++) {
      for (let j = i + 1; j < times.length; j++) {
        const span = times[j]! - times[i]!;
        tightest = Math.min(tightest, span / (j - i));
        assert.ok(span >= (j - i) * interval, `${j - i + 1} sends within ${span} ms exceeds ${RATE}/min`);
      }
    }
    const observedPerMin = Math.round(((times.length - 1) * 60_000) / (times.at(-1)! - times[0]!));
    t.diagnostic(`${times.length} sends over ${times.at(-1)! - times[0]!} ms: ${observedPerMin}/min on average, tightest spacing ${tightest.toFixed(1)} ms per send`);
    // The values of all devices, summed up: /3/0/9 is the battery level.
    const values = finished.aggregate!.values['/3/0/9']!;
    assert.equal(values.devices, online.length);
    assert.ok(values.numeric && values.numeric.min <= values.numeric.max);
    assert.deepEqual(finished.aggregate!.steps, [{ kind: 'read', path: '/3/0/9', codes: { '2.05': online.length } }]);
  });

  test('cancel in the middle of a fan-out: what was not sent is cancelled and never sent; nothing is sent after the cancel', async () => {
    const command = await createCommand(gateway, { target: 'status:online', operation: 'write', path: LIFETIME, value: 555, ratePerMin: 240 });
    await waitFor('a few devices done', async () => ((await getCommand(gateway, command.id)).counts.succeeded ?? 0) >= 3, 20_000);
    const cancelled = await api<CommandView>(gateway, 'POST', `/api/v1/fleet/commands/${command.id}/cancel`);
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.state, 'cancelled');
    const cancelAt = Date.parse(cancelled.body.updatedAt);
    const finished = await whenFinished(gateway, command.id, 15_000);
    assert.equal(finished.state, 'cancelled');
    await new Promise((r) => setTimeout(r, 600));
    const devices = await commandDevices(gateway, command.id);
    assert.ok(devices.every((d) => ['succeeded', 'cancelled'].includes(d.state)), JSON.stringify(devices.map((d) => d.state)));
    const neverSent = devices.filter((d) => d.state === 'cancelled' && d.sentAt === null);
    assert.ok(neverSent.length >= online.length - 6, `most devices were still queued (${neverSent.length})`);
    assert.ok(devices.every((d) => d.sentAt === null || Date.parse(d.sentAt) <= cancelAt), 'no send after the cancel');
    assert.ok(neverSent.every((d) => /before it was sent/.test(d.reason ?? '')));
    for (const d of neverSent.slice(0, 5)) {
      const r = await api<{ content: { value: number }[] }>(gateway, 'POST', `/api/v1/devices/${d.endpoint}/read`, { path: LIFETIME });
      assert.equal(r.body.content[0]!.value, 300, `${d.endpoint} never got the write`);
    }
    assert.equal((await api(gateway, 'POST', `/api/v1/fleet/commands/${command.id}/cancel`)).status, 409);
  });

  test('built-in jobs: diagnostics gathers Device, Connectivity and the recent Event Log; reboot reboots each device once', async () => {
    const targets = online.slice(0, 3).map((i) => i.endpoint);
    const diagnostics = await createCommand(gateway, { target: `id:${targets.join(',')}`, operation: 'diagnostics' });
    assert.equal(diagnostics.path, null);
    const done = await whenFinished(gateway, diagnostics.id);
    assert.equal(done.counts.succeeded, 3);
    for (const d of await commandDevices(gateway, diagnostics.id)) {
      const [device, connectivity, log] = d.result!.steps;
      assert.deepEqual(d.result!.steps.map((s) => `${s.kind} ${s.path} ${s.code}`), ['read /3/0 2.05', 'read /4/0 2.05', 'read /20 2.05']);
      assert.ok(device!.content!.some((c) => c.path === '/3/0/2' && c.value === identities.find((i) => i.endpoint === d.endpoint)!.serialNumber));
      assert.ok(connectivity!.content!.length > 0);
      assert.ok(log!.recentEvents!.length > 0 && log!.recentEvents!.length <= 20);
      assert.ok(log!.recentEvents!.some((line) => line.includes('agent booted')));
      assert.ok(!log!.content?.some((c) => c.path.endsWith('/4014')), 'the raw log is not kept, only its recent lines');
    }
    assert.equal(done.aggregate!.values['/3/0/2']!.distinct, 3);

    const reboots = new Map<string, number>();
    for (const ep of targets) fleet.agent(ep)!.on('rebooting', () => reboots.set(ep, (reboots.get(ep) ?? 0) + 1));
    const reboot = await createCommand(gateway, { target: `id:${targets.join(',')}`, operation: 'reboot' });
    const rebooted = await whenFinished(gateway, reboot.id);
    assert.equal(rebooted.counts.succeeded, 3);
    await waitFor('the devices back', () => targets.every((ep) => fleet.agent(ep)!.registered), 15_000);
    await new Promise((r) => setTimeout(r, 500));
    assert.deepEqual([...reboots.values()], [1, 1, 1]);
  });

  test('progress and per-device outcomes stream on /api/v1/events', async () => {
    const stream = await followEvents(`${gateway.apiUrl}/api/v1/events`);
    try {
      const targets = online.slice(3, 6).map((i) => i.endpoint);
      const command = await createCommand(gateway, { target: `id:${targets.join(',')}`, operation: 'read', path: '/3/0/3' });
      await whenFinished(gateway, command.id);
      await waitFor('the final progress event', () =>
        stream.events.some((e) => e.type === 'fleet.command.progress' && e.data.commandId === command.id && (e.data.counts as Record<string, number>).succeeded === 3),
      );
      for (const ep of targets) {
        const states = stream.events.filter((e) => e.type === 'fleet.command.device' && e.data.commandId === command.id && e.data.endpoint === ep).map((e) => e.data.state);
        assert.deepEqual(states, ['sent', 'succeeded'], ep);
      }
      const last = stream.events.filter((e) => e.type === 'fleet.command.device' && e.data.commandId === command.id).at(-1)!;
      assert.equal(last.data.code, '2.05');
    } finally {
      stream.close();
    }
  });

  test('groups and tags are first-class: created, listed with counts, put on and taken off by target, deleted', async () => {
    const created = await api<{ name: string; members: number; description: string | null }>(gateway, 'POST', '/api/v1/groups', { name: 'pilot', description: 'first to get things' });
    assert.equal(created.status, 201);
    assert.deepEqual(created.body, { name: 'pilot', description: 'first to get things', members: 0 });
    assert.equal((await api(gateway, 'POST', '/api/v1/groups', { name: 'pilot' })).status, 409);
    assert.equal((await api(gateway, 'POST', '/api/v1/groups', { name: 'bad name' })).status, 400);
    const added = await api<{ matched: number; changed: number; members: number }>(gateway, 'POST', '/api/v1/groups/pilot/add', { target: 'model:EDM-GW2' });
    const gw2 = identities.filter((i) => i.model === 'EDM-GW2').length;
    assert.deepEqual(added.body, { name: 'pilot', matched: gw2, changed: gw2, members: gw2 });
    const command = await createCommand(gateway, { target: 'group:pilot status:online', operation: 'read', path: '/3/0/1' });
    const finished = await whenFinished(gateway, command.id);
    assert.deepEqual(finished.aggregate!.values['/3/0/1']!.top, [{ value: 'EDM-GW2', count: finished.total }]);
    const removed = await api<{ changed: number; members: number }>(gateway, 'POST', '/api/v1/groups/pilot/remove', { target: `id:${identities.find((i) => i.model === 'EDM-GW2')!.endpoint}` });
    assert.equal(removed.body.changed, 1);
    assert.equal(removed.body.members, gw2 - 1);
    const groups = (await api<{ items: { name: string; members: number }[] }>(gateway, 'GET', '/api/v1/groups')).body.items;
    assert.equal(groups.find((g) => g.name === 'pilot')?.members, gw2 - 1);
    const tags = (await api<{ items: { name: string; devices: number }[] }>(gateway, 'GET', '/api/v1/tags')).body.items;
    assert.equal(tags.find((t) => t.name === 'simulated')?.devices, FLEET);
    assert.equal((await api<{ changed: number }>(gateway, 'POST', '/api/v1/tags/simulated/remove', { target: 'status:offline' })).body.changed, OFFLINE);
    const deleted = await api<{ removedMembers: number }>(gateway, 'DELETE', '/api/v1/groups/pilot');
    assert.deepEqual(deleted.body, { name: 'pilot', removedMembers: gw2 - 1 });
    assert.equal((await api(gateway, 'DELETE', '/api/v1/groups/pilot')).status, 404);
    assert.equal(gateway.repository.list().filter((d) => d.groups.includes('pilot')).length, 0);
  });

  test('the CLI: fleet run, status, cancel; group and tag', async () => {
    const run = await cli('fleet', 'run', '--target', 'status:online model:EDM-TH1', 'read', '/3/0/1', '--wait');
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^state\s+completed$/m);
    assert.match(run.stdout, /succeeded \d+/);
    assert.match(run.stdout, /^\/3\/0\/1\s+EDM-TH1 ×\d+$/m);
    const json = await cli('--json', 'fleet', 'run', '--target', `id:${identities[FLEET - 1]!.endpoint}`, 'write', LIFETIME, '420', '--ttl', '60', '--max-concurrent', '5', '--rate-per-min', '30');
    assert.equal(json.status, 0, json.stderr);
    const queued = JSON.parse(json.stdout) as CommandView;
    assert.deepEqual({ total: queued.total, ttl: queued.policy.ttlSeconds, max: queued.policy.maxConcurrent, rate: queued.policy.ratePerMin }, { total: 1, ttl: 60, max: 5, rate: 30 });
    const status = await cli('fleet', 'status', queued.id, '--devices');
    assert.equal(status.status, 0, status.stderr);
    assert.match(status.stdout, new RegExp(`^${identities[FLEET - 1]!.endpoint}\\s+queued\\s+0`, 'm'));
    const cancel = await cli('fleet', 'cancel', queued.id);
    assert.equal(cancel.status, 0, cancel.stderr);
    assert.match(cancel.stdout, /^state\s+cancelled/m);
    const list = await cli('fleet', 'status');
    assert.match(list.stdout, new RegExp(`^${queued.id}\\s+write /1/0/1\\s+cancelled`, 'm'));
    const bad = await cli('fleet', 'run', '--target', 'all', 'shutdown', '/3/0/4');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /^error: .*operation/m);

    assert.equal((await cli('group', 'create', 'cli-made', '--description', 'from the CLI')).status, 0);
    const add = await cli('group', 'add', 'cli-made', '--target', 'model:EDM-MT3');
    assert.equal(add.status, 0, add.stderr);
    assert.match(add.stdout, /cli-made: \d+ matched, \d+ added, \d+ member/);
    const groups = await cli('group', 'list');
    assert.match(groups.stdout, /^cli-made\s+\d+\s+from the CLI$/m);
    const tag = await cli('tag', 'add', 'cli-tag', '--target', 'group:cli-made');
    assert.equal(tag.status, 0, tag.stderr);
    assert.match((await cli('tag', 'list')).stdout, /^cli-tag\s+\d+$/m);
    // The per-device form still works.
    assert.equal((await cli('tag', identities[0]!.endpoint, 'single')).status, 0);
    assert.ok(gateway.repository.get(identities[0]!.endpoint)!.tags.includes('single'));
    assert.equal((await cli('group', 'delete', 'cli-made')).status, 0);
  });
});
