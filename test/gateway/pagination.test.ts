import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ApiClient } from '../../cli/api-client.js';
import { PAGE_LIMIT_DEFAULT, PAGE_LIMIT_MAX } from '../../gateway/api/pagination.js';
import type { Gateway } from '../../gateway/gateway.js';
import { api, apiHeaders, startGateway, tempDir, testIdentities } from '../support/harness.js';
import { addFirmware } from '../support/rollouts.js';

interface Page {
  items: unknown[];
  total: number;
  offset: number;
  limit: number;
}

const withQuery = (path: string, query: string) => `${path}${path.includes('?') ? '&' : '?'}${query}`;

describe('every list pages alike: ?offset=&limit= in, {items, total, offset, limit} out', () => {
  const dir = tempDir();
  const identities = testIdentities(7, 'pg');
  const endpoints = identities.map((i) => i.endpoint);
  let gateway: Gateway;
  let rollout: string;
  let command: string;

  before(async () => {
    gateway = await startGateway(dir.path);
    gateway.devices.importFactoryIdentities(identities);
    for (const name of ['pg-a', 'pg-b', 'pg-c', 'pg-d', 'pg-e']) assert.equal((await api(gateway, 'POST', '/api/v1/groups', { name })).status, 201);
    for (const [i, tag] of ['alpha', 'beta', 'gamma', 'delta'].entries()) {
      assert.equal((await api(gateway, 'POST', `/api/v1/tags/${tag}/add`, { target: `id:${endpoints.slice(0, i + 1).join(',')}` })).status, 200);
    }
    const models = [...new Set(identities.map((i) => i.model))];
    const firmware: string[] = [];
    for (const version of ['1.0.1', '1.0.2', '1.0.3']) firmware.push(await addFirmware(gateway, version, models));
    for (const endpoint of endpoints.slice(0, 5)) {
      gateway.firmware.createTransfer({ firmwareId: firmware[0]!, endpoint, rolloutId: null, transport: 'http', allowDowngrade: false });
    }
    // Three rollouts over devices none of them shares; the first has three devices.
    for (const target of [endpoints.slice(0, 3), endpoints.slice(3, 4), endpoints.slice(4, 5)]) {
      const r = await api<{ id: string }>(gateway, 'POST', '/api/v1/rollouts', { firmware: firmware[2], target: `id:${target.join(',')}` });
      assert.equal(r.status, 201, JSON.stringify(r.body));
      rollout ??= r.body.id;
    }
    for (const path of ['/3/0/0', '/3/0/1', '/3/0/2']) {
      const c = await api<{ id: string }>(gateway, 'POST', '/api/v1/fleet/commands', { target: `id:${endpoints.slice(0, 3).join(',')}`, operation: 'read', path });
      assert.equal(c.status, 201, JSON.stringify(c.body));
      command ??= c.body.id;
    }
    // Battery at 5 %: two alarms (warning and critical) on each of three devices.
    for (const endpoint of endpoints.slice(0, 3)) gateway.management.alarms.evaluateValues(endpoint, '/3/0/9', [{ path: '/3/0/9', type: 'integer', value: 5 }]);
    for (const endpoint of endpoints) gateway.management.ledger.messages(endpoint, 'mqtt', 'in', 3);
  });
  after(async () => {
    await gateway.close();
    dir.remove();
  });

  /** The whole list in one page, then a page from its middle: the same items, the same total. */
  async function pagesAlike(path: string, atLeast: number): Promise<void> {
    const all = await api<Page>(gateway, 'GET', withQuery(path, `limit=${PAGE_LIMIT_MAX}`));
    assert.equal(all.status, 200, JSON.stringify(all.body));
    assert.ok(all.body.total >= atLeast, `${path}: ${all.body.total} items, expected at least ${atLeast}`);
    assert.equal(all.body.items.length, all.body.total, `${path}: the whole list fits one page`);
    assert.deepEqual([all.body.offset, all.body.limit], [0, PAGE_LIMIT_MAX]);

    const middle = await api<Page>(gateway, 'GET', withQuery(path, 'offset=1&limit=2'));
    assert.equal(middle.status, 200);
    assert.deepEqual(middle.body, { ...middle.body, items: all.body.items.slice(1, 3), total: all.body.total, offset: 1, limit: 2 }, path);

    const byDefault = await api<Page>(gateway, 'GET', path);
    assert.deepEqual([byDefault.body.offset, byDefault.body.limit, byDefault.body.total], [0, PAGE_LIMIT_DEFAULT, all.body.total], path);
    assert.deepEqual(byDefault.body.items, all.body.items.slice(0, PAGE_LIMIT_DEFAULT));

    const past = await api<Page>(gateway, 'GET', withQuery(path, `offset=${all.body.total + 5}`));
    assert.deepEqual([past.body.items, past.body.total], [[], all.body.total], `${path}: past the end, an empty page`);

    for (const bad of ['limit=0', `limit=${PAGE_LIMIT_MAX + 1}`, 'offset=-1', 'limit=many']) {
      const r = await api<{ error: { code: string } }>(gateway, 'GET', withQuery(path, bad));
      assert.equal(r.status, 400, `${path} ${bad}`);
      assert.equal(r.body.error.code, 'invalid_request');
    }
  }

  const lists: [string, () => string, number][] = [
    ['devices', () => '/api/v1/devices', 7],
    ['devices by target', () => '/api/v1/devices?target=tag:alpha,beta,gamma', 3],
    ['groups', () => '/api/v1/groups', 5],
    ['tags', () => '/api/v1/tags', 4],
    ['firmware', () => '/api/v1/firmware', 3],
    ['transfers', () => '/api/v1/transfers', 5],
    ['transfers of a device', () => `/api/v1/transfers?endpoint=${endpoints[0]}`, 1],
    ['rollouts', () => '/api/v1/rollouts', 3],
    ["a rollout's devices", () => `/api/v1/rollouts/${rollout}/devices`, 3],
    ['fleet commands', () => '/api/v1/fleet/commands', 3],
    ["a fleet command's devices", () => `/api/v1/fleet/commands/${command}/devices`, 3],
    ['alarms', () => '/api/v1/alarms', 6],
    ['alarm rules', () => '/api/v1/alarm-rules', 7],
    ['accounting (JSON)', () => '/api/v1/accounting?from=1h', 7],
  ];
  for (const [name, path, atLeast] of lists) test(name, () => pagesAlike(path(), atLeast));

  test('the CSV export of the ledger is whole whatever the page', async () => {
    const res = await fetch(`${gateway.apiUrl}/api/v1/accounting?from=1h&format=csv&limit=2`, { headers: apiHeaders(gateway) });
    assert.equal(res.status, 200);
    assert.equal((await res.text()).trim().split('\n').length, 1 + 7, 'a header and a line per device');
  });

  test('the CLI reads a whole list page by page', async () => {
    const token = apiHeaders(gateway).authorization?.replace(/^Bearer /, '');
    const client = new ApiClient(gateway.apiUrl, token ? { token } : {});
    const groups = await client.getAll<{ name: string }>('/api/v1/groups', {}, 2);
    const all = (await api<Page>(gateway, 'GET', `/api/v1/groups?limit=${PAGE_LIMIT_MAX}`)).body.items;
    assert.ok(groups.length >= 5);
    assert.deepEqual(groups, all);
    assert.equal((await client.getAll('/api/v1/devices', { target: 'tag:delta' }, 1)).length, 4);
  });
});
