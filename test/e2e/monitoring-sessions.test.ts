import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { DEFAULT_GATEWAY_CONFIG, type GatewayConfig } from '../../gateway/config.js';
import type { GatewayEvent } from '../../gateway/events.js';
import type { Gateway } from '../../gateway/gateway.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import { startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

/**
 * Registration cost on reconnections: a device over MQTT keeps its observations across
 * reconnections and says so when it registers, so the gateway sets up again only what a device
 * lost (agent restart) or what differs (monitoring configuration changed), and reads the Device
 * object only once per boot of the device. Operations are counted by the accounting ledger,
 * which is in SQL and so counts across gateway restarts.
 */

/** Notifications every second, so that "values keep flowing" shows within a test. */
const monitoring = (changes: Partial<GatewayConfig['monitoring']> = {}) => ({ monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, pmin: 0, pmax: 1, ...changes } });
const MONITORED = ['/3/0/9', '/3/0/10', '/3/0/11', '/4/0/2', '/4/0/3', '/20/0/4014'];
const SET_UP_KINDS = ['observe', 'write-attributes', 'read', 'cancel-observe'] as const;
type Counts = Record<(typeof SET_UP_KINDS)[number], number>;

/** Operations the gateway sent the device, over every gateway that ran on this data directory. */
function operations(gateway: Gateway, endpoint: string): Counts {
  const rows = gateway.management.ledger.query({ endpoint, from: 0, to: Date.now() + 86_400_000, group: 'day' });
  const counts = Object.fromEntries(SET_UP_KINDS.map((k) => [k, 0])) as Counts;
  for (const row of rows) for (const kind of SET_UP_KINDS) counts[kind] += row.operations[kind] ?? 0;
  return counts;
}

const plus = (base: Counts, delta: Partial<Counts>): Counts => Object.fromEntries(SET_UP_KINDS.map((k) => [k, base[k] + (delta[k] ?? 0)])) as Counts;

/** Notifications the gateway receives, by device. */
function notifications(gateway: Gateway) {
  const seen: { endpoint: string; observationId: string; path: string; at: number }[] = [];
  const stop = gateway.events.subscribe((e: GatewayEvent) => {
    if (e.type === 'device.notification') seen.push({ endpoint: e.endpoint, observationId: e.observationId, path: e.path, at: Date.now() });
  });
  return {
    seen,
    stop,
    /** Resolves with the observation ids of notifications of every monitored path after `since`. */
    flowing: (endpoint: string, since: number, timeoutMs = 15_000): Promise<Set<string>> =>
      waitFor(
        `${endpoint}: notifications of every monitored periodic path`,
        () => {
          const recent = seen.filter((n) => n.endpoint === endpoint && n.at > since);
          const paths = new Set(recent.map((n) => n.path));
          return MONITORED.slice(0, 5).every((path) => paths.has(path)) ? new Set(recent.map((n) => n.observationId)) : undefined;
        },
        timeoutMs,
      ),
  };
}

async function setUpDone(gateway: Gateway, endpoint: string, expected: Counts): Promise<void> {
  await waitFor(`${endpoint}: ${JSON.stringify(expected)}`, () => JSON.stringify(operations(gateway, endpoint)) === JSON.stringify(expected), 20_000);
}

const settle = (ms = 1500) => new Promise((resolve) => setTimeout(resolve, ms));

describe('monitoring observations and the Device object read across reconnections', () => {
  const dir = tempDir();
  const gateways: Gateway[] = [];
  let fleet: SimulatedFleet | undefined;
  after(async () => {
    await fleet?.stop();
    for (const g of gateways) await g.close().catch(() => undefined);
    dir.remove();
  });
  const start = async (overrides: Partial<GatewayConfig>, mqttPort = 0) => {
    const gateway = await startGateway(join(dir.path, 'gw'), { mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: mqttPort }, ...overrides });
    gateways.push(gateway);
    return gateway;
  };
  const identities = testIdentities(3, 'ms');
  const [a, b, c] = identities.map((i) => i.endpoint) as [string, string, string];
  const FULL: Partial<Counts> = { observe: 6, 'write-attributes': 6, read: 1 };

  test('a reconnection without an agent restart costs no request; an agent restart gets everything back', async () => {
    const gateway = await start(monitoring());
    fleet = startFleet(gateway, identities, join(dir.path, 'devices'));
    const flow = notifications(gateway);
    await fleet.whenAllRegistered(20_000);
    const none: Counts = { observe: 0, 'write-attributes': 0, read: 0, 'cancel-observe': 0 };
    for (const endpoint of [a, b, c]) await setUpDone(gateway, endpoint, plus(none, FULL));
    await waitFor('the Device object read recorded with its boot', () => [a, b, c].every((e) => gateway.repository.get(e)?.infoBootId));
    const idsBefore = await flow.flowing(a, 0);

    // The link drops and comes back: same agent, same boot.
    const device = fleet.device(a)!;
    const before = operations(gateway, a);
    const reregistered = new Promise<void>((resolve) => device.agent.once('registered', () => resolve()));
    device.host.radio.drop(300);
    await reregistered;
    const reconnectedAt = Date.now();
    await settle();
    assert.deepEqual(operations(gateway, a), before, 'no observe, write-attributes or read after a reconnection');
    const idsAfter = await flow.flowing(a, reconnectedAt);
    assert.ok([...idsAfter].every((id) => idsBefore.has(id)), 'the same observations go on notifying');
    assert.equal(gateway.repository.get(a)?.status, 'online');

    // The agent restarts (a power cut): a new boot, no observations; everything is set up again.
    const restarted = fleet.device(b)!;
    const beforeRestart = operations(gateway, b);
    const oldIds = await flow.flowing(b, 0);
    const bootBefore = gateway.repository.get(b)!.infoBootId;
    await restarted.powerCut(300);
    await restarted.agent.whenRegistered(20_000);
    const restartedAt = Date.now();
    await setUpDone(gateway, b, plus(beforeRestart, FULL));
    await waitFor('the Device object read under the new boot', () => gateway.repository.get(b)!.infoBootId !== bootBefore);
    const newIds = await flow.flowing(b, restartedAt);
    assert.ok([...newIds].every((id) => !oldIds.has(id)), 'values flow from the new observations');
    flow.stop();
  });

  test('across gateway restarts: nothing to set up again, values keep flowing; a changed pmax or monitoring turned off reaches every device', async () => {
    let gateway = gateways.at(-1)!;
    const mqttPort = gateway.mqttPort;
    const restart = async (overrides: Partial<GatewayConfig>) => {
      const counts = Object.fromEntries([a, b, c].map((e) => [e, operations(gateway, e)]));
      await gateway.close();
      gateway = await start(overrides, mqttPort);
      const flow = notifications(gateway);
      await waitFor('every device back online', () => [a, b, c].every((e) => gateway.repository.get(e)?.status === 'online'), 20_000);
      return { counts, flow, at: Date.now() };
    };

    // 1. Same configuration: the devices report what they hold, nothing is sent; notifications go on.
    let r = await restart(monitoring());
    await settle();
    for (const e of [a, b, c]) {
      assert.deepEqual(operations(gateway, e), r.counts[e], `${e}: nothing set up again after a gateway restart`);
      await r.flow.flowing(e, r.at);
    }
    const series = gateway.management.timeseries.query(a, { path: '/3/0/9', from: r.at, to: Date.now() });
    assert.ok(series[0]!.points.length > 0, 'the new gateway charts the values');
    r.flow.stop();

    // 2. The reports not trusted (devices.resumeSessions false): every registration set up from scratch.
    r = await restart({ ...monitoring(), devices: { ...DEFAULT_GATEWAY_CONFIG.devices, requestTimeoutMs: 5000, resumeSessions: false } });
    for (const e of [a, b, c]) await setUpDone(gateway, e, plus(r.counts[e]!, FULL));
    r.flow.stop();

    // 3. pmax changed: attributes and observations again where pmax applies (not the event log), no read.
    r = await restart(monitoring({ pmax: 2 }));
    for (const e of [a, b, c]) await setUpDone(gateway, e, plus(r.counts[e]!, { observe: 5, 'write-attributes': 5 }));
    for (const e of [a, b, c]) assert.equal(fleet!.agent(e)!.objects!.tree.attributesAt(LwM2mPath.parse('/3/0/9')).pmax, 2);
    for (const e of [a, b, c]) await r.flow.flowing(e, r.at);
    r.flow.stop();

    // 4. Monitoring off: the observations the devices report holding are cancelled; notifications stop.
    r = await restart(monitoring({ observe: false }));
    for (const e of [a, b, c]) await setUpDone(gateway, e, plus(r.counts[e]!, { 'cancel-observe': 6 }));
    await settle(500);
    const quietFrom = Date.now();
    await settle(2500);
    assert.deepEqual(
      r.flow.seen.filter((n) => n.at > quietFrom),
      [],
      'no notification once monitoring is off',
    );
    r.flow.stop();
  });
});
