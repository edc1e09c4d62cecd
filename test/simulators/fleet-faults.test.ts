import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { faultsFor, parseFaultProfile, type PowerLossStep } from '../../simulators/faults.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedDevice } from '../../simulators/device.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { addFirmware, finished, IMAGE, type RolloutDeviceView, type RolloutView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

interface BootRecord {
  active: 'a' | 'b';
  slots: Record<'a' | 'b', { version: string; sha256: string } | null>;
  trial: { slot: 'a' | 'b'; attempts: number } | null;
  lastBoot: string;
}

const FROM = '1.0.0';
const TO = '1.1.0';
/** One device loses power at each step of the update; two have a link that keeps dropping, one a slower link still. */
const PROFILE = 'power-loss@downloading=10%,power-loss@downloaded=10%,power-loss@updating=10%,power-loss@trial=10%,drop-link@1500ms=20%,slow-link@8kbps=10%';
/** The 64 KiB image takes about 4 s over this link: every drop-link device loses it mid-download more than once. */
const DOWNLOAD_BYTES_PER_SECOND = 16 * 1024;

/**
 * The fault profiles at work in one process: a rollout to a fleet whose devices lose power at
 * each step of the update, or whose link keeps dropping. Every device boots again from its
 * state directory and flash files and tells the truth: a download cut by a power loss or a drop
 * resumes (no byte fetched twice) and lands; an install cut mid-write, or a trial boot cut before
 * its confirmation, runs the old image and reports Update Result 8, and takes the image at the
 * next rollout.
 */
describe('simulated faults: power loss at each update step, a dropping link', () => {
  const dir = tempDir('edgedm-faults-');
  const devicesDir = join(dir.path, 'devices');
  const identities = testIdentities(10, 'ff');
  const profile = parseFaultProfile(PROFILE);
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  let firmware: string;

  before(async () => {
    gateway = await startGateway(join(dir.path, 'gw'), { rollouts: { pollIntervalMs: 150 } });
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: devicesDir,
      firmwareVersion: FROM,
      faults: profile,
      downloadBytesPerSecond: DOWNLOAD_BYTES_PER_SECOND,
      powerOffMs: 300,
      linkDownMs: 300,
      reconnect: { minDelayMs: 50, maxDelayMs: 300 },
      firmware: { healthDeadlineMs: 10_000, retryDelayMs: 150 },
      log: testLog,
    });
    await fleet.whenAllRegistered(30_000);
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  const device = (index: number): SimulatedDevice => fleet.devices[index]!;
  const bootRecord = (endpoint: string) => JSON.parse(readFileSync(join(devicesDir, endpoint, 'flash', 'boot.json'), 'utf8')) as BootRecord;
  /** What the device reports over the wire; a device whose link is down is asked again. */
  const reported = (endpoint: string, path: string) =>
    waitFor(`${endpoint} answers ${path}`, async () => {
      const r = await api<{ success?: boolean; content?: { value: unknown }[] }>(gateway, 'POST', `/api/v1/devices/${endpoint}/read`, { path });
      return r.status === 200 && r.body.success ? { value: r.body.content?.[0]?.value } : undefined;
    }, 20_000, 100);
  const rollout = async (firmware: string) => {
    const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const done = await finished(gateway, created.body.id, 120_000);
    const devices = (await api<{ items: RolloutDeviceView[] }>(gateway, 'GET', `/api/v1/rollouts/${done.id}/devices`)).body.items;
    return { done, devices: new Map(devices.map((d) => [d.endpoint, d])) };
  };
  /** The version the bootloader started: the trial slot while on trial, the confirmed one otherwise. */
  const bootedVersion = (boot: BootRecord) => (boot.trial && boot.lastBoot === 'trial' ? boot.slots[boot.trial.slot] : boot.slots[boot.active])?.version;

  test('the profile picks one device per power-loss step, two drop-link devices and one slow-link device', () => {
    const steps = identities.map((_, i) => faultsFor(profile, i).powerLoss);
    assert.deepEqual(steps.map((s) => s.join()), ['', '', '', '', '', '', 'trial', 'updating', 'downloaded', 'downloading']);
    const having = (has: (i: number) => boolean) => identities.flatMap((_, i) => (has(i) ? [i] : []));
    assert.deepEqual(having((i) => faultsFor(profile, i).dropLinkEveryMs === 1500), [0, 5]);
    assert.deepEqual(having((i) => faultsFor(profile, i).slowLinkBytesPerSecond === 8 * 1024), [4]);
  });

  test('a rollout completes through the faults; each device went through its fault and reports what its flash runs', { timeout: 180_000 }, async () => {
    firmware = await addFirmware(gateway, TO, [...new Set(identities.map((i) => i.model))], IMAGE);
    const { done, devices } = await rollout(firmware);
    assert.equal(done.state, 'completed', done.reason ?? '');

    const stepOf = new Map<PowerLossStep, number>([
      ['trial', 6],
      ['updating', 7],
      ['downloaded', 8],
      ['downloading', 9],
    ]);
    for (const [step, index] of stepOf) {
      const d = device(index);
      assert.deepEqual(d.powerLosses, [step], `${d.endpoint} lost power at ${step}`);
      assert.equal(d.host.powerCuts, 1, `${d.endpoint} lost power once`);
    }
    for (const [i, d] of fleet.devices.entries()) {
      const boot = bootRecord(d.endpoint);
      const row = devices.get(d.endpoint)!;
      const version = (await reported(d.endpoint, '/3/0/3')).value;
      assert.equal(version, bootedVersion(boot), `${d.endpoint} reports the version its flash runs: ${JSON.stringify(boot)}`);
      assert.equal(boot.trial, null, `${d.endpoint} has no trial left over`);
      if (i === stepOf.get('updating') || i === stepOf.get('trial')) {
        // The install did not take: the old image runs, and the device says so.
        assert.deepEqual([row.state, row.updateResult], ['failed', 8], d.endpoint);
        assert.equal(version, FROM, d.endpoint);
        assert.equal(boot.active, 'a', d.endpoint);
        if (i === stepOf.get('updating')) assert.equal(boot.slots.b, null, `${d.endpoint}: the slot cut mid-write claims no version`);
        else assert.deepEqual([boot.slots.b?.version, boot.lastBoot], [TO, 'rolled-back'], `${d.endpoint}: the unconfirmed trial was rolled back`);
        const status = [(await reported(d.endpoint, '/5/0/3')).value, (await reported(d.endpoint, '/5/0/5')).value];
        assert.deepEqual(status, [0, 8], `${d.endpoint}: Idle, Update Result 8`);
      } else {
        assert.equal(row.state, 'succeeded', `${d.endpoint}: ${row.state} ${row.updateResult}`);
        assert.equal(version, TO, d.endpoint);
        assert.deepEqual([boot.active, boot.slots.b?.version], ['b', TO], d.endpoint);
        // Resumed every time, never started over: each byte of the image came over the radio once.
        assert.equal(d.host.radio.bytesDownloaded, IMAGE.length, `${d.endpoint} downloaded the image exactly once`);
      }
      if (d.faults.powerLoss.length === 0) assert.equal(d.host.powerCuts, 0, d.endpoint);
      // Nothing half-done is left in the staging directory.
      assert.equal(existsSync(join(devicesDir, d.endpoint, 'agent', 'firmware', 'download.part')), false, d.endpoint);
    }
    for (const index of [0, 5]) {
      const { radio } = device(index).host;
      assert.ok(radio.drops >= 1, `${device(index).endpoint}: the link dropped (${radio.drops})`);
      assert.ok(radio.downloadsCut >= 1, `${device(index).endpoint}: a drop interrupted its download (${radio.downloadsCut})`);
      assert.ok(radio.connectionsCut >= 1, `${device(index).endpoint}: a drop cut its MQTT session (${radio.connectionsCut})`);
    }
    for (const index of [1, 2, 3, 4]) assert.equal(device(index).host.radio.drops, 0);
  });

  test('the next rollout brings the devices whose install was cut to the new image; the whole fleet is consistent', { timeout: 180_000 }, async () => {
    const { done, devices } = await rollout(firmware);
    assert.equal(done.state, 'completed', done.reason ?? '');
    for (const d of fleet.devices) {
      const boot = bootRecord(d.endpoint);
      assert.equal(devices.get(d.endpoint)?.state, 'succeeded', d.endpoint);
      assert.deepEqual([(await reported(d.endpoint, '/3/0/3')).value, bootedVersion(boot), boot.trial], [TO, TO, null], d.endpoint);
      assert.ok(d.host.powerCuts <= 1, `${d.endpoint}: a power-loss fault strikes once`);
    }
  });
});
