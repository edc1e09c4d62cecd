// test: run alone (a simulator process killed and restarted mid-rollout, on timers)
import assert from 'node:assert/strict';
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { parseFactoryCsv } from '../../gateway/fleet/factory-import.js';
import { FirmwareState, UpdateResult } from '../../protocol/firmware/index.js';
import { CliProcess } from '../support/cli-process.js';
import { api, startGateway, tempDir } from '../support/harness.js';
import { addFirmware, finished, type RolloutDeviceView, type RolloutView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/**
 * The issue's power-loss test: the whole simulator process is killed with SIGKILL at each step
 * of a firmware update in turn and started again on the same state directory. Nothing survives
 * a kill but the devices' files: agent state, staged download, A/B flash with its boot record.
 * After every restart each device boots, registers, and reports over the wire the version its
 * flash really runs and an Object 5 state its files bear out; at the end the rollout tells the
 * truth about every device, and the fleet ends on one version.
 */

type Slot = 'a' | 'b';
interface BootRecord {
  active: Slot;
  slots: Record<Slot, { version: string; sha256: string } | null>;
  trial: { slot: Slot; attempts: number } | null;
  lastBoot: 'normal' | 'trial' | 'rolled-back';
}
interface FirmwareRecord {
  state: number;
  result: number;
  packageUri: string;
  pkgVersion?: string;
  deferredUntil?: number;
  manifest?: { size: number; version: string };
  update?: { fromVersion: string; toVersion: string; phase: 'installing' | 'trial' };
}
/** One device's files, read while the simulator is dead (frozen) or alive. */
interface DeviceDisk {
  boot: BootRecord;
  firmware: FirmwareRecord | undefined;
  /** Bytes of the staged download so far, or undefined when there is no part file. */
  partBytes: number | undefined;
  imageBytes: number | undefined;
  /** Bytes in the inactive slot's file. */
  inactiveSlotBytes: number;
}

/**
 * Where a device was in its update when the power went, read from its files: `updating` is an
 * install under way in the old image (mid-write, or rolled back and not yet recorded), `armed` a
 * trial slot the next boot will start, `trial` the new image running unconfirmed, `confirming`
 * the new image confirmed by the bootloader but not yet in Object 5's record.
 */
type Step = 'idle' | 'downloading' | 'downloaded' | 'deferred' | 'updating' | 'armed' | 'trial' | 'confirming';

const COUNT = 8;
const FROM = '1.0.0';
const TO = '1.1.0';
/** 48 KiB over a 16 KiB/s link and into a 16 KiB/s flash: each of those steps lasts about 3 s. */
const IMAGE = Buffer.from(Array.from({ length: 48 * 1024 }, (_, i) => (i * 11 + (i >> 7)) & 0xff));
const LINK_KBPS = 16;
const FLASH_KBPS = 16;
const SELF_TEST_MS = 2500;
/**
 * Every device's user defers the install; Maximum Defer Period staggers the fleet into groups
 * of two that install 7 s apart, so one group can be caught mid-write and a later one on trial.
 */
const DEFER_SECONDS = [5, 5, 12, 12, 19, 19, 26, 26];

const other = (slot: Slot): Slot => (slot === 'a' ? 'b' : 'a');
/** The version the bootloader started: the trial slot while on trial, the confirmed one otherwise. */
const bootedVersion = (boot: BootRecord) => (boot.trial && boot.lastBoot === 'trial' ? boot.slots[boot.trial.slot] : boot.slots[boot.active])?.version;

function sizeOf(file: string): number | undefined {
  try {
    return statSync(file).size;
  } catch {
    return undefined;
  }
}

function stepOf(disk: DeviceDisk): Step {
  const f = disk.firmware;
  const { boot } = disk;
  if (boot.trial?.attempts === 1 && boot.lastBoot === 'trial') return 'trial';
  if (boot.trial?.attempts === 0) return 'armed';
  if (f?.state === FirmwareState.UPDATING) return f.update && bootedVersion(boot) === f.update.toVersion ? 'confirming' : 'updating';
  if (f?.state === FirmwareState.DOWNLOADED) return f.deferredUntil !== undefined ? 'deferred' : 'downloaded';
  if (f?.state === FirmwareState.DOWNLOADING) return 'downloading';
  return 'idle';
}

describe('simulator killed with SIGKILL at each update step', () => {
  const dir = tempDir('edgedm-simkill-');
  const stateDir = join(dir.path, 'devices');
  let gateway: Gateway | undefined;
  let sim: CliProcess | undefined;

  after(async () => {
    await sim?.kill();
    await gateway?.close();
    dir.remove();
  });

  test('after each restart every device boots, registers and tells the truth; the rollout ends truthful and the fleet consistent', { timeout: 240_000 }, async (t) => {
    gateway = await startGateway(join(dir.path, 'gw'), { rollouts: { pollIntervalMs: 200 } });
    const gw = gateway;
    const csv = join(dir.path, 'fleet.csv');
    const simArgs = [
      '--api', gw.apiUrl,
      'sim', '--count', String(COUNT), '--prefix', 'pl', '--server', gw.mqttUrl, '--state', stateDir, '--write-csv', csv,
      '--download-kbps', String(LINK_KBPS), '--flash-write-kbps', String(FLASH_KBPS), '--self-test-ms', String(SELF_TEST_MS),
      '--faults', 'defer', '--log-level', 'info',
    ];
    let runs = 0;
    const startSim = async () => {
      sim = CliProcess.start(`simulator (run ${++runs})`, simArgs);
      await sim.waitForOutput(/simulating 8 device\(s\)/, 60_000);
    };

    const call = async <T>(method: string, path: string, body?: unknown) => api<T>(gw, method, path, body);
    const read = async (endpoint: string, path: string): Promise<unknown> => {
      const r = await call<{ success?: boolean; content?: { value: unknown }[] }>('POST', `/api/v1/devices/${endpoint}/read`, { path });
      if (r.status !== 200 || !r.body.success) throw new Error(`${endpoint} ${path}: HTTP ${r.status} ${JSON.stringify(r.body)}`);
      return r.body.content?.[0]?.value;
    };
    const disk = (endpoint: string): DeviceDisk => {
      const base = join(stateDir, endpoint);
      const boot = JSON.parse(readFileSync(join(base, 'flash', 'boot.json'), 'utf8')) as BootRecord;
      const state = existsSync(join(base, 'agent', 'state.json')) ? (JSON.parse(readFileSync(join(base, 'agent', 'state.json'), 'utf8')) as { firmware?: FirmwareRecord }) : {};
      const running = boot.trial && boot.lastBoot === 'trial' ? boot.trial.slot : boot.active;
      return {
        boot,
        firmware: state.firmware,
        partBytes: sizeOf(join(base, 'agent', 'firmware', 'download.part')),
        imageBytes: sizeOf(join(base, 'agent', 'firmware', 'image.bin')),
        inactiveSlotBytes: sizeOf(join(base, 'flash', `slot-${other(running)}.bin`)) ?? 0,
      };
    };

    await startSim();
    try {
      const endpoints = parseFactoryCsv(readFileSync(csv, 'utf8')).rows.map((r) => r.endpoint).sort();
      assert.equal(endpoints.length, COUNT);
      const answering = () =>
        waitFor('every device answers over the wire', async () => {
          for (const ep of endpoints) await read(ep, '/3/0/3');
          return true;
        }, 60_000, 100);
      await answering();

      // ---- the operator's policy and the rollout -----------------------------------------
      for (const [i, ep] of endpoints.entries()) {
        const w = await call<{ success: boolean }>('POST', `/api/v1/devices/${ep}/write`, { path: '/5/0/13', value: DEFER_SECONDS[i] });
        assert.ok(w.body.success, `${ep}: Maximum Defer Period written: ${JSON.stringify(w.body)}`);
      }
      const models = [...new Set(parseFactoryCsv(readFileSync(csv, 'utf8')).rows.map((r) => r.model!))];
      const firmware = await addFirmware(gw, TO, models, IMAGE);
      const created = await call<RolloutView>('POST', '/api/v1/rollouts', { firmware, target: 'all' });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const rolloutId = created.body.id;

      /** Devices whose install the kills cut (mid-write, or on trial before confirmation): they must report failure. */
      const cut = new Set<string>();

      const killAt = async (what: string, target: Step[], ready: (disks: Map<string, DeviceDisk>) => boolean) => {
        await waitFor(`devices ${what}`, () => {
          const disks = new Map(endpoints.map((ep) => [ep, disk(ep)]));
          return ready(disks);
        }, 90_000, 25);
        await sim!.kill('SIGKILL');
        // The files as the power cut left them: what the devices must boot from.
        const frozen = new Map(endpoints.map((ep) => [ep, disk(ep)]));
        const steps = new Map([...frozen].map(([ep, d]) => [ep, stepOf(d)]));
        t.diagnostic(`kill ${what}: ${[...steps].map(([ep, s]) => `${ep}=${s}/${frozen.get(ep)!.firmware?.result ?? 0}`).join(' ')}`);
        assert.ok([...steps.values()].some((s) => target.includes(s)), `the kill found a device ${what}`);
        for (const [ep, s] of steps) {
          if (s === 'updating' || s === 'trial') cut.add(ep);
        }
        await startSim();
        await afterRestart(frozen, steps);
      };

      /** What every device must show once the simulator is back on its files. */
      const afterRestart = async (frozen: Map<string, DeviceDisk>, steps: Map<string, Step>) => {
        await answering();
        for (const ep of endpoints) {
          const before = frozen.get(ep)!;
          const step = steps.get(ep)!;
          // A consistent view: the device's records did not move while it was being asked.
          const { d, wire } = await waitFor(`a consistent view of ${ep}`, async () => {
            const d1 = disk(ep);
            const wire = { version: await read(ep, '/3/0/3'), state: Number(await read(ep, '/5/0/3')), result: Number(await read(ep, '/5/0/5')) };
            const d2 = disk(ep);
            const same = JSON.stringify([d1.boot, d1.firmware]) === JSON.stringify([d2.boot, d2.firmware]);
            return same ? { d: d2, wire } : undefined;
          }, 30_000, 50);
          const where = `${ep} (at the kill: ${step})`;
          // The version it reports is the one its flash runs.
          assert.equal(wire.version, bootedVersion(d.boot), `${where} reports the version it runs: ${JSON.stringify(d.boot)}`);
          // Object 5 over the wire is what the device holds on disk…
          assert.deepEqual([wire.state, wire.result], [d.firmware?.state ?? 0, d.firmware?.result ?? 0], `${where}: State and Update Result as recorded`);
          // …and its files bear it out.
          switch (wire.state) {
            case FirmwareState.DOWNLOADING:
              assert.ok(d.partBytes !== undefined, `${where}: Downloading with a partial image on disk`);
              assert.ok(d.firmware?.packageUri, `${where}: Downloading from a Package URI`);
              if (before.partBytes !== undefined) assert.ok(d.partBytes >= before.partBytes, `${where}: resumed from its ${before.partBytes} bytes, not from zero (${d.partBytes})`);
              break;
            case FirmwareState.DOWNLOADED:
              assert.equal(d.imageBytes, d.firmware?.manifest?.size, `${where}: Downloaded with the verified image staged`);
              break;
            case FirmwareState.UPDATING: {
              // Installing now (slot invalidated while being written) or booted on trial, awaiting its health check.
              const running = d.boot.trial && d.boot.lastBoot === 'trial' ? d.boot.trial.slot : d.boot.active;
              assert.ok(d.firmware?.update, `${where}: Updating with an update under way`);
              assert.ok(d.boot.slots[other(running)] === null || d.boot.trial !== null, `${where}: Updating, and the flash shows it: ${JSON.stringify(d.boot)}`);
              assert.notEqual(step, 'updating', `${where}: a write the power cut is not reported as still under way`);
              assert.notEqual(step, 'trial', `${where}: an unconfirmed trial the power cut is not reported as still under way`);
              break;
            }
            case FirmwareState.IDLE:
              if (wire.result === UpdateResult.SUCCESS) assert.equal(wire.version, TO, `${where}: result 1 and the new version runs`);
              if (wire.result === UpdateResult.UPDATE_FAILED) assert.equal(wire.version, FROM, `${where}: result 8 and the old version runs`);
              break;
          }
          if (step === 'updating' || step === 'trial') {
            // Cut mid-write, or on trial before confirmation: the old image runs, and the device says the update failed.
            assert.deepEqual([wire.state, wire.result, wire.version], [FirmwareState.IDLE, UpdateResult.UPDATE_FAILED, FROM], where);
            assert.equal(d.boot.trial, null, `${where}: no trial left armed`);
          }
        }
      };

      // ---- kill 1: while every device is downloading ---------------------------------------
      await killAt('downloading', ['downloading'], (disks) =>
        [...disks.values()].every((d) => stepOf(d) === 'downloading' && (d.partBytes ?? 0) >= 4096),
      );
      // ---- kill 2: images staged, the users deferring (or about to be asked) -----------------
      await killAt('downloaded or deferred', ['deferred', 'downloaded'], (disks) =>
        [...disks.values()].some((d) => stepOf(d) === 'deferred') && [...disks.values()].every((d) => stepOf(d) !== 'downloading'),
      );
      // ---- kill 3: while the first group writes its inactive slot ---------------------------
      await killAt('writing the inactive slot', ['updating'], (disks) =>
        [...disks.values()].some((d) => stepOf(d) === 'updating' && d.inactiveSlotBytes >= 4096),
      );
      // ---- kill 4: a later group booted on trial, not yet confirmed ---------------------------
      await killAt('on trial, before confirmation', ['trial'], (disks) => [...disks.values()].some((d) => stepOf(d) === 'trial'));

      // ---- the rollout ends, and says what happened --------------------------------------------
      const done = await finished(gw, rolloutId, 120_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      const rows = (await call<{ items: RolloutDeviceView[] }>('GET', `/api/v1/rollouts/${rolloutId}/devices`)).body.items;
      t.diagnostic(`rollout: ${rows.map((r) => `${r.endpoint}=${r.state}/${r.updateResult}`).join(' ')}`);
      assert.ok(cut.size > 0 && cut.size < COUNT, `some installs were cut, some not (${[...cut].join(', ')})`);
      for (const row of rows) {
        const d = disk(row.endpoint);
        const version = await read(row.endpoint, '/3/0/3');
        assert.equal(version, bootedVersion(d.boot), row.endpoint);
        assert.equal(d.boot.trial, null, row.endpoint);
        if (cut.has(row.endpoint)) {
          assert.deepEqual([row.state, row.updateResult, version, d.boot.slots[d.boot.active]?.version], ['failed', 8, FROM, FROM], `${row.endpoint}: its install was cut`);
        } else {
          assert.deepEqual([row.state, version, d.boot.slots[d.boot.active]?.version], ['succeeded', TO, TO], `${row.endpoint}: updated through the kills`);
        }
      }

      // ---- no more kills: the devices whose install was cut take the image now ------------------
      for (const ep of endpoints) await call('POST', `/api/v1/devices/${ep}/write`, { path: '/5/0/13', value: 0 });
      const again = await call<RolloutView>('POST', '/api/v1/rollouts', { firmware, target: 'all' });
      assert.equal(again.status, 201, JSON.stringify(again.body));
      const second = await finished(gw, again.body.id, 120_000);
      assert.equal(second.state, 'completed', second.reason ?? '');
      for (const ep of endpoints) {
        const d = disk(ep);
        assert.deepEqual([await read(ep, '/3/0/3'), bootedVersion(d.boot), d.boot.trial, Number(await read(ep, '/5/0/3'))], [TO, TO, null, FirmwareState.IDLE], `${ep} ends on ${TO}`);
      }
    } catch (err) {
      if (sim) t.diagnostic(`--- ${sim.name} log ---\n${sim.log.slice(-5000)}`);
      throw err;
    }
  });
});
