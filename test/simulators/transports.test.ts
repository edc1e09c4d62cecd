import assert from 'node:assert/strict';
import { test } from 'node:test';
import { describeTransports, parseTransports, transportOf, TransportPlanError } from '../../simulators/transports.js';

const servers = { mqtt: 'mqtt://127.0.0.1:1883', coap: 'coap://127.0.0.1:5683' };

test('a transport list is dealt out to the fleet in turn', () => {
  const plan = { kinds: parseTransports('mqtt, lwm2m'), servers };
  assert.deepEqual(
    [0, 1, 2, 3, 4].map((i) => transportOf(plan, i)),
    ['mqtt', 'lwm2m', 'mqtt', 'lwm2m', 'mqtt'],
  );
  assert.equal(describeTransports(plan.kinds, 5), '3 mqtt, 2 lwm2m');
});

test('mixed is all three transports; a single one is the whole fleet', () => {
  assert.deepEqual(parseTransports('mixed'), ['mqtt', 'coap', 'lwm2m']);
  assert.equal(describeTransports(parseTransports('mixed'), 20), '7 mqtt, 7 coap, 6 lwm2m');
  assert.equal(describeTransports(parseTransports('coap'), 4), '4 coap');
});

test('an unknown or empty transport is refused with the choices', () => {
  assert.throws(() => parseTransports('mqtt,zigbee'), (err: unknown) => err instanceof TransportPlanError && /unknown transport "zigbee"; use mqtt, coap, lwm2m or mixed/.test(err.message));
  assert.throws(() => parseTransports(' , '), TransportPlanError);
});
