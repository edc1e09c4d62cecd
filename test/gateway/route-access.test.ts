import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { startGateway, tempDir, tokenWithRole } from '../support/harness.js';

/**
 * The access policy, written down here independently of gateway/api/auth.ts, and held against
 * every route the server actually has: a new route is covered the day it is added.
 */
const PUBLIC = new Set(['POST /api/v1/auth/login', 'GET /api/v1/firmware/trust-anchor']);
/** State-changing by method, but a viewer may: reading a device, and managing their own session and tokens. */
const VIEWER_MAY = new Set([
  'POST /api/v1/devices/:endpoint/read',
  'POST /api/v1/devices/:endpoint/discover',
  'POST /api/v1/auth/logout',
  'POST /api/v1/auth/password',
  'POST /api/v1/tokens',
  'DELETE /api/v1/tokens/:id',
]);
/** Only an admin: operator accounts, alarm rules, the registry's credentials. */
const ADMIN_ONLY = /^(\w+ \/api\/v1\/operators|(POST|PUT|DELETE) \/api\/v1\/alarm-rules|POST \/api\/v1\/devices\/import$|POST \/api\/v1\/devices\/:endpoint\/decommission$|(POST|DELETE) \/api\/v1\/devices\/:endpoint\/psk$|DELETE \/api\/v1\/devices\/:endpoint$)/;

const concrete = (url: string) => url.replace(/:(\w+)/g, (_m, name: string) => `no-such-${name}`);

async function call(gateway: Gateway, method: string, url: string, token?: string): Promise<number> {
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const controller = new AbortController();
  const init: RequestInit = { method, headers, signal: controller.signal };
  if (method !== 'GET' && method !== 'DELETE') {
    headers['content-type'] = 'application/json';
    init.body = '{}';
  }
  const res = await fetch(`${gateway.apiUrl}${concrete(url)}`, init);
  controller.abort(); // the status is all we need; the event stream would never end
  return res.status;
}

describe('every API route against the access policy', () => {
  const dir = tempDir();
  let gateway: Gateway;
  let viewer: string;
  let operator: string;
  let routes: { method: string; url: string; key: string }[];

  before(async () => {
    gateway = await startGateway(dir.path);
    viewer = await tokenWithRole(gateway, 'viewer');
    operator = await tokenWithRole(gateway, 'operator');
    routes = gateway.apiRoutes
      .filter((r) => r.url.startsWith('/api/') && !r.url.startsWith('/api/docs') && r.method !== 'HEAD' && r.method !== 'OPTIONS')
      .map((r) => ({ method: r.method, url: r.url, key: `${r.method} ${r.url}` }));
  });
  after(async () => {
    await gateway.close();
    dir.remove();
  });

  test('the route table is the real one (a policy checked against nothing proves nothing)', () => {
    assert.ok(routes.length >= 50, `only ${routes.length} routes`);
    for (const key of [...PUBLIC, ...VIEWER_MAY]) assert.ok(routes.some((r) => r.key === key), `${key} exists`);
  });

  test('without a token: every route but the public ones answers 401', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      const status = await call(gateway, r.method, r.url);
      if (PUBLIC.has(r.key) ? status === 401 || status === 403 : status !== 401) wrong.push(`${r.key} → ${status}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('a viewer: every state-changing route answers 403, except reading devices and its own session and tokens; reads are allowed', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (PUBLIC.has(r.key) || r.key === 'POST /api/v1/auth/logout') continue; // logging out would end the token
      const status = await call(gateway, r.method, r.url, viewer);
      const changes = r.method !== 'GET' && !VIEWER_MAY.has(r.key);
      const refused = status === 401 || status === 403;
      if (changes || ADMIN_ONLY.test(r.key) ? status !== 403 : refused) wrong.push(`${r.key} → ${status}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('an operator: admin-only routes answer 403, every other route lets it through', async () => {
    const wrong: string[] = [];
    for (const r of routes) {
      if (PUBLIC.has(r.key) || r.key === 'POST /api/v1/auth/logout') continue;
      const status = await call(gateway, r.method, r.url, operator);
      const refused = status === 401 || status === 403;
      if (ADMIN_ONLY.test(r.key) ? status !== 403 : refused) wrong.push(`${r.key} → ${status}`);
    }
    assert.deepEqual(wrong, []);
  });
});
