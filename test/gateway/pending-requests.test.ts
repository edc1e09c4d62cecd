import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DeviceLinkError } from '../../gateway/device-link.js';
import { PendingRequests } from '../../gateway/transports/mqtt/pending-requests.js';

describe('PendingRequests', () => {
  test('a response resolves only its own request, from its own endpoint', async () => {
    const pending = new PendingRequests();
    const answer = pending.wait('id-1', 'dev-a', 5000);
    assert.equal(pending.resolve('id-1', 'dev-b', { code: '2.05' }), false, 'another endpoint cannot answer');
    assert.equal(pending.resolve('id-2', 'dev-a', { code: '2.05' }), false);
    assert.equal(pending.resolve('id-1', 'dev-a', { code: '2.05' }), true);
    assert.deepEqual(await answer, { code: '2.05' });
    assert.equal(pending.size, 0);
    assert.equal(pending.resolve('id-1', 'dev-a', { code: '2.05' }), false, 'late duplicate');
  });

  test('a request times out with a typed error', async () => {
    const pending = new PendingRequests();
    await assert.rejects(pending.wait('id', 'dev', 20), (err: unknown) => err instanceof DeviceLinkError && err.kind === 'timeout');
    assert.equal(pending.size, 0);
  });

  test('a closed session fails its requests at once; others wait on', async () => {
    const pending = new PendingRequests();
    const a = pending.wait('1', 'dev-a', 5000);
    const b = pending.wait('2', 'dev-b', 5000);
    pending.failEndpoint('dev-a', 'gone');
    await assert.rejects(a, (err: unknown) => err instanceof DeviceLinkError && err.kind === 'unreachable');
    assert.equal(pending.size, 1);
    pending.resolve('2', 'dev-b', { code: '2.04' });
    assert.equal((await b).code, '2.04');
  });

  test('a request that could not be sent fails at once as unreachable, and only that one', async () => {
    const pending = new PendingRequests();
    const unsent = pending.wait('1', 'dev-a', 5000);
    const other = pending.wait('2', 'dev-a', 5000);
    pending.fail('1', 'dev-b', 'not yours');
    assert.equal(pending.size, 2, 'another endpoint cannot fail it');
    pending.fail('1', 'dev-a', 'the broker is closing');
    await assert.rejects(unsent, (err: unknown) => err instanceof DeviceLinkError && err.kind === 'unreachable' && /broker is closing/.test(err.message));
    assert.equal(pending.size, 1);
    assert.equal(pending.resolve('2', 'dev-a', { code: '2.04' }), true);
    assert.deepEqual(await other, { code: '2.04' });
  });

  test('an abort signal cancels a request', async () => {
    const pending = new PendingRequests();
    const controller = new AbortController();
    const answer = pending.wait('1', 'dev', 5000, controller.signal);
    controller.abort();
    await assert.rejects(answer, (err: unknown) => err instanceof DeviceLinkError && err.kind === 'cancelled');
  });
});
