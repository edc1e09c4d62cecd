import assert from 'node:assert/strict';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import type { GatewayConfig } from '../../gateway/config.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { api, startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { addFirmware, finished, versions, type RolloutDeviceView, type RolloutView, type TransferView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/**
 * The rollout's life beyond the happy path: devices offline when it starts, a deadline that
 * passes, pause / resume / cancel, the concurrency cap, and retries of a transient failure.
 */

const UNDER_WAY = new Set(['downloading', 'downloaded', 'updating']);

interface Setup {
  gateway: Gateway;
  identities: SimulatedIdentity[];
  firmware: string;
  devicesDir: string;
  fleets: SimulatedFleet[];
  /** Starts (more of) the fleet: the real agent on simulated hardware. */
  startDevices(ids: SimulatedIdentity[], opts?: { flashWriteBytesPerSecond?: number; downloadAttempts?: number }): Promise<SimulatedFleet>;
  done(): Promise<void>;
}

async function setUp(count: number, prefix: string, overrides: Partial<GatewayConfig> = {}): Promise<Setup> {
  const dir = tempDir();
  const gateway = await startGateway(`${dir.path}/gw`, { rollouts: { pollIntervalMs: 150 }, ...overrides });
  const identities = testIdentities(count, prefix);
  gateway.devices.importFactoryIdentities(identities);
  const firmware = await addFirmware(gateway, '1.1.0', [...new Set(identities.map((i) => i.model))]);
  const fleets: SimulatedFleet[] = [];
  const setup: Setup = {
    gateway,
    identities,
    firmware,
    devicesDir: `${dir.path}/devices`,
    fleets,
    async startDevices(ids, opts = {}) {
      const fleet = SimulatedFleet.start({
        identities: ids,
        bootstrapServerUri: gateway.mqttUrl,
        stateDir: `${dir.path}/devices`,
        reconnect: { minDelayMs: 50, maxDelayMs: 500 },
        firmware: { healthDeadlineMs: 3000, retryDelayMs: 100, ...(opts.downloadAttempts ? { downloadAttempts: opts.downloadAttempts } : {}) },
        ...(opts.flashWriteBytesPerSecond ? { flashWriteBytesPerSecond: opts.flashWriteBytesPerSecond } : {}),
        log: testLog,
      });
      fleets.push(fleet);
      await fleet.whenAllRegistered(30_000);
      return fleet;
    },
    async done() {
      for (const f of fleets) await f.stop();
      await gateway.close();
      dir.remove();
    },
  };
  return setup;
}

const rolloutDevices = async (gateway: Gateway, id: string) => (await api<{ items: RolloutDeviceView[] }>(gateway, 'GET', `/api/v1/rollouts/${id}/devices`)).body.items;
const rollout = async (gateway: Gateway, id: string) => (await api<RolloutView>(gateway, 'GET', `/api/v1/rollouts/${id}`)).body;

async function create(gateway: Gateway, body: Record<string, unknown>): Promise<string> {
  const created = await api<RolloutView>(gateway, 'POST', '/api/v1/rollouts', { target: 'all', ...body });
  assert.equal(created.status, 201, JSON.stringify(created.body));
  return created.body.id;
}

describe('rollout lifecycle', () => {
  test('devices offline at the start do not hold the rollout back: the others update, and each offline one gets its step when it returns', async () => {
    const s = await setUp(6, 'off');
    try {
      // Target order is the endpoint order: the first batch is exactly the two devices not yet running.
      const [late, early] = [s.identities.slice(0, 2), s.identities.slice(2)];
      await s.startDevices(early);
      const id = await create(s.gateway, { firmware: s.firmware, batch: 2, successPct: 100 });

      await waitFor('the online devices updated', async () => ((await rollout(s.gateway, id)).counts.succeeded === 4 ? true : undefined), 60_000, 100);
      const midway = await rollout(s.gateway, id);
      assert.equal(midway.state, 'running', 'the rollout waits for its offline devices');
      assert.equal(midway.finishedAt, null);
      const waiting = (await rolloutDevices(s.gateway, id)).filter((d) => d.state === 'waiting-offline').map((d) => d.endpoint);
      assert.deepEqual(waiting.sort(), late.map((i) => i.endpoint).sort());

      await s.startDevices(late);
      const done = await finished(s.gateway, id, 60_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.counts.succeeded, 6);
      const running = await versions(s.gateway, s.identities);
      for (const i of s.identities) assert.equal(running.get(i.endpoint), '1.1.0', i.endpoint);
    } finally {
      await s.done();
    }
  });

  test('a device still offline at the deadline ends skipped-offline; the rollout completes with the deadline as its reason', async () => {
    const s = await setUp(3, 'dl');
    try {
      await s.startDevices(s.identities.slice(1));
      // Far enough that the online devices finish first even on a loaded machine; the offline one never comes.
      const deadline = new Date(Date.now() + 20_000).toISOString();
      const id = await create(s.gateway, { firmware: s.firmware, deadline });
      await waitFor('the online devices updated', async () => ((await rollout(s.gateway, id)).counts.succeeded === 2 ? true : undefined), 20_000, 100);
      const done = await finished(s.gateway, id, 60_000);
      assert.equal(done.state, 'completed');
      assert.equal(done.reason, 'deadline reached');
      const devices = await rolloutDevices(s.gateway, id);
      const absent = devices.find((d) => d.endpoint === s.identities[0]!.endpoint)!;
      assert.equal(absent.state, 'skipped-offline');
      assert.equal(absent.attempts, 0);
      for (const d of devices.filter((x) => x !== absent)) assert.equal(d.state, 'succeeded', d.endpoint);
      // It was never offered the image.
      const transfers = (await api<{ items: TransferView[] }>(s.gateway, 'GET', `/api/v1/transfers?rollout=${id}`)).body.items;
      assert.ok(transfers.every((t) => t.endpoint !== absent.endpoint));
    } finally {
      await s.done();
    }
  });

  test('max-concurrent caps the devices under way; pause starts nobody new while those under way finish; resume goes on; cancel stops the rest', { timeout: 120_000 }, async () => {
    const s = await setUp(6, 'pc');
    try {
      // A slow flash (64 KiB image at 32 KiB/s): each install takes seconds, long enough to watch.
      await s.startDevices(s.identities, { flashWriteBytesPerSecond: 32 * 1024 });
      const id = await create(s.gateway, { firmware: s.firmware, maxConcurrent: 2 });

      let maxUnderWay = 0;
      const watch = setInterval(() => {
        void rolloutDevices(s.gateway, id).then(
          (ds) => (maxUnderWay = Math.max(maxUnderWay, ds.filter((d) => UNDER_WAY.has(d.state)).length)),
          () => undefined,
        );
      }, 50);
      try {
        await waitFor('a first device succeeded', async () => ((await rollout(s.gateway, id)).counts.succeeded >= 1 ? true : undefined), 60_000, 50);
        const paused = await api<RolloutView>(s.gateway, 'POST', `/api/v1/rollouts/${id}/pause`);
        assert.equal(paused.status, 200);
        assert.equal(paused.body.state, 'paused');
        // A start step already in flight when the pause lands may still record its attempt: let it.
        await new Promise((r) => setTimeout(r, 1000));
        const startedAtPause = (await rolloutDevices(s.gateway, id)).filter((d) => d.attempts > 0).map((d) => d.endpoint);
        // Those under way run to their outcome; nobody else is started while paused.
        await waitFor('the devices under way at the pause finished', async () => ((await rolloutDevices(s.gateway, id)).some((d) => UNDER_WAY.has(d.state)) ? undefined : true), 60_000, 100);
        await new Promise((r) => setTimeout(r, 1500));
        const whilePaused = await rolloutDevices(s.gateway, id);
        assert.deepEqual(whilePaused.filter((d) => d.attempts > 0).map((d) => d.endpoint).sort(), startedAtPause.sort(), 'nobody started while paused');
        assert.ok(whilePaused.some((d) => d.state === 'queued'), 'devices are left to update');
        assert.equal((await api(s.gateway, 'POST', `/api/v1/rollouts/${id}/pause`)).status, 409, 'a paused rollout cannot be paused again');

        assert.equal((await api<RolloutView>(s.gateway, 'POST', `/api/v1/rollouts/${id}/resume`)).body.state, 'running');
        const done = await finished(s.gateway, id, 90_000);
        assert.equal(done.state, 'completed');
        assert.equal(done.counts.succeeded, 6);
      } finally {
        clearInterval(watch);
      }
      assert.ok(maxUnderWay <= 2, `at most 2 devices under way at once, saw ${maxUnderWay}`);
      assert.ok(maxUnderWay >= 1);

      // Cancel: a second image, one device at a time; cancelled while the first installs.
      const next = await addFirmware(s.gateway, '1.2.0', [...new Set(s.identities.map((i) => i.model))]);
      const second = await create(s.gateway, { firmware: next, maxConcurrent: 1 });
      await waitFor('one device under way', async () => ((await rolloutDevices(s.gateway, second)).some((d) => UNDER_WAY.has(d.state)) ? true : undefined), 30_000, 50);
      const cancelled = await api<RolloutView>(s.gateway, 'POST', `/api/v1/rollouts/${second}/cancel`);
      assert.equal(cancelled.body.state, 'cancelled');
      const end = await finished(s.gateway, second, 60_000);
      assert.equal(end.state, 'cancelled');
      const devices = await rolloutDevices(s.gateway, second);
      const started = devices.filter((d) => d.attempts > 0);
      assert.equal(started.length, 1, 'only the device under way at the cancel was updated');
      assert.equal(started[0]!.state, 'succeeded', 'a firmware write is never cut: it finishes');
      for (const d of devices.filter((x) => x.attempts === 0)) assert.equal(d.state, 'cancelled', d.endpoint);
      const running = await versions(s.gateway, s.identities);
      for (const i of s.identities) assert.equal(running.get(i.endpoint), i.endpoint === started[0]!.endpoint ? '1.2.0' : '1.1.0', i.endpoint);
    } finally {
      await s.done();
    }
  });

  test('a transient failure (connection lost, Update Result 4) is retried with a new transfer, and the device then succeeds', async () => {
    // Devices download through a relay that cuts the first two image downloads: one per device,
    // as both start at once and a retry comes only after the rollout has seen the failure.
    const cut = new Set<string>();
    let gatewayApi = '';
    const relay: Server = createServer((req, res) => {
      const transfer = req.url?.split('/')[2] ?? '';
      if (req.url?.endsWith('.bin') && cut.size < 2) {
        cut.add(transfer);
        req.socket.destroy();
        return;
      }
      const target = new URL(gatewayApi);
      const upstream = request({ host: target.hostname, port: target.port, path: req.url, method: req.method, headers: req.headers }, (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      });
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const relayUrl = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    const s = await setUp(2, 'rt', { firmware: { baseUrl: relayUrl, coapBaseUrl: null, vendor: 'edgedm', maxImageBytes: 1 << 24 } });
    gatewayApi = s.gateway.apiUrl;
    try {
      // The agent gives up after one try, so the failure reaches the rollout as result 4.
      await s.startDevices(s.identities, { downloadAttempts: 1 });
      const id = await create(s.gateway, { firmware: s.firmware });
      const done = await finished(s.gateway, id, 60_000);
      assert.equal(done.state, 'completed', done.reason ?? '');
      const devices = await rolloutDevices(s.gateway, id);
      for (const d of devices) {
        assert.equal(d.state, 'succeeded', d.endpoint);
        assert.equal(d.attempts, 2, `${d.endpoint}: one failed attempt, one retry`);
      }
      const transfers = (await api<{ items: TransferView[] }>(s.gateway, 'GET', `/api/v1/transfers?rollout=${id}`)).body.items;
      for (const i of s.identities) assert.equal(transfers.filter((t) => t.endpoint === i.endpoint).length, 2, `${i.endpoint}: a new transfer for the retry`);
      assert.equal(cut.size, 2, 'two first downloads were cut');
      const first = new Set(transfers.filter((t) => cut.has(t.id)).map((t) => t.endpoint));
      assert.equal(first.size, 2, 'one of each device');
    } finally {
      await s.done();
      await new Promise((resolve) => relay.close(resolve));
    }
  });
});
