import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { AlarmEngine } from '../../gateway/alarms/alarm-engine.js';
import { AlarmRepository } from '../../gateway/alarms/alarm-repository.js';
import { AlarmRuleRepository } from '../../gateway/alarms/alarm-rule-repository.js';
import { EventBus, type GatewayEvent } from '../../gateway/events.js';
import { openDatabase, type Database } from '../../gateway/store/database.js';
import { DeviceRepository } from '../../gateway/store/device-repository.js';
import { tempDir, testLog } from '../support/harness.js';
import { waitFor } from '../support/wait.js';

function battery(endpoint: string, value: number): GatewayEvent {
  return { type: 'device.notification', endpoint, observationId: 'o', path: '/3/0/9', content: [{ path: '/3/0/9', type: 'integer', value }], at: Date.now() };
}

describe('alarm engine', () => {
  const dir = tempDir();
  let db: Database;
  let devices: DeviceRepository;
  let events: EventBus;
  let clock = Date.now();
  const published: GatewayEvent[] = [];
  const engines: AlarmEngine[] = [];

  const engine = (opts: { restartGraceMs?: number } = {}) => {
    const e = new AlarmEngine({
      rules: new AlarmRuleRepository(db),
      alarms: new AlarmRepository(db),
      devices,
      events,
      log: testLog,
      offlineCheckIntervalMs: 20,
      restartGraceMs: opts.restartGraceMs ?? 0,
      now: () => clock,
    });
    engines.push(e);
    return e;
  };

  before(() => {
    db = openDatabase(dir.path, testLog);
    devices = new DeviceRepository(db);
    devices.importFactoryIdentities(['a1', 'a2', 'a3', 'a4'].map((endpoint) => ({ endpoint, factorySecretHash: 'x', tags: [], groups: [] })), clock);
    events = new EventBus();
    events.subscribe((e) => published.push(e));
  });
  after(() => {
    for (const e of engines) e.close();
    db.close();
    dir.remove();
  });

  test('the default rules are there on first start', () => {
    const ids = engine().listRules().map((r) => r.id).sort();
    engines.pop()!.close();
    assert.deepEqual(ids, ['battery-critical', 'battery-low', 'device-offline', 'error-code', 'memory-low', 'signal-weak', 'update-failed']);
  });

  test('a value rule raises once, clears past its hysteresis, and raises anew after', () => {
    const e = engine();
    try {
      events.publish(battery('a1', 15));
      events.publish(battery('a1', 14));
      let open = e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 });
      assert.deepEqual(open.items.map((a) => a.ruleId), ['battery-low'], 'one alarm per rule and device');
      events.publish(battery('a1', 21)); // above 20 but inside the 2 % hysteresis
      assert.equal(e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 }).total, 1);
      events.publish(battery('a1', 22));
      open = e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 });
      assert.equal(open.total, 0);
      const cleared = e.list({ endpoint: 'a1', state: 'cleared', offset: 0, limit: 10 }).items;
      assert.equal(cleared.length, 1);
      assert.match(cleared[0]!.clearReason ?? '', /= 22/);
      events.publish(battery('a1', 8));
      assert.deepEqual(e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 }).items.map((a) => a.ruleId).sort(), ['battery-critical', 'battery-low']);
      assert.deepEqual(
        published.filter((p) => p.type.startsWith('alarm.')).map((p) => p.type),
        ['alarm.raised', 'alarm.cleared', 'alarm.raised', 'alarm.raised'],
      );
    } finally {
      engines.pop()!.close();
    }
  });

  test('a notification of another resource leaves the alarm alone; error codes clear when back to 0', () => {
    const e = engine();
    try {
      events.publish({ type: 'device.notification', endpoint: 'a2', observationId: 'o', path: '/3/0/11', content: [{ path: '/3/0/11/0', type: 'integer', value: 0 }, { path: '/3/0/11/1', type: 'integer', value: 5 }], at: clock });
      const raised = e.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).items;
      assert.deepEqual(raised.map((a) => a.ruleId), ['error-code']);
      events.publish(battery('a2', 90));
      assert.equal(e.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).total, 1);
      events.publish({ type: 'device.notification', endpoint: 'a2', observationId: 'o', path: '/3/0/11', content: [{ path: '/3/0/11/0', type: 'integer', value: 0 }], at: clock });
      assert.equal(e.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).total, 0);
    } finally {
      engines.pop()!.close();
    }
  });

  test('acknowledge: by whom; only an open, unacknowledged alarm; stays acknowledged until cleared', () => {
    const e = engine();
    try {
      events.publish(battery('a3', 12));
      const [alarm] = e.list({ endpoint: 'a3', state: 'active', offset: 0, limit: 10 }).items;
      const acked = e.acknowledge(alarm!.id, 'alice');
      assert.equal(acked.state, 'acknowledged');
      assert.equal(acked.acknowledgedBy, 'alice');
      assert.throws(() => e.acknowledge(alarm!.id, 'bob'), /acknowledged: only an active alarm/);
      assert.throws(() => e.acknowledge(999_999, 'bob'), /no alarm 999999/);
      events.publish(battery('a3', 11));
      assert.equal(e.get(alarm!.id)!.state, 'acknowledged');
      events.publish(battery('a3', 50));
      assert.equal(e.get(alarm!.id)!.state, 'cleared');
      assert.equal(e.get(alarm!.id)!.acknowledgedBy, 'alice', 'history keeps who acknowledged');
    } finally {
      engines.pop()!.close();
    }
  });

  test('an operator clears an open alarm by hand; a condition that still holds raises a new one', () => {
    const e = engine();
    try {
      events.publish(battery('a4', 15));
      const [alarm] = e.list({ endpoint: 'a4', state: 'active', offset: 0, limit: 10 }).items;
      const cleared = e.clearByOperator(alarm!.id, 'carol');
      assert.equal(cleared.state, 'cleared');
      assert.equal(cleared.clearReason, 'cleared by carol');
      assert.equal(published.at(-1)?.type, 'alarm.cleared');
      assert.throws(() => e.clearByOperator(alarm!.id, 'carol'), /cleared already/);
      assert.throws(() => e.clearByOperator(999_999, 'carol'), /no alarm 999999/);
      events.publish(battery('a4', 14));
      const [again] = e.list({ endpoint: 'a4', state: 'active', offset: 0, limit: 10 }).items;
      assert.ok(again && again.id !== alarm!.id, 'raised anew');
      e.clearByOperator(again.id, 'carol');
    } finally {
      engines.pop()!.close();
    }
  });

  test('rules: created, changed, validated; deleting one clears its alarms', () => {
    const e = engine();
    try {
      assert.throws(() => e.createRule({ name: 'x', kind: 'value', severity: 'minor', path: '/3/0', op: '<', threshold: 1 }), /watches a resource/);
      assert.throws(() => e.createRule({ name: 'x', kind: 'value', severity: 'minor', path: '/3/0/9' }), /needs path, op and threshold/);
      assert.throws(() => e.createRule({ name: 'x', kind: 'offline', severity: 'minor' }), /afterSeconds/);
      const rule = e.createRule({ name: 'link quality low', kind: 'value', severity: 'minor', path: '/4/0/3', op: '<=', threshold: 10 });
      events.publish({ type: 'device.notification', endpoint: 'a4', observationId: 'o', path: '/4/0/3', content: [{ path: '/4/0/3', type: 'integer', value: 5 }], at: clock });
      assert.deepEqual(e.list({ endpoint: 'a4', state: 'active', offset: 0, limit: 10 }).items.map((a) => a.ruleId), [rule.id]);
      const changed = e.replaceRule(rule.id, { name: 'link quality very low', kind: 'value', severity: 'major', path: '/4/0/3', op: '<=', threshold: 3 });
      assert.equal(changed.severity, 'major');
      e.deleteRule(rule.id);
      const [alarm] = e.list({ endpoint: 'a4', offset: 0, limit: 10 }).items;
      assert.equal(alarm!.state, 'cleared');
      assert.equal(alarm!.clearReason, 'rule deleted');
      assert.throws(() => e.deleteRule(rule.id), /no alarm rule/);
    } finally {
      engines.pop()!.close();
    }
  });

  test('offline longer than the threshold raises; coming back clears', async () => {
    const e = engine();
    try {
      e.replaceRule('device-offline', { name: 'offline > 1 min', kind: 'offline', severity: 'major', afterSeconds: 60 });
      events.publish({ type: 'device.status', endpoint: 'a1', status: 'offline', previous: 'online', at: clock });
      e['watch'].sweep();
      assert.equal(e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 }).items.filter((a) => a.ruleId === 'device-offline').length, 0, 'not yet');
      clock += 61_000;
      await waitFor('offline alarm', () => e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 }).items.find((a) => a.ruleId === 'device-offline'));
      events.publish({ type: 'device.status', endpoint: 'a1', status: 'online', previous: 'offline', at: clock });
      assert.equal(e.list({ endpoint: 'a1', state: 'active', offset: 0, limit: 10 }).items.filter((a) => a.ruleId === 'device-offline').length, 0);
    } finally {
      engines.pop()!.close();
    }
  });

  test('after a restart: open alarms are kept, offline devices are watched from their last-seen, after the grace period', async () => {
    const first = engine();
    events.publish(battery('a2', 3));
    const openBefore = first.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).total;
    engines.pop()!.close();
    devices.setStatus('a2', 'offline', clock - 120_000); // as the registry has it after a restart
    const second = engine({ restartGraceMs: 30_000 });
    try {
      assert.equal(second.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).total, openBefore);
      events.publish(battery('a2', 2));
      assert.equal(second.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).total, openBefore, 'no second alarm for the same rule and device');
      second['watch'].sweep();
      assert.ok(!second.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).items.some((a) => a.ruleId === 'device-offline'), 'held back by the grace period');
      clock += 31_000;
      await waitFor('offline alarm resumed from last-seen', () => second.list({ endpoint: 'a2', state: 'active', offset: 0, limit: 10 }).items.find((a) => a.ruleId === 'device-offline'));
    } finally {
      engines.pop()!.close();
    }
  });

  test('update failed: raised by a failed rollout device, cleared by a later success', () => {
    const e = engine();
    try {
      events.publish({ type: 'rollout.device', rolloutId: 'r1', endpoint: 'a3', state: 'failed', updateResult: 8, reason: 'integrity check failure', at: clock });
      const [alarm] = e.list({ endpoint: 'a3', state: 'active', offset: 0, limit: 10 }).items.filter((a) => a.ruleId === 'update-failed');
      assert.match(alarm!.message, /Update Result 8/);
      events.publish({ type: 'rollout.device', rolloutId: 'r2', endpoint: 'a3', state: 'succeeded', updateResult: 1, reason: null, at: clock });
      assert.equal(e.get(alarm!.id)!.state, 'cleared');
    } finally {
      engines.pop()!.close();
    }
  });
});
