import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { after, describe, test } from 'node:test';
import { connect } from 'mqtt';
import { createLogger } from '../../common/logger.js';
import { Gateway } from '../../gateway/gateway.js';
import { LwM2mPath } from '../../protocol/model/index.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { gatewayConfig, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

describe('logs never carry a secret', () => {
  const dir = tempDir();
  after(() => dir.remove());

  test('bootstrap, registration, a refused login and a factory reset at trace level leave no secret in any log line', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const log = createLogger({ level: 'trace', destination: sink });
    const identities = testIdentities(2, 'logs');
    const gateway = await Gateway.start(gatewayConfig(`${dir.path}/gateway`), log);
    gateway.devices.importFactoryIdentities(identities);
    const fleet = SimulatedFleet.start({
      identities,
      bootstrapServerUri: gateway.mqttUrl,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 100, maxDelayMs: 500 },
      log,
    });
    try {
      await fleet.whenAllRegistered(20_000);
      const operational = identities.map((d) => fleet.agent(d.endpoint)!.objects!.security.dmServerAccount()!.secret);
      // A wrong password: its text must not be logged either.
      const wrong = 'wrong-password-that-must-not-be-logged';
      await new Promise<void>((resolve) => {
        const c = connect(gateway.mqttUrl, { clientId: identities[0]!.endpoint, username: identities[0]!.endpoint, password: wrong, reconnectPeriod: 0 });
        c.once('error', () => resolve());
        c.once('close', () => resolve());
      });
      // A factory reset issued on the device itself: it bootstraps again and receives a new secret.
      await fleet.agent(identities[1]!.endpoint)!.objects!.tree.handle({ kind: 'execute', path: LwM2mPath.parse('/3/0/5') });
      await waitFor('re-bootstrapped', () => {
        const account = fleet.agent(identities[1]!.endpoint)?.objects?.security.dmServerAccount();
        return account && account.secret !== operational[1] && fleet.agent(identities[1]!.endpoint)!.registered;
      });
      const renewed = fleet.agent(identities[1]!.endpoint)!.objects!.security.dmServerAccount()!.secret;
      const text = lines.join('');
      assert.ok(lines.length > 20, `expected plenty of trace output, got ${lines.length} lines`);
      for (const secret of [...identities.map((d) => d.secret), ...operational, renewed, wrong]) {
        assert.ok(!text.includes(secret), 'a secret appeared in the logs');
        assert.ok(!text.includes(Buffer.from(secret).toString('base64')), 'a secret appeared base64-encoded in the logs');
      }
    } finally {
      await fleet.stop();
      await gateway.close();
    }
  });
});
