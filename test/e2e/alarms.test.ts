import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import type { AlarmView } from '../../gateway/alarms/alarm-view.js';
import { api, startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { followEvents } from '../support/events.js';
import { addFirmware, finished, startFirmwareFleet, type RolloutView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/** Notifications every second: the simulated hardware's readings reach the gateway at pmax. */
const FAST_MONITORING = { monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, pmin: 0, pmax: 1 }, alarms: { ...DEFAULT_GATEWAY_CONFIG.alarms, offlineCheckIntervalMs: 100, restartGraceSeconds: 0 } };

type AlarmPage = { items: AlarmView[]; total: number };

async function alarmsOf(gateway: Parameters<typeof api>[0], query: string): Promise<AlarmView[]> {
  const r = await api<AlarmPage>(gateway, 'GET', `/api/v1/alarms?${query}`);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body.items;
}

describe('alarms on simulated devices', () => {
  test('battery low: raised from real notifications, acknowledged, cleared when the battery is back; time series for the charts', async () => {
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`, FAST_MONITORING);
    const identities = testIdentities(3, 'al');
    const fleet = startFleet(gateway, identities, `${dir.path}/devices`);
    const stream = await followEvents(`${gateway.apiUrl}/api/v1/events`);
    try {
      await fleet.whenAllRegistered(20_000);
      const endpoint = identities[1]!.endpoint;
      fleet.device(endpoint)!.host.setBatteryLevel(15);

      const alarm = await waitFor('battery-low raised', async () => (await alarmsOf(gateway, `endpoint=${endpoint}&state=active`)).find((a) => a.ruleId === 'battery-low'));
      assert.equal(alarm.severity, 'warning');
      assert.match(alarm.message, /\/3\/0\/9 = 15/);
      for (const other of [identities[0]!.endpoint, identities[2]!.endpoint]) assert.deepEqual(await alarmsOf(gateway, `endpoint=${other}`), [], `${other} has no alarm`);

      const ack = await api<AlarmView>(gateway, 'POST', `/api/v1/alarms/${alarm.id}/acknowledge`, {});
      assert.equal(ack.status, 200, JSON.stringify(ack.body));
      assert.equal(ack.body.state, 'acknowledged');
      assert.equal(ack.body.acknowledgedBy, 'admin', 'the authenticated operator, not a name the request claims');
      const again = await api<{ error: { code: string } }>(gateway, 'POST', `/api/v1/alarms/${alarm.id}/acknowledge`, {});
      assert.equal(again.status, 409);
      assert.equal(again.body.error.code, 'alarm_conflict');
      assert.equal((await alarmsOf(gateway, `state=acknowledged&endpoint=${endpoint}`)).length, 1);

      fleet.device(endpoint)!.host.setBatteryLevel(80);
      const cleared = await waitFor('battery-low cleared', async () => (await alarmsOf(gateway, `endpoint=${endpoint}&state=cleared`)).find((a) => a.id === alarm.id));
      assert.equal(cleared.acknowledgedBy, 'admin');
      await waitFor('alarm events on the stream', () => ['alarm.raised', 'alarm.acknowledged', 'alarm.cleared'].every((t) => stream.events.some((e) => e.type === t && (e.data.alarm as AlarmView).id === alarm.id)));

      // The same notifications fed the time series: 15 then 80 are among the battery samples.
      const series = await api<{ series: { path: string; points: { value: number }[] }[] }>(gateway, 'GET', `/api/v1/devices/${endpoint}/timeseries?path=/3/0/9&from=1h`);
      assert.equal(series.status, 200);
      const values = series.body.series[0]!.points.map((p) => p.value);
      assert.ok(values.includes(15) && values.includes(80), JSON.stringify(values));
      const all = await api<{ series: { path: string }[] }>(gateway, 'GET', `/api/v1/devices/${endpoint}/timeseries`);
      for (const path of ['/3/0/9', '/3/0/10', '/3/0/11/0', '/4/0/2', '/4/0/3']) assert.ok(all.body.series.some((s) => s.path === path), `${path} is charted`);
      const bad = await api<{ error: { code: string } }>(gateway, 'GET', `/api/v1/devices/${endpoint}/timeseries?from=yesterday`);
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_time');
      assert.equal((await api(gateway, 'GET', '/api/v1/devices/nobody/timeseries')).status, 404);
    } finally {
      stream.close();
      await fleet.stop();
      await gateway.close();
      dir.remove();
    }
  });

  test('offline longer than a (short) threshold, with a rule made through the API; cleared when the device is back', async () => {
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`, FAST_MONITORING);
    const identities = testIdentities(2, 'ao');
    const fleet = startFleet(gateway, identities, `${dir.path}/devices`);
    try {
      await fleet.whenAllRegistered(20_000);
      const bad = await api<{ error: { code: string } }>(gateway, 'POST', '/api/v1/alarm-rules', { name: 'x', kind: 'offline', severity: 'major' });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.code, 'invalid_alarm_rule');
      const created = await api<{ id: string; afterSeconds: number }>(gateway, 'POST', '/api/v1/alarm-rules', { name: 'offline > 1 s', kind: 'offline', severity: 'critical', afterSeconds: 1 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      assert.equal(created.body.afterSeconds, 1);

      const endpoint = identities[0]!.endpoint;
      const device = fleet.device(endpoint)!;
      const cycle = device.powerCut(4000);
      const alarm = await waitFor('offline alarm', async () => (await alarmsOf(gateway, `endpoint=${endpoint}&state=active`)).find((a) => a.ruleId === created.body.id));
      assert.equal(alarm.severity, 'critical');
      assert.deepEqual(await alarmsOf(gateway, `endpoint=${identities[1]!.endpoint}`), []);
      await cycle;
      const cleared = await waitFor('offline alarm cleared', async () => (await alarmsOf(gateway, `endpoint=${endpoint}&state=cleared`)).find((a) => a.id === alarm.id), 20_000);
      assert.match(cleared.clearReason ?? '', /online/);

      assert.equal((await api(gateway, 'DELETE', `/api/v1/alarm-rules/${created.body.id}`)).status, 204);
      assert.equal((await api(gateway, 'DELETE', `/api/v1/alarm-rules/${created.body.id}`)).status, 404);
    } finally {
      await fleet.stop();
      await gateway.close();
      dir.remove();
    }
  });

  test('update failed: a rollout whose device fails its health check raises it, with the Update Result', async () => {
    const dir = tempDir();
    const gateway = await startGateway(`${dir.path}/gw`, { ...FAST_MONITORING, rollouts: { pollIntervalMs: 150 } });
    const identities = testIdentities(2, 'au');
    const fleet = startFirmwareFleet(gateway, identities, `${dir.path}/devices`, 'health-fail=50%');
    try {
      await fleet.whenAllRegistered(20_000);
      const firmware = await addFirmware(gateway, '1.1.0', [...new Set(identities.map((i) => i.model))]);
      const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: 'all', canary: 0, abortFailurePct: 100 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const done = await finished(gateway, created.body.id, 60_000);
      assert.equal(done.counts.failed, 1, JSON.stringify(done));
      const failed = (await alarmsOf(gateway, 'state=active')).filter((a) => a.ruleId === 'update-failed');
      assert.equal(failed.length, 1);
      assert.match(failed[0]!.message, /Update Result 8/);
    } finally {
      await fleet.stop();
      await gateway.close();
      dir.remove();
    }
  });
});
