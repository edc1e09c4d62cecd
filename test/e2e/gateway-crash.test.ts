import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { FirmwareState } from '../../protocol/firmware/index.js';
import { formatFactoryCsv } from '../../gateway/fleet/factory-import.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { CliProcess } from '../support/cli-process.js';
import { TEST_ADMIN, tempDir, testIdentities, testLog } from '../support/harness.js';
import { freePort, freeUdpPort } from '../support/ports.js';
import { ThrottlingHttpProxy } from '../support/proxies.js';
import { waitFor } from '../support/wait.js';
import type { RolloutDeviceView, RolloutView, TransferView } from '../support/rollouts.js';

/**
 * The crash scenario: the gateway process is killed with SIGKILL in the middle of a
 * staged rollout and started again on the same data directory. The rollout must continue from
 * the SQL store, finish, update every device exactly once, and forget none.
 */

interface BootRecord {
  active: 'a' | 'b';
  slots: Record<'a' | 'b', { version: string; sha256: string } | null>;
  trial: { slot: 'a' | 'b'; attempts: number } | null;
  lastBoot: string;
}

const FLEET_SIZE = 35;
const CANARY = 5;
const BATCH = 10;
const FROM = '1.0.0';
const TO = '1.1.0';
/** Big enough, and the link slow enough, that a batch takes a few seconds to download. */
const IMAGE = Buffer.from(Array.from({ length: 160 * 1024 }, (_, i) => (i * 7 + (i >> 9)) & 0xff));
/** Each download gets its own link speed (1 to 4 s for the image), so devices of a batch drift apart. */
const LINK_SPEEDS = [40, 64, 96, 128, 160].map((k) => k * 1024);
/** A flash write takes about a second: the kill can find devices installing. */
const FLASH_BYTES_PER_SECOND = 160 * 1024;
const UNDER_WAY = new Set(['downloading', 'downloaded', 'updating']);

describe('gateway killed with SIGKILL mid-rollout', () => {
  const dir = tempDir('edgedm-gwcrash-');
  let gateway: CliProcess | undefined;
  let fleet: SimulatedFleet | undefined;
  let proxy: ThrottlingHttpProxy | undefined;

  after(async () => {
    await gateway?.kill();
    await fleet?.stop().catch(() => undefined);
    await proxy?.close();
    dir.remove();
  });

  test('restarted on the same store (twice), the rollout continues: all devices end on the new image, each updated exactly once', { timeout: 300_000 }, async (t) => {
    const dataDir = join(dir.path, 'gateway');
    const devicesDir = join(dir.path, 'devices');
    const mqttPort = await freePort();
    const apiPort = await freePort();
    // Never the default 5683: a developer's `npm start` (or another test) may hold it.
    const coapPort = await freeUdpPort();
    const apiUrl = `http://127.0.0.1:${apiPort}`;
    // Devices pull images through a slow link, so the kill lands while downloads are under way.
    proxy = await new ThrottlingHttpProxy(apiUrl, (n) => LINK_SPEEDS[n % LINK_SPEEDS.length]!).start();

    const startGateway = async (name: string): Promise<CliProcess> => {
      const child = CliProcess.start(name, ['gateway', '--data', dataDir, '--mqtt-port', String(mqttPort), '--api-port', String(apiPort), '--coap-port', String(coapPort), '--log-level', 'info'], {
        EDGEDM_ROLLOUT_POLL_MS: '200',
        EDGEDM_FIRMWARE_BASE_URL: proxy!.url,
        EDGEDM_REQUEST_TIMEOUT_MS: '5000',
        EDGEDM_ADMIN_PASSWORD: TEST_ADMIN.password,
      });
      gateway = child;
      await child.waitForOutput(/"msg":"gateway started"/, 60_000);
      return child;
    };
    let token: string | undefined;
    const call = async <T>(method: string, path: string, body?: unknown, type = 'application/json'): Promise<{ status: number; body: T }> => {
      // Logged in once, as an operator would be; the token survives the gateway's restart.
      token ??= await login(apiUrl);
      const init: RequestInit = { method, headers: { authorization: `Bearer ${token}` } };
      if (body !== undefined) {
        init.headers = { authorization: `Bearer ${token}`, 'content-type': type };
        init.body = Buffer.isBuffer(body) || typeof body === 'string' ? body : JSON.stringify(body);
      }
      const res = await fetch(`${apiUrl}${path}`, init);
      const text = await res.text();
      return { status: res.status, body: (text ? JSON.parse(text) : undefined) as T };
    };
    const rolloutDevices = async (id: string) => (await call<{ items: RolloutDeviceView[] }>('GET', `/api/v1/rollouts/${id}/devices`)).body.items;
    const transfersOf = async (id: string) => (await call<{ items: TransferView[] }>('GET', `/api/v1/transfers?rollout=${id}`)).body.items;

    await startGateway('gateway (first run)');
    try {
      // ---- a fleet on the gateway, an image, a staged rollout ------------------------------
      const identities = testIdentities(FLEET_SIZE, 'gc');
      const imported = await call<{ created: number }>('POST', '/api/v1/devices/import', formatFactoryCsv(identities), 'text/csv');
      assert.equal(imported.status, 200, JSON.stringify(imported.body));
      fleet = SimulatedFleet.start({
        identities,
        bootstrapServerUri: `mqtt://127.0.0.1:${mqttPort}`,
        stateDir: devicesDir,
        firmwareVersion: FROM,
        flashWriteBytesPerSecond: FLASH_BYTES_PER_SECOND,
        reconnect: { minDelayMs: 100, maxDelayMs: 1000 },
        // Downloads ride out the gateway's absence (retries over ~15 s); a trial boot has ample time to reach it again.
        firmware: { healthDeadlineMs: 90_000, retryDelayMs: 500 },
        log: testLog,
      });
      await fleet.whenAllRegistered(60_000);
      await waitFor('every device online at the gateway', async () => (await call<{ devices: Record<string, number> }>('GET', '/healthz')).body.devices.online === FLEET_SIZE, 30_000, 100);

      const models = [...new Set(identities.map((i) => i.model))].join(',');
      const added = await call<{ id: string }>('POST', `/api/v1/firmware?name=gc&version=${TO}&model=${models}`, IMAGE, 'application/octet-stream');
      assert.equal(added.status, 201, JSON.stringify(added.body));
      const created = await call<RolloutView>('POST', '/api/v1/rollouts', { firmware: added.body.id, target: 'all', canary: CANARY, batch: BATCH, successPct: 100, timeoutSeconds: 600 });
      assert.equal(created.status, 201, JSON.stringify(created.body));
      const rolloutId = created.body.id;
      assert.equal(created.body.total, FLEET_SIZE);

      // ---- kill -9 twice: in the batch after the canary, and in the one after that ---------
      // Each time some devices have succeeded, some are downloading, some installing, some not started.
      const kills: { succeeded: Set<string>; transfers: TransferView[] }[] = [];
      let restarted!: CliProcess;
      let lastKillAt = 0;
      for (const [round, succeededAtLeast] of [
        [1, CANARY],
        [2, CANARY + BATCH],
      ] as const) {
        const atKill = await waitFor(
          `round ${round}: ≥ ${succeededAtLeast} succeeded, others downloading and installing, others not started`,
          async () => {
            const devices = await rolloutDevices(rolloutId);
            const count = (state: string) => devices.filter((d) => d.state === state).length;
            return count('succeeded') >= succeededAtLeast && count('downloading') >= 1 && count('updating') >= 1 && count('queued') > 0 ? devices : undefined;
          },
          120_000,
          100,
        );
        const transfersAtKill = await transfersOf(rolloutId);
        await gateway!.kill('SIGKILL');
        lastKillAt = Date.now();

        // What the devices themselves were doing when the gateway died.
        const doing = fleet.agents.map((a) => a.objects?.firmware?.state);
        const downloading = doing.filter((s) => s === FirmwareState.DOWNLOADING).length;
        const installing = doing.filter((s) => s === FirmwareState.DOWNLOADED || s === FirmwareState.UPDATING || s === undefined).length;
        const succeeded = new Set(atKill.filter((d) => d.state === 'succeeded').map((d) => d.endpoint));
        kills.push({ succeeded, transfers: transfersAtKill });
        t.diagnostic(
          `kill ${round}: rollout had ${succeeded.size} succeeded, ${atKill.filter((d) => UNDER_WAY.has(d.state)).length} under way, ` +
            `${atKill.filter((d) => d.state === 'queued').length} queued; devices: ${downloading} downloading, ${installing} installing or rebooting`,
        );
        assert.ok(downloading + installing >= 1, 'the kill must land while some device is mid-update, or the test proves nothing');

        // The devices lose their server for a while; the gateway comes back on the same ports and store.
        await waitFor('devices notice the gateway is gone', () => fleet!.registeredCount < FLEET_SIZE, 10_000, 50);
        await new Promise((resolve) => setTimeout(resolve, 1000));
        restarted = await startGateway(`gateway (after kill -9 number ${round})`);
      }

      const done = await waitFor(
        'the rollout finished after the restarts',
        async () => {
          const r = (await call<RolloutView>('GET', `/api/v1/rollouts/${rolloutId}`)).body;
          return r.finishedAt ? r : undefined;
        },
        180_000,
        250,
      ).catch((err: Error) => {
        throw new Error(`${err.message}\n--- gateway log ---\n${restarted.log.slice(-6000)}`);
      });
      t.diagnostic(`rollout finished ${((Date.now() - lastKillAt) / 1000).toFixed(1)} s after the last kill`);

      // ---- complete: nobody forgotten, everybody succeeded, the rollout completed ------------
      const devices = await rolloutDevices(rolloutId);
      const unsuccessful = devices.filter((d) => d.state !== 'succeeded' && d.state !== 'cancelled');
      assert.deepEqual(unsuccessful, [], 'every device updated has succeeded');
      assert.equal(done.state, 'completed', done.reason ?? '');
      assert.equal(done.total, FLEET_SIZE);
      assert.equal(done.counts.succeeded, FLEET_SIZE, JSON.stringify(done.counts));
      assert.deepEqual(devices.map((d) => d.endpoint).sort(), identities.map((i) => i.endpoint).sort(), 'every device of the fleet is in the rollout, once');
      for (const d of devices) assert.equal(d.state, 'succeeded', `${d.endpoint}: ${d.state} ${d.reason ?? ''}`);

      // ---- consistent: what each device runs, over the wire and in its flash --------------------
      for (const id of identities) {
        const read = await call<{ success: boolean; content?: { value: unknown }[] }>('POST', `/api/v1/devices/${id.endpoint}/read`, { path: '/3/0/3' });
        assert.equal(read.status, 200, `${id.endpoint}: ${JSON.stringify(read.body)}`);
        assert.equal(read.body.content?.[0]?.value, TO, `${id.endpoint} reports ${TO} over the wire`);
        const boot = JSON.parse(readFileSync(join(devicesDir, id.endpoint, 'flash', 'boot.json'), 'utf8')) as BootRecord;
        // One install from the factory slot A: B holds the new image and is confirmed, A still the factory one.
        // A second install would have gone to A (the inactive slot then) and made it active.
        assert.equal(boot.active, 'b', `${id.endpoint} runs slot b: ${JSON.stringify(boot)}`);
        assert.equal(boot.slots.b?.version, TO, id.endpoint);
        assert.equal(boot.slots.a?.version, FROM, `${id.endpoint} was installed exactly once`);
        assert.equal(boot.trial, null, `${id.endpoint} has no trial pending`);
        const index = fleet.agents.findIndex((a) => a.endpoint === id.endpoint);
        assert.equal(fleet.hosts[index]!.reboots, 1, `${id.endpoint} rebooted once, into its one new image`);
      }

      // ---- no device that had succeeded was touched again ---------------------------------------
      const transfers = await transfersOf(rolloutId);
      const byDevice = (list: TransferView[], endpoint: string) =>
        list
          .filter((x) => x.endpoint === endpoint)
          .map((x) => ({ id: x.id, bytesServed: x.bytesServed, requests: x.requests }))
          .sort((a, b) => a.id.localeCompare(b.id));
      for (const [i, kill] of kills.entries()) {
        assert.ok(kill.succeeded.size < FLEET_SIZE);
        for (const endpoint of kill.succeeded) {
          assert.deepEqual(byDevice(transfers, endpoint), byDevice(kill.transfers, endpoint), `${endpoint} succeeded before kill ${i + 1}: no new transfer or download after it`);
        }
      }
      // …and no device at all was offered the image after it succeeded.
      const finishedAt = new Map(devices.map((d) => [d.endpoint, Date.parse(d.finishedAt ?? '')]));
      for (const x of transfers) {
        assert.ok(Date.parse(x.createdAt) <= finishedAt.get(x.endpoint)!, `${x.endpoint}: transfer ${x.id} created after the device succeeded`);
      }
      for (const id of identities) {
        const served = transfers.filter((x) => x.endpoint === id.endpoint).reduce((n, x) => n + x.bytesServed, 0);
        assert.ok(served >= IMAGE.length, `${id.endpoint} was served the whole image (${served} bytes)`);
      }
    } catch (err) {
      if (gateway) t.diagnostic(`--- ${gateway.name} log ---\n${gateway.log.slice(-4000)}`);
      throw err;
    }
  });
});

async function login(apiUrl: string): Promise<string> {
  const res = await fetch(`${apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(TEST_ADMIN) });
  assert.equal(res.status, 200, await res.clone().text());
  return ((await res.json()) as { token: string }).token;
}
