import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedRadio } from '../../simulators/hardware/radio.js';
import { startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

/** The link goes down the instant the device writes a message on `topicEnd` (once). */
function dropOnWrite(radio: SimulatedRadio, topicEnd: string, outageMs: number, onDrop: () => void = () => {}): { fired: () => boolean } {
  let fired = false;
  const connect = radio.connect.bind(radio);
  radio.connect = (host, port) => {
    const socket = connect(host, port) as Socket;
    const write = socket.write.bind(socket) as (chunk: unknown, ...rest: unknown[]) => boolean;
    socket.write = ((chunk: unknown, ...rest: unknown[]) => {
      const written = write(chunk, ...rest);
      // mqtt-packet writes a packet in pieces, the topic among them (as a string or a buffer).
      if (!fired && (typeof chunk === 'string' || Buffer.isBuffer(chunk)) && chunk.includes(topicEnd)) {
        fired = true;
        radio.drop(outageMs);
        onDrop();
      }
      return written;
    }) as Socket['write'];
    return socket;
  };
  return { fired: () => fired };
}

/**
 * The simulated radio's link drops at the worst moments: while the device's registration (a
 * QoS 1 message) waits for its acknowledgement, while it bootstraps, and while a graceful
 * shutdown deregisters. The device must come back on its own, and a stop must not wait for an
 * answer that a lost link never brings.
 */
describe('simulated radio: drops at the worst moment', () => {
  const dir = tempDir('edgedm-radio-');
  let gateway: Gateway;
  let fleet: SimulatedFleet;
  const identities = testIdentities(2, 'rd');

  before(async () => {
    gateway = await startGateway(`${dir.path}/gw`);
    gateway.devices.importFactoryIdentities(identities);
    fleet = SimulatedFleet.start({ identities, bootstrapServerUri: gateway.mqttUrl, stateDir: `${dir.path}/devices`, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, log: testLog });
    await fleet.whenAllRegistered(20_000);
  });
  after(async () => {
    await fleet.stop();
    await gateway.close();
    dir.remove();
  });

  test('a drop while the registration awaits its acknowledgement: the device reconnects and registers again', async () => {
    const device = fleet.devices[0]!;
    const events: string[] = [];
    device.agent.on('registered', () => events.push('registered'));
    dropOnWrite(device.host.radio, '/register', 200, () => events.push('cut'));
    // Cut the session under way: the next registration is the one the link drops under.
    device.host.radio.drop(100);
    await waitFor('registered again after the registration was cut', () => events.includes('cut') && events.lastIndexOf('registered') > events.indexOf('cut'), 15_000);
    assert.ok(device.agent.registered);
    assert.ok(device.host.radio.drops >= 2);
  });

  test('a drop while the device bootstraps: it bootstraps again and registers', async () => {
    const more = testIdentities(2, 'rb');
    gateway.devices.importFactoryIdentities(more);
    // One device a tenth of a second: the second one's radio is rigged before it first connects.
    const late = SimulatedFleet.start({ identities: more, bootstrapServerUri: gateway.mqttUrl, stateDir: `${dir.path}/late`, rampPerSecond: 10, reconnect: { minDelayMs: 50, maxDelayMs: 200 }, log: testLog });
    try {
      const device = late.devices[1]!;
      const events: string[] = [];
      device.agent.on('registered', () => events.push('registered'));
      dropOnWrite(device.host.radio, '/bs/req', 200, () => events.push('cut'));
      await waitFor('registered after its bootstrap was cut', () => events.includes('cut') && events.includes('registered'), 15_000);
      assert.deepEqual(events.slice(0, 1), ['cut'], 'the first bootstrap was the one cut');
    } finally {
      await late.stop();
    }
  });

  test('a drop while a graceful stop deregisters: the stop completes', async () => {
    const device = fleet.devices[1]!;
    const cut = dropOnWrite(device.host.radio, '/deregister', 5_000);
    // Reconnect so that the next connection carries the hook.
    const registered = new Promise((resolve) => device.agent.once('registered', () => resolve(undefined)));
    device.host.radio.drop(50);
    await registered;
    await device.agent.stop();
    assert.ok(cut.fired(), 'the link dropped under the deregistration');
    assert.equal(device.agent.registered, false);
  });
});
