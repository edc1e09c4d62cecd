import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DeviceSessionReport } from '../../gateway/device-link.js';
import { MONITORING_OBSERVATION_PREFIX, planObservations } from '../../gateway/monitoring/monitoring-observations.js';
import { LwM2mPath } from '../../protocol/model/index.js';

const p = LwM2mPath.parse;
const ALL = new Set(['/3/0', '/4/0', '/20/0']);
const WANTED = { enabled: true, pmin: 30, pmax: 600 };
const ids = (plan: ReturnType<typeof planObservations>) => plan.establish.map((r) => r.path.toString());

/** What an agent that set everything up under WANTED reports. */
function holdingAll(attributes = { pmin: 30, pmax: 600 }): DeviceSessionReport {
  return {
    bootId: 'boot-1',
    observations: [
      ...['/3/0/9', '/3/0/10', '/3/0/11', '/4/0/2', '/4/0/3'].map((path, i) => ({ id: `${MONITORING_OBSERVATION_PREFIX}${i}`, path: p(path), attributes })),
      { id: `${MONITORING_OBSERVATION_PREFIX}log`, path: p('/20/0/4014'), attributes: { pmin: attributes.pmin } },
    ],
  };
}

describe('monitoring observations: what a registration needs', () => {
  test('a device that reports nothing (LwM2M, CoAP, an older agent) gets every observation its objects allow', () => {
    assert.deepEqual(ids(planObservations(ALL, undefined, WANTED)), ['/3/0/9', '/3/0/10', '/3/0/11', '/4/0/2', '/4/0/3', '/20/0/4014']);
    assert.deepEqual(ids(planObservations(new Set(['/3/0']), undefined, WANTED)), ['/3/0/9', '/3/0/10', '/3/0/11']);
  });

  test('a device that kept them with the wanted attributes needs nothing; a restarted agent (none held) needs all', () => {
    const kept = planObservations(ALL, holdingAll(), WANTED);
    assert.deepEqual(kept, { establish: [], withdraw: [], kept: 6 });
    assert.equal(planObservations(ALL, { bootId: 'boot-2', observations: [] }, WANTED).establish.length, 6);
  });

  test('a changed pmin or pmax re-establishes what it applies to; other attributes the device has do not matter', () => {
    assert.deepEqual(ids(planObservations(ALL, holdingAll(), { ...WANTED, pmax: 300 })), ['/3/0/9', '/3/0/10', '/3/0/11', '/4/0/2', '/4/0/3'], 'the event log has no pmax');
    assert.equal(planObservations(ALL, holdingAll(), { ...WANTED, pmin: 10 }).establish.length, 6);
    const extra = holdingAll();
    extra.observations[0]!.attributes = { pmin: 30, pmax: 600, st: 5 };
    assert.equal(planObservations(ALL, extra, WANTED).kept, 6);
  });

  test('only the missing ones are set up (a setup cut short by a disconnection)', () => {
    const partial = holdingAll();
    partial.observations = partial.observations.slice(0, 2);
    assert.deepEqual(ids(planObservations(ALL, partial, WANTED)), ['/3/0/11', '/4/0/2', '/4/0/3', '/20/0/4014']);
  });

  test('monitoring turned off withdraws its own observations and leaves an operator’s alone', () => {
    const session = holdingAll();
    session.observations.push({ id: 'operator-request-7', path: p('/3/0/13'), attributes: {} });
    const plan = planObservations(ALL, session, { ...WANTED, enabled: false });
    assert.deepEqual(plan.establish, []);
    assert.deepEqual(
      plan.withdraw.map((x) => x.toString()),
      ['/3/0/9', '/3/0/10', '/3/0/11', '/4/0/2', '/4/0/3', '/20/0/4014'],
    );
    assert.deepEqual(planObservations(ALL, undefined, { ...WANTED, enabled: false }), { establish: [], withdraw: [], kept: 0 });
  });

  test('an operator’s observation of a monitored path with the right attributes counts as in place', () => {
    const session: DeviceSessionReport = { bootId: 'b', observations: [{ id: 'operator-1', path: p('/3/0/9'), attributes: { pmin: 30, pmax: 600 } }] };
    const plan = planObservations(new Set(['/3/0']), session, WANTED);
    assert.equal(plan.kept, 1);
    assert.deepEqual(ids(plan), ['/3/0/10', '/3/0/11']);
  });
});
