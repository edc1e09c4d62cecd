import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChildProcess } from 'node:child_process';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway, tempDir } from '../support/harness.js';
import { spawnCli } from '../support/cli.js';
import { waitFor } from '../support/wait.js';

const KEEPALIVE_SECONDS = 2;

/** Time from `since` until every listed device is offline, in ms. */
async function offlineAfter(gateway: Gateway, endpoints: string[], since: number, timeoutMs: number): Promise<number> {
  await waitFor('devices offline', () => endpoints.every((ep) => gateway.repository.get(ep)?.status === 'offline'), timeoutMs, 20);
  return Date.now() - since;
}

describe('liveness: a simulator process that dies or hangs', () => {
  const dir = tempDir();
  let gateway: Gateway;
  let sim: ChildProcess | undefined;

  before(async () => {
    gateway = await startGateway(`${dir.path}/gateway`);
  });

  after(async () => {
    sim?.kill('SIGKILL');
    await gateway?.close();
    dir.remove();
  });

  async function startSimulator(prefix: string, count: number): Promise<string[]> {
    sim = spawnCli(
      ['sim', '--count', String(count), '--prefix', prefix, '--server', gateway.mqttUrl, '--api', gateway.apiUrl, '--state', `${dir.path}/${prefix}`, '--keepalive', String(KEEPALIVE_SECONDS), '--log-level', 'silent'],
    );
    const endpoints = Array.from({ length: count }, (_, i) => `${prefix}-${String(i + 1).padStart(4, '0')}`);
    await waitFor('simulated devices online', () => endpoints.every((ep) => gateway.repository.get(ep)?.status === 'online'), 60_000);
    return endpoints;
  }

  test('SIGSTOP (silent link): devices go offline within 1.5x their keepalive', async () => {
    const endpoints = await startSimulator('hang', 3);
    const stoppedAt = Date.now();
    sim!.kill('SIGSTOP');
    try {
      const elapsed = await offlineAfter(gateway, endpoints, stoppedAt, 15_000);
      // aedes drops a client after 1.5x keepalive of silence; allow scheduling slack on a busy machine.
      assert.ok(elapsed <= KEEPALIVE_SECONDS * 1500 + 1500, `offline after ${elapsed} ms`);
    } finally {
      sim!.kill('SIGCONT');
      sim!.kill('SIGKILL');
    }
  });

  test('SIGKILL: devices go offline within 1.5x their keepalive', async () => {
    const endpoints = await startSimulator('kill', 3);
    const killedAt = Date.now();
    sim!.kill('SIGKILL');
    const elapsed = await offlineAfter(gateway, endpoints, killedAt, 15_000);
    assert.ok(elapsed <= KEEPALIVE_SECONDS * 1500 + 1500, `offline after ${elapsed} ms`);
  });
});
