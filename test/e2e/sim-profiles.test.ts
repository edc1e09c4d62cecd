import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { dealProfiles, parseProfiles } from '../../simulators/profiles.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { commandDevices, createCommand, whenFinished } from '../support/fleet-commands.js';
import { waitFor } from '../support/wait.js';

/**
 * Device profiles on a real gateway over MQTT: a sleeping device gets a fleet command queued
 * while it slept when it wakes; a slow responder still answers within the request timeout; a
 * flaky device's link drops and it comes back by itself.
 */

const COUNT = 10;
const PLAN = parseProfiles('sleeping@3s=10%,slow@1500ms=10%,flaky@1s=10%');
const AWAKE_MS = 1500;

describe('device profiles on a real gateway', () => {
  const dir = tempDir('edgedm-profiles-');
  const identities = testIdentities(COUNT, 'pr');
  const dealt = dealProfiles(PLAN, COUNT);
  const endpointOf = (profile: string) => identities[dealt.findIndex((d) => d.profile === profile)]!.endpoint;
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    gateway = await startGateway(join(dir.path, 'gw'), { devices: { requestTimeoutMs: 5000, lifetimeSeconds: 300 } });
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: join(dir.path, 'devices'),
      reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
      profiles: PLAN,
      awakeMs: AWAKE_MS,
      linkDownMs: 200,
      log: testLog,
    });
    await fleet.whenAllRegistered(60_000);
  });

  after(async () => {
    await fleet.stop();
    await gateway.close();
    dir.remove();
  });

  test('a sleeping MQTT device gets the fleet command queued while it slept when it wakes', { timeout: 60_000 }, async () => {
    const sleeper = endpointOf('sleeping');
    // Asleep: deregistered, offline in the registry.
    await waitFor(`${sleeper} asleep`, () => gateway.repository.get(sleeper)?.status === 'offline', 20_000, 20);
    const command = await createCommand(gateway, { target: `id:${sleeper}`, operation: 'read', path: '/3/0/2', ttlSeconds: 60 });
    const [queued] = await commandDevices(gateway, command.id);
    assert.equal(queued!.state, 'queued', 'the command waits while the device sleeps');
    assert.equal(queued!.sentAt, null);
    const finished = await whenFinished(gateway, command.id, 30_000);
    assert.equal(finished.state, 'completed');
    const [device] = await commandDevices(gateway, command.id);
    assert.equal(device!.state, 'succeeded');
    assert.equal(device!.result!.steps[0]!.code, '2.05');
  });

  test('a sleeping device sleeps and wakes again and again', { timeout: 60_000 }, async () => {
    const sleeper = fleet.agent(endpointOf('sleeping'))!;
    let registrations = 0;
    const counted = () => registrations++;
    sleeper.on('registered', counted);
    await waitFor('two more wakes', () => registrations >= 2, 30_000);
    sleeper.off('registered', counted);
  });

  test('a slow responder answers late but within the request timeout', { timeout: 30_000 }, async (t) => {
    const slow = endpointOf('slow');
    const started = Date.now();
    const read = await api<{ code: string; content?: { path: string; value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${slow}/read`, { path: '/3/0/2' });
    t.diagnostic(`slow device answered in ${Date.now() - started} ms (uplink delay 1500 ms)`);
    assert.equal(read.status, 200, JSON.stringify(read.body));
    assert.equal(read.body.code, '2.05');
    assert.equal(read.body.content?.[0]?.value, identities[dealt.findIndex((d) => d.profile === 'slow')]!.serialNumber);
  });

  test('a flaky device loses its link now and then and comes back by itself', { timeout: 30_000 }, async () => {
    const flaky = fleet.device(endpointOf('flaky'))!;
    await waitFor('two link drops', () => flaky.host.radio.drops >= 2, 20_000);
    await waitFor('the flaky device registered again', () => flaky.agent.registered && gateway.repository.get(flaky.endpoint)?.status === 'online', 20_000);
    // The always-on devices never lost theirs.
    const steady = fleet.devices.filter((_, i) => dealt[i]!.profile === 'always-on');
    assert.ok(steady.every((d) => d.host.radio.drops === 0));
  });
});

describe('a sleeping LwM2M device', () => {
  const dir = tempDir('edgedm-profiles-lwm2m-');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('registers in queue mode; an always-on one does not', { timeout: 60_000 }, async () => {
    gateway = await startGateway(join(dir.path, 'gw'));
    const identities = testIdentities(2, 'lq');
    gateway.devices.importFactoryIdentities(identities);
    const plan = parseProfiles('sleeping@2s=50%');
    fleet = SimulatedFleet.start({
      identities,
      transports: { kinds: ['lwm2m'], servers: { mqtt: gateway.mqttUrl, coap: gateway.coapUrl! } },
      stateDir: join(dir.path, 'devices'),
      reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
      profiles: plan,
      awakeMs: 1000,
      log: testLog,
    });
    await fleet.whenAllRegistered(30_000);
    const dealt = dealProfiles(plan, 2);
    for (const [i, identity] of identities.entries()) {
      assert.equal(gateway.repository.get(identity.endpoint)?.queueMode, dealt[i]!.profile === 'sleeping', identity.endpoint);
    }
  });
});
