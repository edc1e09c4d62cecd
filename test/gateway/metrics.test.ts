import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { after, before, describe, test } from 'node:test';
import { generate, parse } from 'coap-packet';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { api, apiHeaders, startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { addFirmware } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/** One scrape: every sample by `name{label="value",…}` (labels sorted), as Prometheus reads it. */
class Scrape {
  private readonly samples = new Map<string, number>();

  constructor(readonly text: string) {
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const m = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
      assert.ok(m, `a sample line: ${line}`);
      const labels = [...(m[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, k, v]) => [k!, v!] as const);
      this.samples.set(Scrape.key(m[1]!, Object.fromEntries(labels)), Number(m[3]));
    }
  }

  static key(name: string, labels: Record<string, string> = {}): string {
    const inner = Object.entries(labels)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([k, v]) => `${k}="${v}"`)
      .join(',');
    return inner ? `${name}{${inner}}` : name;
  }

  /** The sample's value; fails when the series is not there (a missing series is not a zero). */
  value(name: string, labels: Record<string, string> = {}): number {
    const v = this.samples.get(Scrape.key(name, labels));
    assert.ok(v !== undefined, `${Scrape.key(name, labels)} is exposed`);
    return v;
  }

  /** Every series of a metric, with its labels. */
  series(name: string): { labels: Record<string, string>; value: number }[] {
    return [...this.samples]
      .filter(([k]) => k === name || k.startsWith(`${name}{`))
      .map(([k, value]) => ({ labels: Object.fromEntries([...k.matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)].map(([, a, b]) => [a!, b!])), value }));
  }

  sum(name: string, where: Record<string, string> = {}): number {
    return this.series(name)
      .filter((s) => Object.entries(where).every(([k, v]) => s.labels[k] === v))
      .reduce((n, s) => n + s.value, 0);
  }
}

async function scrape(gateway: Gateway): Promise<Scrape> {
  const res = await fetch(`${gateway.apiUrl}/metrics`, { headers: apiHeaders(gateway) });
  assert.equal(res.status, 200);
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  return new Scrape(await res.text());
}

describe('Prometheus metrics at /metrics', () => {
  const dir = tempDir();
  const online = testIdentities(3, 'met');
  const away = testIdentities(2, 'away');
  let gateway: Gateway;
  let fleet: SimulatedFleet;

  before(async () => {
    // No monitoring observations: after the identity read, the gateway sends devices nothing the test does not.
    gateway = await startGateway(`${dir.path}/gateway`, { monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, observe: false } });
    gateway.devices.importFactoryIdentities(away);
    fleet = startFleet(gateway, online, `${dir.path}/devices`);
    await fleet.whenAllRegistered(20_000);
    await waitFor('the identity of every device read', () => online.every((i) => gateway.repository.get(i.endpoint)?.serialNumber));
  });
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('devices by status and transport match the registry, every combination present', async () => {
    const m = await scrape(gateway);
    const expected = new Map<string, number>();
    for (const d of gateway.repository.list()) {
      const key = `${d.status}/${d.transport ?? 'none'}`;
      expected.set(key, (expected.get(key) ?? 0) + 1);
    }
    assert.deepEqual(Object.fromEntries(expected), { 'online/mqtt': 3, 'offline/none': 2 });
    for (const s of m.series('edgedm_devices')) assert.equal(s.value, expected.get(`${s.labels.status}/${s.labels.transport}`) ?? 0, JSON.stringify(s.labels));
    assert.equal(m.series('edgedm_devices').length, 5 * 4, 'every status × (mqtt, coap, lwm2m, none), zeros included');
    const health = (await api<{ devices: Record<string, number> }>(gateway, 'GET', '/healthz')).body;
    assert.equal(m.sum('edgedm_devices', { status: 'online' }), health.devices.online);
    assert.equal(m.value('edgedm_mqtt_connections'), 3);
    assert.equal(m.value('edgedm_build_info', { version: (await api<{ version: string }>(gateway, 'GET', '/healthz')).body.version }), 1);
  });

  test('a device going offline moves it between the gauges at the next scrape', async () => {
    const before = await scrape(gateway);
    assert.equal(before.value('edgedm_devices', { status: 'online', transport: 'mqtt' }), 3);
    await fleet.device(online[2]!.endpoint)!.stop();
    await waitFor('the device offline', () => gateway.repository.get(online[2]!.endpoint)?.status === 'offline');
    const after = await scrape(gateway);
    assert.equal(after.value('edgedm_devices', { status: 'online', transport: 'mqtt' }), 2);
    assert.equal(after.value('edgedm_devices', { status: 'offline', transport: 'mqtt' }), 1);
    assert.equal(after.value('edgedm_mqtt_connections'), 2);
  });

  test('operations count by kind, transport and result, with their latency histogram', async () => {
    const ep = online[0]!.endpoint;
    const before = await scrape(gateway);
    const ok = { kind: 'read', transport: 'mqtt', result: 'success' };
    const failed = { kind: 'read', transport: 'mqtt', result: 'failure' };
    const latency = { kind: 'read', transport: 'mqtt' };
    const was = {
      ok: before.value('edgedm_device_operations_total', ok),
      failed: before.sum('edgedm_device_operations_total', failed),
      count: before.value('edgedm_device_operation_duration_seconds_count', latency),
      sum: before.value('edgedm_device_operation_duration_seconds_sum', latency),
      out: before.value('edgedm_mqtt_messages_total', { direction: 'out' }),
      in: before.value('edgedm_mqtt_messages_total', { direction: 'in' }),
    };
    assert.ok(was.ok >= 3, `the identity reads counted (${was.ok})`);

    for (const path of ['/3/0/0', '/3/0/2']) assert.equal((await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path })).body.code, '2.05');
    assert.equal((await api<{ code: string }>(gateway, 'POST', `/api/v1/devices/${ep}/read`, { path: '/3/0/99' })).body.code, '4.04');
    assert.equal((await api(gateway, 'POST', `/api/v1/devices/${ep}/execute`, { path: '/3/0/99' })).status, 200);

    const m = await scrape(gateway);
    assert.equal(m.value('edgedm_device_operations_total', ok), was.ok + 2);
    assert.equal(m.value('edgedm_device_operations_total', failed), was.failed + 1);
    assert.equal(m.value('edgedm_device_operations_total', { kind: 'execute', transport: 'mqtt', result: 'failure' }), 1);
    assert.equal(m.value('edgedm_device_operation_duration_seconds_count', latency), was.count + 3);
    assert.equal(m.value('edgedm_device_operation_duration_seconds_bucket', { ...latency, le: '+Inf' }), was.count + 3);
    assert.ok(m.value('edgedm_device_operation_duration_seconds_sum', latency) > was.sum, 'the latencies add up');
    // The buckets are cumulative and end at the count.
    const buckets = m.series('edgedm_device_operation_duration_seconds_bucket').filter((s) => s.labels.kind === 'read' && s.labels.transport === 'mqtt');
    const ordered = buckets.sort((a, b) => (a.labels.le === '+Inf' ? 1 : b.labels.le === '+Inf' ? -1 : Number(a.labels.le) - Number(b.labels.le)));
    for (let i = 1; i < ordered.length; i++) assert.ok(ordered[i]!.value >= ordered[i - 1]!.value);
    // Each operation is one PUBLISH down and (at least) one answer up.
    assert.equal(m.value('edgedm_mqtt_messages_total', { direction: 'out' }), was.out + 4);
    assert.ok(m.value('edgedm_mqtt_messages_total', { direction: 'in' }) >= was.in + 4);
    const health = (await api<{ mqtt: { connectsAdmitted: number; connectsRefused: number } }>(gateway, 'GET', '/healthz')).body;
    assert.equal(m.value('edgedm_mqtt_connects_total', { result: 'admitted' }), health.mqtt.connectsAdmitted);
    assert.equal(m.value('edgedm_mqtt_connects_total', { result: 'refused' }), 0);
  });

  test('an operation on a device that cannot be reached is not one sent: nothing counted', async () => {
    const before = await scrape(gateway);
    assert.equal((await api(gateway, 'POST', `/api/v1/devices/${away[0]!.endpoint}/read`, { path: '/3/0/0' })).status, 409);
    const after = await scrape(gateway);
    assert.equal(after.sum('edgedm_device_operations_total'), before.sum('edgedm_device_operations_total'));
  });

  test('fleet-command queue depth and commands by state', async () => {
    const created = await api<{ id: string }>(gateway, 'POST', '/api/v1/fleet/commands', { target: `id:${away.map((i) => i.endpoint).join(',')}`, operation: 'reboot' });
    assert.equal(created.status, 201);
    const m = await waitFor('both rows queued', async () => {
      const s = await scrape(gateway);
      return s.value('edgedm_fleet_command_queue_depth', { state: 'queued' }) === 2 ? s : undefined;
    });
    assert.equal(m.value('edgedm_fleet_command_queue_depth', { state: 'sent' }), 0);
    assert.equal(m.value('edgedm_fleet_commands', { state: 'running' }), 1);
    await api(gateway, 'POST', `/api/v1/fleet/commands/${created.body.id}/cancel`);
    const after = await scrape(gateway);
    assert.equal(after.value('edgedm_fleet_command_queue_depth', { state: 'queued' }), 0);
    assert.equal(after.value('edgedm_fleet_commands', { state: 'cancelled' }), 1);
    assert.equal(after.value('edgedm_fleet_commands', { state: 'running' }), 0);
  });

  test('rollout progress: devices by update state per rollout in progress, as the API counts them', async () => {
    const firmware = await addFirmware(gateway, '9.9.9', ['EDM-TH1', 'EDM-MT3', 'EDM-GW2']);
    const created = await api<{ id: string }>(gateway, 'POST', '/api/v1/rollouts', { firmware, target: `id:${away.map((i) => i.endpoint).join(',')}` });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const id = created.body.id;
    const rollout = (await api<{ state: string; total: number; counts: Record<string, number> }>(gateway, 'GET', `/api/v1/rollouts/${id}`)).body;
    const m = await scrape(gateway);
    assert.equal(m.value('edgedm_rollouts', { state: 'running' }), rollout.state === 'running' ? 1 : 0);
    const series = m.series('edgedm_rollout_devices').filter((s) => s.labels.rollout === id);
    assert.equal(series.reduce((n, s) => n + s.value, 0), 2);
    for (const s of series) assert.equal(s.value, rollout.counts[s.labels.state!] ?? 0, s.labels.state);
    await api(gateway, 'POST', `/api/v1/rollouts/${id}/cancel`);
    await waitFor('the cancelled rollout finished', async () => (await api<{ finishedAt: string | null }>(gateway, 'GET', `/api/v1/rollouts/${id}`)).body.finishedAt);
    const after = await scrape(gateway);
    assert.equal(after.series('edgedm_rollout_devices').filter((s) => s.labels.rollout === id).length, 0, 'a finished rollout leaves the gauge');
    assert.equal(after.value('edgedm_rollouts', { state: 'cancelled' }), 1);
  });

  test('alarms by severity and state', async () => {
    const ep = online[1]!.endpoint;
    // Battery at 5 %: below both battery rules (warning < 20, critical < 10).
    gateway.management.alarms.evaluateValues(ep, '/3/0/9', [{ path: '/3/0/9', type: 'integer', value: 5 }]);
    const raised = await waitFor('two alarms', async () => {
      const r = (await api<{ items: { id: number; severity: string }[] }>(gateway, 'GET', `/api/v1/alarms?endpoint=${ep}&state=active`)).body.items;
      return r.length === 2 ? r : undefined;
    });
    const critical = raised.find((a) => a.severity === 'critical')!;
    assert.equal((await api(gateway, 'POST', `/api/v1/alarms/${critical.id}/acknowledge`, { by: 'metrics-test' })).status, 200);
    const m = await scrape(gateway);
    assert.equal(m.value('edgedm_alarms', { severity: 'critical', state: 'acknowledged' }), 1);
    assert.equal(m.value('edgedm_alarms', { severity: 'warning', state: 'active' }), 1);
    assert.equal(m.value('edgedm_alarms', { severity: 'critical', state: 'active' }), 0);
    assert.equal(m.sum('edgedm_alarms'), (await api<{ total: number }>(gateway, 'GET', '/api/v1/alarms')).body.total);
  });

  test('CoAP datagrams and their bytes, both ways', async () => {
    const before = await scrape(gateway);
    const socket = createSocket('udp4');
    try {
      const request = generate({
        code: 'GET',
        confirmable: true,
        messageId: 4242,
        token: randomBytes(4),
        options: [
          { name: 'Uri-Path', value: Buffer.from('.well-known') },
          { name: 'Uri-Path', value: Buffer.from('core') },
        ],
      });
      socket.send(request, gateway.coapPort!, '127.0.0.1');
      const [answer] = (await once(socket, 'message')) as [Buffer];
      assert.equal(parse(answer).code, '2.05');
      const m = await scrape(gateway);
      const delta = (name: string, direction: string) => m.value(name, { direction }) - before.value(name, { direction });
      assert.equal(delta('edgedm_coap_datagrams_total', 'in'), 1);
      assert.equal(delta('edgedm_coap_bytes_total', 'in'), request.length);
      assert.equal(delta('edgedm_coap_datagrams_total', 'out'), 1);
      assert.equal(delta('edgedm_coap_bytes_total', 'out'), answer.length);
    } finally {
      socket.close();
    }
  });

  test('firmware bytes served count what went out, a range as its length', async () => {
    const firmware = await addFirmware(gateway, '9.9.10', ['EDM-TH1']);
    const transfer = gateway.firmware.createTransfer({ firmwareId: firmware, endpoint: online[0]!.endpoint, rolloutId: null, transport: 'http', allowDowngrade: false });
    const before = (await scrape(gateway)).value('edgedm_firmware_bytes_served_total');
    const res = await fetch(`${gateway.apiUrl}/fw/${transfer.id}/sim-9.9.10.bin`, { headers: { range: 'bytes=100-1123' } });
    assert.equal(res.status, 206);
    assert.equal((await res.arrayBuffer()).byteLength, 1024);
    await waitFor('the bytes counted', async () => (await scrape(gateway)).value('edgedm_firmware_bytes_served_total') === before + 1024);
  });

  test('the Node.js process metrics are there too', async () => {
    const m = await scrape(gateway);
    assert.ok(m.value('process_cpu_user_seconds_total') > 0);
    assert.ok(m.value('nodejs_heap_size_used_bytes') > 0);
    assert.ok(m.value('process_start_time_seconds') > 1.6e9);
  });

  test('each gateway has its own registry: a second one in the same process counts its own devices', async () => {
    const other = await startGateway(`${dir.path}/other`);
    try {
      const m = await scrape(other);
      assert.equal(m.sum('edgedm_devices'), 0);
      assert.equal(m.sum('edgedm_device_operations_total'), 0);
      assert.equal((await scrape(gateway)).sum('edgedm_devices'), 5);
    } finally {
      await other.close();
    }
  });
});
