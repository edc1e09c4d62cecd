import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { GATEWAY_SUBSCRIPTIONS, mayPublish, maySubscribe, parseTopic, topicFor } from '../../protocol/mqtt/topics.js';

describe('MQTT topic scheme', () => {
  test('topics are edgedm/v1/{endpoint}/{kind} and parse back', () => {
    assert.equal(topicFor('dev-1', 'req'), 'edgedm/v1/dev-1/req');
    assert.deepEqual(parseTopic('edgedm/v1/dev-1/bs/res'), { endpoint: 'dev-1', kind: 'bs/res' });
    for (const bad of ['edgedm/v1/dev-1', 'edgedm/v1/dev-1/unknown', 'edgedm/v2/dev-1/req', 'edgedm/v1/+/req', 'edgedm/v1/#', 'edgedm/v1//req', 'x/edgedm/v1/a/req', 'edgedm/v1/bad name/req']) {
      assert.equal(parseTopic(bad), undefined, bad);
    }
  });

  test('an operational device publishes only its own uplink topics', () => {
    for (const kind of ['register', 'update', 'deregister', 'res', 'notify', 'status'] as const) {
      assert.ok(mayPublish('operational', 'a', topicFor('a', kind)), kind);
      assert.ok(!mayPublish('operational', 'a', topicFor('b', kind)), `${kind} of b`);
    }
    for (const kind of ['req', 'bs/req', 'bs/res'] as const) assert.ok(!mayPublish('operational', 'a', topicFor('a', kind)), kind);
    assert.ok(!mayPublish('operational', 'a', 'edgedm/v1/a/res/extra'));
    assert.ok(!mayPublish('operational', 'a', 'anything/else'));
  });

  test('a factory identity reaches only its own bootstrap topics', () => {
    assert.ok(mayPublish('factory', 'a', topicFor('a', 'bs/req')));
    assert.ok(maySubscribe('factory', 'a', topicFor('a', 'bs/res')));
    assert.ok(!mayPublish('factory', 'a', topicFor('a', 'register')));
    assert.ok(!mayPublish('factory', 'a', topicFor('b', 'bs/req')));
    assert.ok(!maySubscribe('factory', 'a', topicFor('a', 'req')));
    assert.ok(!maySubscribe('factory', 'a', topicFor('b', 'bs/res')));
  });

  test('devices subscribe to exact topics: wildcards are refused', () => {
    assert.ok(maySubscribe('operational', 'a', topicFor('a', 'req')));
    for (const filter of ['edgedm/v1/a/#', 'edgedm/v1/+/req', 'edgedm/#', '#', '+/+/a/req', topicFor('b', 'req'), topicFor('a', 'res')]) {
      assert.ok(!maySubscribe('operational', 'a', filter), filter);
    }
  });

  test('the gateway listens to every kind devices may publish', () => {
    assert.deepEqual(
      [...GATEWAY_SUBSCRIPTIONS].sort(),
      ['bs/req', 'deregister', 'notify', 'register', 'res', 'status', 'update'].map((k) => `edgedm/v1/+/${k}`).sort(),
    );
  });
});
