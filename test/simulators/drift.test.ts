import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { BatteryStatus, DeviceErrorCode, PowerSourceKind } from '../../agent/host/host-adapter.js';
import { Drift, SIGNAL_RANGE_DBM, type DriftReading } from '../../simulators/hardware/drift.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';

const HOUR = 3_600_000;
const STEP = 10_000;
const START = { batteryPercent: 80, memoryTotalKiB: 512, memoryFreeKiB: 256, signalDbm: -90 };

/** Readings every `everyMs` of simulated time over `hours`. */
function trace(drift: Drift, hours: number, everyMs = STEP): DriftReading[] {
  const out: DriftReading[] = [];
  for (let t = everyMs; t <= hours * HOUR; t += everyMs) out.push(drift.at(t));
  return out;
}

describe('simulator drift', () => {
  test('every reading stays in its realistic range, over a simulated month of many devices', () => {
    for (let seed = 1; seed <= 40; seed++) {
      const start = { ...START, memoryFreeKiB: 20 + seed * 10, signalDbm: -70 - seed };
      for (const r of trace(new Drift(seed, start, {}, 0), 24 * 30, 60_000)) {
        assert.ok(r.batteryPercent >= 0 && r.batteryPercent <= 100, `battery ${r.batteryPercent}`);
        assert.ok(r.memoryFreeKiB >= 0 && r.memoryFreeKiB <= start.memoryTotalKiB, `memory ${r.memoryFreeKiB}`);
        assert.ok(r.signalDbm >= SIGNAL_RANGE_DBM.min && r.signalDbm <= SIGNAL_RANGE_DBM.max, `signal ${r.signalDbm}`);
        assert.ok(r.linkQuality >= 0 && r.linkQuality <= 100, `link quality ${r.linkQuality}`);
        assert.ok(Number.isInteger(r.signalDbm) && Number.isInteger(r.linkQuality) && Number.isInteger(r.memoryFreeKiB));
      }
    }
  });

  test('deterministic by seed, whatever the reads: the same seed and time give the same readings', () => {
    const often = new Drift(7, START, {}, 0);
    const once = new Drift(7, START, {}, 0);
    trace(often, 5, 1000);
    assert.deepEqual(once.at(5 * HOUR), often.at(5 * HOUR), 'read every second or only at the end');
    assert.deepEqual(trace(new Drift(7, START, {}, 0), 2), trace(new Drift(7, START, {}, 0), 2));
    assert.notDeepEqual(trace(new Drift(8, START, {}, 0), 2), trace(new Drift(7, START, {}, 0), 2), 'another seed, another device');
    // Steps count from the start time: a device started later drifts the same way from then on.
    assert.deepEqual(new Drift(7, START, {}, 1_000_000).at(1_000_000 + HOUR), new Drift(7, START, {}, 0).at(HOUR));
  });

  test('the values actually move: signal and link quality each step, memory, the battery over hours', () => {
    const drift = new Drift(3, START, { mainsShare: 0 }, 0);
    const hour = trace(drift, 1);
    assert.ok(new Set(hour.map((r) => r.signalDbm)).size >= 8, 'signal wanders');
    assert.ok(new Set(hour.map((r) => r.linkQuality)).size >= 8, 'link quality wanders');
    assert.ok(new Set(hour.map((r) => r.memoryFreeKiB)).size >= 20, 'free memory wanders');
    assert.ok(hour.some((r, i) => i > 0 && r.signalDbm > hour[i - 1]!.signalDbm) && hour.some((r, i) => i > 0 && r.signalDbm < hour[i - 1]!.signalDbm), 'both ways');
    const battery = hour.map((r) => r.batteryPercent);
    assert.ok(battery.at(-1)! < battery[0]!, `a battery device discharges: ${battery[0]} → ${battery.at(-1)}`);
    assert.ok(battery[0]! - battery.at(-1)! < 3, 'slowly');
  });

  test('a battery device is recharged when it runs low and discharges again: a sawtooth between its low point and 100 %', () => {
    const drift = new Drift(11, { ...START, batteryPercent: 30 }, { mainsShare: 0 }, 0);
    const levels = trace(drift, 24 * 20, 5 * 60_000);
    const charging = levels.filter((r) => r.charging);
    assert.ok(charging.length > 0, 'put on charge at some point');
    assert.ok(levels.some((r) => r.batteryPercent >= 99.9), 'charged full');
    const low = Math.min(...levels.map((r) => r.batteryPercent));
    assert.ok(low >= 7 && low <= 26, `recharged around its low point, not drained flat: ${low}`);
    const turns = levels.filter((r, i) => i > 0 && r.charging !== levels[i - 1]!.charging).length;
    assert.ok(turns >= 3, `charges and discharges in turn (${turns} changes)`);
  });

  test('mains devices sit charged, discharge during outages and charge again; about the share asked', () => {
    const devices = Array.from({ length: 200 }, (_, i) => new Drift(i + 1, START, { mainsShare: 0.25 }, 0));
    const mains = devices.filter((d) => d.mainsPowered);
    assert.ok(mains.length >= 35 && mains.length <= 65, `${mains.length} of 200 on mains`);
    const one = mains[0]!;
    const week = trace(one, 24 * 7, 60_000);
    assert.ok(week.some((r) => !r.onMains), 'an outage happens');
    assert.ok(week.filter((r) => r.onMains).length > week.length * 0.8, 'mostly on mains');
    const inOutage = week.findIndex((r) => !r.onMains);
    const back = week.findIndex((r, i) => i > inOutage && r.onMains);
    assert.ok(week[back - 1]!.batteryPercent < 100 && week.slice(back).some((r) => r.charging), 'discharged in the outage, charging after');
  });

  test('free memory leaks now and then and recovers', () => {
    const perDevice = Array.from({ length: 10 }, (_, i) => {
      const readings = trace(new Drift(i + 1, START, {}, 0), 48, 60_000).map((r) => r.memoryFreeKiB);
      let leaks = 0;
      for (let t = 10; t < readings.length; t++) {
        // Over 10 % of the memory gone within 10 minutes, then back near the baseline within the hour.
        if (readings[t - 10]! - readings[t]! > START.memoryTotalKiB * 0.1 && readings.slice(t, t + 60).some((v) => v > START.memoryFreeKiB * 0.9)) {
          leaks++;
          t += 60;
        }
      }
      return leaks;
    });
    assert.ok(perDevice.every((n) => n >= 1), `every device leaks at least once in 48 h: ${perDevice}`);
    assert.ok(perDevice.reduce((a, b) => a + b, 0) >= 20, `about one leak every 6 h: ${perDevice}`);
  });

  test('speed runs the walks faster: an hour of drift in a minute', () => {
    assert.deepEqual(new Drift(9, START, { speed: 60 }, 0).at(60_000), new Drift(9, START, {}, 0).at(HOUR));
    assert.throws(() => new Drift(9, START, { speed: 0 }, 0), /positive/);
  });

  test('a simulated host with drift: the object tree sees the values move; a value set by a test drifts on from there', () => {
    let now = Date.parse('2026-12-02T00:00:00Z');
    const host = new SimulatedHost({ serialNumber: 'SN-D', seed: 4, drift: {}, now: () => new Date(now) });
    const same = new SimulatedHost({ serialNumber: 'SN-D', seed: 4, drift: {}, now: () => new Date(now) });
    const still = new SimulatedHost({ serialNumber: 'SN-D', seed: 4, now: () => new Date(now) });
    assert.deepEqual(host.network().signalStrength, still.network().signalStrength, 'drift starts from the figures the seed gives');
    const signals = new Set<number>();
    for (let i = 0; i < 360; i++) {
      now += STEP;
      signals.add(host.network().signalStrength);
      assert.deepEqual([host.network(), host.memory(), host.power()], [same.network(), same.memory(), same.power()], 'the same seed, the same device');
    }
    assert.ok(signals.size > 5, 'the signal moves');
    assert.equal(still.network().signalStrength, still.network().signalStrength);

    host.setBatteryLevel(12);
    const power = host.power();
    assert.equal(power.batteryLevel, 12);
    assert.ok([BatteryStatus.LOW, BatteryStatus.CHARGING].includes(power.batteryStatus as 4 | 1));
    assert.ok(host.errorCodes().includes(DeviceErrorCode.LOW_BATTERY));
    assert.ok(power.sources.some((s) => s.kind === PowerSourceKind.INTERNAL_BATTERY));
    host.setSignalStrength(-120);
    assert.equal(host.network().signalStrength, -120);
    assert.ok(host.errorCodes().includes(DeviceErrorCode.LOW_SIGNAL));
    now += HOUR;
    assert.notEqual(host.network().signalStrength, -120, 'and it drifts on');
  });
});
