import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import assert from 'node:assert/strict';
import { after, describe, test } from 'node:test';
import { startFleet, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

describe('persistence: the registry survives a gateway restart', () => {
  const dir = tempDir();
  after(() => dir.remove());

  test('stop the gateway, start it on the same data directory: devices, labels and credentials are intact, devices reconnect', async () => {
    const identities = testIdentities(2, 'persist');
    const dataDir = `${dir.path}/gateway`;
    let gateway = await startGateway(dataDir);
    const fleet = startFleet(gateway, identities, `${dir.path}/devices`);
    try {
      await fleet.whenAllRegistered(20_000);
      const ep = identities[0]!.endpoint;
      gateway.devices.updateLabels(ep, { kind: 'tags', add: ['rooftop'] });
      gateway.devices.updateLabels(ep, { kind: 'groups', add: ['zurich'] });
      await waitFor('identity synced', () => gateway.repository.get(ep)?.serialNumber);
      const before = gateway.repository.list();
      const mqttPort = gateway.mqttPort;
      await gateway.close();

      gateway = await startGateway(dataDir, { mqtt: { ...DEFAULT_GATEWAY_CONFIG.mqtt, host: '127.0.0.1', port: mqttPort, maxMessageBytes: 262144, maxConnectsPerSecond: 500 } });
      const after = gateway.repository.list();
      assert.equal(after.length, before.length);
      for (const [i, device] of after.entries()) {
        const was = before[i]!;
        assert.equal(device.endpoint, was.endpoint);
        assert.equal(device.credentialHash, was.credentialHash);
        assert.equal(device.factorySecretHash, was.factorySecretHash);
        assert.deepEqual(device.tags, was.tags);
        assert.deepEqual(device.groups, was.groups);
        assert.equal(device.serialNumber, was.serialNumber);
        assert.equal(device.manufacturer, was.manufacturer);
        assert.deepEqual(device.objectLinks, was.objectLinks);
      }
      assert.deepEqual(gateway.repository.get(ep)!.tags, [...identities[0]!.tags, 'rooftop'].sort());
      assert.deepEqual(gateway.repository.get(ep)!.groups, [identities[0]!.groups[0]!, 'zurich'].sort());
      // The agents reconnect with the operational credentials the restarted gateway still knows.
      await waitFor(
        'devices back online after the restart',
        () => identities.every((d) => gateway.repository.get(d.endpoint)?.status === 'online'),
        20_000,
      );
      assert.equal(gateway.repository.get(ep)!.credentialHash, before[0]!.credentialHash, 'no re-bootstrap was needed');
    } finally {
      await fleet.stop();
      await gateway.close();
    }
  });
});
