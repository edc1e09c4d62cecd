import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { startGateway, tempDir, testIdentities, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';
import { freeUdpPort, PeerProcess } from './support/peer-process.js';

/**
 * Interoperability the other way round: lwm2m-node-lib 1.4.0's LwM2M server (nobody here wrote
 * it) manages edgedm's agent. The gateway only bootstraps the agent, handing it the peer as DM
 * server; the agent registers there as an LwM2M 1.1 client and answers the peer's 1.0-style
 * requests (text/plain). Mirrors OMA interoperability cases int-101 (registration), -201 (read),
 * -204 (write), -205 (execute), -301 (observe).
 */

describe('interop: lwm2m-node-lib 1.4.0 server managing the agent', () => {
  const dir = tempDir();
  const [identity] = testIdentities(1, 'lns');
  const endpoint = identity!.endpoint;
  let gateway: Gateway;
  let peer: PeerProcess;
  let fleet: SimulatedFleet;

  before(async () => {
    const peerPort = await freeUdpPort();
    peer = PeerProcess.start('lwm2m-node-lib', 'server.cjs', [String(peerPort)]);
    await peer.event('listening');
    gateway = await startGateway(`${dir.path}/gw`, { lwm2m: { enabled: true, serverUri: `coap://127.0.0.1:${peerPort}`, queueAwakeMs: 93_000 } });
    gateway.devices.importFactoryIdentities([identity!]);
    fleet = SimulatedFleet.start({
      identities: [identity!],
      bootstrapServerUri: gateway.coapUrl!,
      stateDir: `${dir.path}/devices`,
      reconnect: { minDelayMs: 50, maxDelayMs: 500 },
      log: testLog,
    });
  });
  after(async () => {
    await fleet?.stop();
    await peer?.stop();
    await gateway?.close();
    dir.remove();
  });

  test('int-101: bootstrapped by edgedm, the agent registers with the peer server as an LwM2M 1.1 client', async () => {
    const registered = await peer.event('registered', (e) => e.endpoint === endpoint);
    assert.equal(registered.version, '1.1');
    assert.equal(registered.binding, 'U');
    assert.match(String(registered.payload), /<\/3\/0>/);
    assert.doesNotMatch(String(registered.payload), /<\/0\//, 'the Security object is not announced');
  });

  test('int-201 read and int-204 write in text/plain', async () => {
    const read = await peer.run(`read ${endpoint} 3 0 0`);
    assert.equal(read.error, null);
    assert.equal(read.result, 'edgedm simulated devices');
    const serial = await peer.run(`read ${endpoint} 3 0 2`);
    assert.equal(serial.result, identity!.serialNumber);
    const write = await peer.run(`write ${endpoint} 1 0 3 120`);
    assert.equal(write.error, null);
    assert.equal((await peer.run(`read ${endpoint} 1 0 3`)).result, '120');
  });

  test('int-205 execute: Registration Update Trigger (/1/0/8) makes the agent send an Update', async () => {
    const before = peer.events.filter((e) => e.event === 'updated').length;
    const exec = await peer.run(`execute ${endpoint} 1 0 8`);
    assert.equal(exec.error, null);
    await waitFor('an Update at the peer', () => peer.events.filter((e) => e.event === 'updated').length > before, 15_000, 20);
  });

  test('int-301 observe: a write to the observed resource is notified', async () => {
    const observed = await peer.run(`observe ${endpoint} 1 0 3`);
    assert.equal(observed.error, null);
    await peer.run(`write ${endpoint} 1 0 3 240`);
    await peer.event('notify', (e) => e.value === '240');
  });
});
