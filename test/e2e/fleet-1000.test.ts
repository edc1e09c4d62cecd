// test: run alone (a thousand agents and a fleet command in one process)
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { commandDevices, createCommand, whenFinished } from '../support/fleet-commands.js';

/**
 * A fleet command over 1,000 devices end to end: the real agent on simulated hardware for each,
 * over MQTT, one gateway. Every device answers, each exactly once, and the aggregate sums up
 * the fleet. Durations are reported, never asserted (CI machines are shared).
 */

const COUNT = 1000;

describe('a fleet command to 1,000 devices', () => {
  const dir = tempDir('edgedm-fleet1000-');
  let gateway: Gateway | undefined;
  let fleet: SimulatedFleet | undefined;
  after(async () => {
    await fleet?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('fans out to every device within its concurrency cap, each with one result; the aggregate is the fleet\'s distribution', { timeout: 240_000 }, async (t) => {
    gateway = await startGateway(join(dir.path, 'gw'), { devices: { requestTimeoutMs: 20_000, lifetimeSeconds: 300 } });
    const identities = testIdentities(COUNT, 'k');
    gateway.devices.importFactoryIdentities(identities);
    const startedAt = Date.now();
    fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: join(dir.path, 'devices'),
      keepaliveSeconds: 120,
      rampPerSecond: 400,
      reconnect: { minDelayMs: 200, maxDelayMs: 2000 },
      log: testLog,
    });
    await fleet.whenAllRegistered(180_000);
    t.diagnostic(`${COUNT} devices bootstrapped and registered in ${Date.now() - startedAt} ms`);

    const created = Date.now();
    const command = await createCommand(gateway, { target: 'all', operation: 'read', path: '/3/0', maxConcurrent: 100 });
    assert.equal(command.total, COUNT);
    const finished = await whenFinished(gateway, command.id, 180_000);
    t.diagnostic(`read /3/0 on ${COUNT} devices: ${Date.now() - created} ms from creation to the last answer`);
    assert.equal(finished.state, 'completed');
    assert.equal(finished.counts.succeeded, COUNT, JSON.stringify(finished.counts));

    const devices = await commandDevices(gateway, command.id);
    assert.equal(devices.length, COUNT);
    // A request that outlived its timeout on a loaded machine is sent again (same id, answered from
    // the agent's memory, not executed twice): count those, but each device has one result.
    const resent = devices.filter((d) => d.attempts > 1).length;
    t.diagnostic(`devices sent the request more than once (timeouts under load): ${resent}`);
    assert.ok(devices.every((d) => d.state === 'succeeded' && d.attempts >= 1 && d.attempts <= 3), 'each device succeeded within its attempts');
    // Never more than maxConcurrent requests open at once: replayed from the recorded send and finish times.
    const edges = devices.flatMap((d) => [
      { at: Date.parse(d.sentAt!), delta: 1 },
      { at: Date.parse(d.finishedAt!), delta: -1 },
    ]);
    edges.sort((a, b) => a.at - b.at || a.delta - b.delta);
    let open = 0;
    let peak = 0;
    for (const e of edges) peak = Math.max(peak, (open += e.delta));
    t.diagnostic(`peak requests in flight: ${peak}`);
    assert.ok(peak <= 100, `peak ${peak} exceeds maxConcurrent 100`);

    const agg = finished.aggregate!;
    assert.deepEqual(agg.steps, [{ kind: 'read', path: '/3/0', codes: { '2.05': COUNT } }]);
    assert.deepEqual(agg.values['/3/0/3']!.top, [{ value: '1.0.0', count: COUNT }]);
    const models = new Map<string, number>();
    for (const i of identities) models.set(i.model, (models.get(i.model) ?? 0) + 1);
    assert.deepEqual(
      Object.fromEntries(agg.values['/3/0/1']!.top.map((v) => [v.value, v.count])),
      Object.fromEntries(models),
    );
    assert.equal(agg.values['/3/0/2']!.distinct, COUNT, 'every serial number is different');
  });
});
