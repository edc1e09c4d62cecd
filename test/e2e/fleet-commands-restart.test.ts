import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { commandDevice, commandDevices, createCommand, getCommand, whenFinished } from '../support/fleet-commands.js';
import { waitFor } from '../support/wait.js';

/**
 * Fleet commands across a gateway restart on the same data directory: nothing queued is lost,
 * and a command whose answer was lost (sent, executed, not acknowledged) is answered by the
 * device from its memory of request ids when it is sent again — never executed twice, even
 * when the device itself rebooted in between.
 */

const LIFETIME = '/1/0/1';

describe('fleet commands across a gateway restart', () => {
  const dir = tempDir();
  const gateways: Gateway[] = [];
  const fleets: SimulatedFleet[] = [];
  after(async () => {
    for (const f of fleets) await f.stop();
    for (const g of gateways) await g.close().catch(() => undefined);
    dir.remove();
  });

  const start = async (dataDir: string, mqttPort = 0) => {
    const gateway = await startGateway(dataDir, { mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: mqttPort, maxMessageBytes: 262144, maxConnectsPerSecond: 500 }, devices: { requestTimeoutMs: 3000, lifetimeSeconds: 300 } });
    gateways.push(gateway);
    return gateway;
  };
  const startDevices = (gateway: Gateway, ids: SimulatedIdentity[], stateDir: string) => {
    const fleet = SimulatedFleet.start({ identities: ids, bootstrapServerUri: gateway.mqttUrl, stateDir, reconnect: { minDelayMs: 50, maxDelayMs: 300 }, powerOffMs: 2500, log: testLog });
    fleets.push(fleet);
    return fleet;
  };

  test('commands queued or half-way through a fan-out when the gateway stops are all carried out after it restarts; none is lost', async () => {
    const dataDir = join(dir.path, 'gw1');
    const devicesDir = join(dir.path, 'devices1');
    const identities = testIdentities(6, 'rs');
    let gateway = await start(dataDir);
    gateway.devices.importFactoryIdentities(identities);
    await startDevices(gateway, identities.slice(0, 3), devicesDir).whenAllRegistered(30_000);
    // One send a second: when the gateway stops, some devices are done and the rest still queued.
    const write = await createCommand(gateway, { target: 'all', operation: 'write', path: LIFETIME, value: 410, ratePerMin: 60 });
    const read = await createCommand(gateway, { target: 'all', operation: 'read', path: LIFETIME });
    await waitFor('the first device done', async () => ((await getCommand(gateway, write.id)).counts.succeeded ?? 0) >= 1, 10_000);
    const before = await getCommand(gateway, write.id);
    assert.ok(before.counts.queued! >= 3, `still queued: ${JSON.stringify(before.counts)}`);
    const mqttPort = gateway.mqttPort;
    await gateway.close();

    gateway = await start(dataDir, mqttPort);
    // Devices away during the restart come now; the others reconnect by themselves.
    startDevices(gateway, identities.slice(3), devicesDir);
    for (const id of [write.id, read.id]) {
      const finished = await whenFinished(gateway, id, 60_000);
      assert.equal(finished.state, 'completed');
      assert.deepEqual({ total: finished.total, succeeded: finished.counts.succeeded }, { total: 6, succeeded: 6 }, JSON.stringify(finished.counts));
    }
    const reads = await commandDevices(gateway, read.id);
    // Per device, in order: each read ran after that device's write.
    for (const d of reads) assert.deepEqual(d.result!.steps[0]!.content!.map((c) => c.value), [410], d.endpoint);
    assert.deepEqual((await getCommand(gateway, read.id)).aggregate!.values[LIFETIME]!.top, [{ value: 410, count: 6 }]);
    assert.ok((await commandDevices(gateway, write.id)).every((d) => d.attempts === 1), 'each device got the write once');
  });

  test('sent, executed, answer lost, gateway restarted and device rebooted meanwhile: re-sent with the same id, answered from the device\'s memory, executed once', async () => {
    const dataDir = join(dir.path, 'gw2');
    const identities = testIdentities(1, 'rsdup');
    const ep = identities[0]!.endpoint;
    let gateway = await start(dataDir);
    gateway.devices.importFactoryIdentities(identities);
    const fleet = startDevices(gateway, identities, join(dir.path, 'devices2'));
    await fleet.whenAllRegistered(30_000);
    const device = fleet.devices[0]!;
    let executions = 0;
    // Counted on every boot's object tree: the device reboots in the middle of this.
    const watch = () =>
      device.agent.objects!.tree.onChange((path) => {
        if (path.toString() !== LIFETIME) return;
        executions++;
        // The write is done; the power fails before the answer leaves.
        if (executions === 1) void device.powerCut();
      });
    watch();
    device.agent.on('booted', watch);

    const write = await createCommand(gateway, { target: `id:${ep}`, operation: 'write', path: LIFETIME, value: 620 });
    await waitFor('the write sent and the device gone', async () => (await commandDevice(gateway, write.id, ep)).attempts === 1 && gateway.repository.get(ep)?.status === 'offline', 10_000);
    assert.equal((await commandDevice(gateway, write.id, ep)).state, 'sent');
    const mqttPort = gateway.mqttPort;
    await gateway.close();

    gateway = await start(dataDir, mqttPort);
    const finished = await whenFinished(gateway, write.id, 30_000);
    assert.equal(finished.counts.succeeded, 1, JSON.stringify(finished.counts));
    const row = await commandDevice(gateway, write.id, ep);
    assert.equal(row.attempts, 2, 'sent again after the restart');
    assert.equal(row.result!.steps[0]!.code, '2.04');
    assert.equal(executions, 1, 'the repeated request was answered from the device\'s memory, not executed again');
  });
});
