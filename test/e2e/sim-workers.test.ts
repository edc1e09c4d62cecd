import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { CliProcess } from '../support/cli-process.js';
import { runCli } from '../support/cli.js';
import { startGateway, tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

/** Child processes of a process, from /proc (Linux). */
function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('edgedm sim --workers', () => {
  const dir = tempDir('edgedm-simworkers-');
  let gateway: Gateway | undefined;
  let sim: CliProcess | undefined;
  after(async () => {
    await sim?.kill();
    await gateway?.close();
    dir.remove();
  });

  test('two worker processes run the fleet, report it registered, and stop cleanly on SIGTERM', { timeout: 120_000 }, async () => {
    gateway = await startGateway(join(dir.path, 'gw'));
    const gw = gateway;
    sim = CliProcess.start('simulator', [
      '--api', gw.apiUrl,
      'sim', '--count', '12', '--workers', '2', '--prefix', 'wk', '--server', gw.mqttUrl, '--state', join(dir.path, 'devices'),
      '--profiles', 'slow@200ms=25%',
    ]);
    await sim.waitForOutput(/simulating 12 device\(s\) \(12 mqtt\) .* in 2 worker processes/, 60_000);
    await sim.waitForOutput(/profiles: slow@200ms on 3, always-on on 9 of 12/, 5_000);
    await sim.waitForOutput(/all 12 devices registered/, 90_000);
    await waitFor('12 devices online in the registry', () => gw.repository.list().filter((d) => d.status === 'online').length === 12, 30_000);
    const workers = childrenOf(sim.pid!);
    assert.equal(workers.length, 2, `worker processes of ${sim.pid}: ${workers.join(', ')}`);
    // Each worker runs with its soft open-file limit raised to the hard one.
    for (const pid of workers) {
      const limits = /^Max open files\s+(\S+)\s+(\S+)/m.exec(readFileSync(`/proc/${pid}/limits`, 'utf8'))!;
      // (A hard limit of `unlimited` cannot be taken as the soft one; the worker keeps its own.)
      if (limits[2] !== 'unlimited') assert.equal(limits[1], limits[2], `worker ${pid}: soft ${limits[1]}, hard ${limits[2]}`);
    }

    await sim.kill('SIGTERM');
    assert.ok(!sim.running);
    assert.ok(workers.every((pid) => !alive(pid)), 'no worker outlives the simulator');
    // Stopped cleanly: every device deregistered.
    await waitFor('every device offline', () => gw.repository.list().every((d) => d.status === 'offline'), 15_000);
  });

  test('a fleet that cannot fit its open-file limit is refused with a clear message', { timeout: 60_000 }, async () => {
    const result = await runCli(['sim', '--no-import', '--count', '30000', '--workers', '1', '--state', join(dir.path, 'big')], {}, 60_000);
    assert.notEqual(result.status, 0);
    assert.match(result.stderr, /need about 60256 open files .* but its limit is \d+: use more --workers/);
  });
});
