import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { FirmwareState as S, UpdateResult as R } from '../../protocol/firmware/index.js';
import { FirmwareServer } from '../support/firmware-server.js';
import { tempDir } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { FirmwareTestDevice } from './firmware-device.js';

/**
 * The last instant of an update: the bootloader has made the trial slot the confirmed one
 * (boot.json written) and the power fails before Object 5's record says so. The device runs
 * the new image for good, so it must report success, not a failed update.
 */
describe('Object 5: power cut between the confirmation and its record', () => {
  let server: FirmwareServer;
  const dir = tempDir('edgedm-fw-confirm-');

  before(async () => {
    server = await new FirmwareServer().start();
  });
  after(() => {
    server.close();
    dir.remove();
  });

  test('the device boots the confirmed new image and reports Idle with result 1', async () => {
    const device = new FirmwareTestDevice(dir.path, server.trustAnchor);
    try {
      const image = Buffer.from(Array.from({ length: 50_000 }, (_, i) => (i * 5) & 0xff));
      await device.write('/5/0/1', server.publish('/img.bin', image, { version: '1.1.0' }));
      await waitFor('downloaded', async () => (await device.status()).state === S.DOWNLOADED);
      await device.exec('/5/0/2');
      await waitFor('updated', async () => (await device.status()).result === R.SUCCESS, 10_000);
      // What the disk holds if the power fails right after confirm(): the flash confirmed, the record still on trial.
      const stateFile = join(dir.path, 'agent', 'state.json');
      const saved = JSON.parse(readFileSync(stateFile, 'utf8'));
      saved.firmware = { ...saved.firmware, state: S.UPDATING, result: R.INITIAL, update: { fromVersion: '1.0.0', toVersion: '1.1.0', phase: 'trial' } };
      writeFileSync(stateFile, JSON.stringify(saved));
      device.powerCut();
      assert.equal(device.runningVersion(), '1.1.0');
      assert.equal(device.host.firmware!.running().trial, false);
      assert.deepEqual(await device.status(), { state: S.IDLE, result: R.SUCCESS });
      assert.equal(await device.read('/5/0/7'), '1.1.0');
    } finally {
      device.shutdown();
    }
  });
});
