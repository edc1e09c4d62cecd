import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { Gateway } from '../../gateway/gateway.js';
import { capturingLogger, api, apiHeaders, gatewayConfig, startGateway, TEST_ADMIN, tempDir, tokenWithRole } from '../support/harness.js';
import { Gateway as GatewayClass } from '../../gateway/gateway.js';
import { hashPassword, verifyPassword } from '../../gateway/operators/password.js';
import { LoginThrottle } from '../../gateway/operators/login-throttle.js';
import { auditAction } from '../../gateway/api/auth.js';
import { join } from 'node:path';
import { runCli } from '../support/cli.js';

interface AuditView {
  items: { actor: string | null; role: string | null; action: string; target: string | null; status: number; outcome: string; details: Record<string, unknown> | null }[];
  total: number;
}

async function request(gateway: Gateway, method: string, path: string, headers: Record<string, string> = {}, body?: unknown) {
  const init: RequestInit = { method, headers: { ...headers, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) } };
  if (body !== undefined) init.body = JSON.stringify(body);
  const res = await fetch(`${gateway.apiUrl}${path}`, init);
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

describe('operator accounts: authentication, roles, tokens, audit', () => {
  const dir = tempDir();
  let gateway: Gateway;

  before(async () => {
    gateway = await startGateway(dir.path);
  });
  after(async () => {
    await gateway.close();
    dir.remove();
  });

  test('the API refuses requests without a token (401, WWW-Authenticate) but health and login stay public', async () => {
    const devices = await request(gateway, 'GET', '/api/v1/devices');
    assert.equal(devices.status, 401);
    assert.equal((devices.body.error as { code: string }).code, 'unauthorized');
    assert.match(devices.headers.get('www-authenticate') ?? '', /^Bearer/);
    assert.equal((await request(gateway, 'GET', '/api/v1/devices', bearer('edgedm_not-a-real-token'))).status, 401);
    assert.equal((await request(gateway, 'GET', '/api/v1/devices', { authorization: 'Basic YWRtaW46eA==' })).status, 401);
    assert.equal((await request(gateway, 'GET', '/healthz')).status, 200);
    assert.equal((await request(gateway, 'GET', '/api/v1/firmware/trust-anchor')).status, 200);
  });

  test('login with the right password answers a session token and an HttpOnly SameSite cookie; both authenticate', async () => {
    const login = await request(gateway, 'POST', '/api/v1/auth/login', {}, TEST_ADMIN);
    assert.equal(login.status, 200);
    assert.deepEqual(login.body.operator, { username: 'admin', role: 'admin' });
    const cookie = login.headers.get('set-cookie') ?? '';
    assert.match(cookie, /^edgedm_session=edgedm_[\w-]+; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
    const token = login.body.token as string;
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(token))).body.username, 'admin');
    const viaCookie = await request(gateway, 'GET', '/api/v1/auth/me', { cookie: cookie.split(';')[0]! });
    assert.equal(viaCookie.status, 200);
    // A state-changing request with the cookie from another origin is refused (CSRF).
    const crossSite = await request(gateway, 'POST', '/api/v1/groups', { cookie: cookie.split(';')[0]!, origin: 'https://evil.example' }, { name: 'csrf' });
    assert.equal(crossSite.status, 403);
    const sameSite = await request(gateway, 'POST', '/api/v1/groups', { cookie: cookie.split(';')[0]!, origin: gateway.apiUrl }, { name: 'same-origin' });
    assert.equal(sameSite.status, 201, JSON.stringify(sameSite.body));
    // Logging out ends the session.
    assert.equal((await request(gateway, 'POST', '/api/v1/auth/logout', bearer(token))).status, 204);
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(token))).status, 401);
  });

  test('a wrong password or unknown user is 401 invalid_credentials; repeated failures are throttled with 429', async () => {
    const wrong = await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'admin', password: 'not-the-password' });
    assert.equal(wrong.status, 401);
    assert.equal((wrong.body.error as { code: string }).code, 'invalid_credentials');
    const unknown = await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'nobody', password: 'whatever-it-is' });
    assert.equal(unknown.status, 401);
    let throttled: Awaited<ReturnType<typeof request>> | undefined;
    for (let i = 0; i < 8 && !throttled; i++) {
      const r = await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'brute', password: `guess-number-${i}` });
      if (r.status === 429) throttled = r;
      else assert.equal(r.status, 401);
    }
    assert.ok(throttled, 'a run of failures is throttled');
    assert.ok(Number(throttled.headers.get('retry-after')) >= 1);
    const audit = (await api<AuditView>(gateway, 'GET', '/api/v1/audit?action=auth.login&outcome=failure')).body;
    assert.ok(audit.items.some((e) => e.actor === 'nobody' && e.details?.error === 'invalid_credentials'));
    assert.ok(audit.items.some((e) => e.actor === 'brute' && e.status === 429));
  });

  test('roles: a viewer reads but may not act (403); an operator acts but may not manage operators or alarm rules', async () => {
    const viewer = await tokenWithRole(gateway, 'viewer', 'vera');
    const operator = await tokenWithRole(gateway, 'operator', 'otto');
    assert.equal((await request(gateway, 'GET', '/api/v1/devices', bearer(viewer))).status, 200);
    assert.equal((await request(gateway, 'GET', '/api/v1/audit', bearer(viewer))).status, 200);
    const denied = await request(gateway, 'POST', '/api/v1/groups', bearer(viewer), { name: 'viewers-group' });
    assert.equal(denied.status, 403);
    assert.equal((denied.body.error as { code: string }).code, 'forbidden');
    assert.equal((await request(gateway, 'POST', '/api/v1/groups', bearer(operator), { name: 'operators-group' })).status, 201);
    assert.equal((await request(gateway, 'GET', '/api/v1/operators', bearer(operator))).status, 403);
    const rule = { name: 'hot', kind: 'value', severity: 'minor', path: '/3303/0/5700', op: '>', threshold: 80 };
    assert.equal((await request(gateway, 'POST', '/api/v1/alarm-rules', bearer(operator), rule)).status, 403);
    assert.equal((await request(gateway, 'POST', '/api/v1/alarm-rules', apiHeaders(gateway), rule)).status, 201);
    // The refusals are in the audit log, with who tried.
    const audit = (await api<AuditView>(gateway, 'GET', '/api/v1/audit?outcome=denied')).body;
    assert.ok(audit.items.some((e) => e.actor === 'vera' && e.action === 'groups.create' && e.status === 403));
    assert.ok(audit.items.some((e) => e.actor === 'otto' && e.action === 'alarm-rules.create'));
  });

  test('operators: create, change role, new password ends sessions, the last admin cannot be demoted or removed', async () => {
    const created = await api(gateway, 'POST', '/api/v1/operators', { username: 'Paula', password: 'paulas-password', role: 'viewer' });
    assert.equal(created.status, 201);
    assert.equal((created.body as { username: string }).username, 'paula', 'usernames are case-insensitive, kept lower case');
    assert.equal((await api(gateway, 'POST', '/api/v1/operators', { username: 'paula', password: 'another-password', role: 'viewer' })).status, 409);
    assert.equal((await api(gateway, 'POST', '/api/v1/operators', { username: 'shorty', password: 'short', role: 'viewer' })).status, 400);
    assert.equal((await api(gateway, 'POST', '/api/v1/operators', { username: 'x', password: 'long-enough-pw', role: 'root' })).status, 400);
    const session = (await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'PAULA', password: 'paulas-password' })).body.token as string;
    assert.equal((await api(gateway, 'PUT', '/api/v1/operators/paula', { role: 'operator' })).status, 200);
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(session))).body.role, 'operator', 'a role change applies at once');
    assert.equal((await api(gateway, 'PUT', '/api/v1/operators/paula', { password: 'paulas-new-password' })).status, 200);
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(session))).status, 401, 'a new password ends the sessions');
    assert.equal((await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'paula', password: 'paulas-new-password' })).status, 200);
    assert.equal((await api(gateway, 'PUT', '/api/v1/operators/admin', { role: 'viewer' })).status, 409);
    assert.equal((await api(gateway, 'DELETE', '/api/v1/operators/admin')).status, 409);
    assert.equal((await api(gateway, 'DELETE', '/api/v1/operators/paula')).status, 204);
    assert.equal((await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'paula', password: 'paulas-new-password' })).status, 401);
  });

  test('changing one\'s own password ends the other sessions, not the one asking', async () => {
    await tokenWithRole(gateway, 'operator', 'petra');
    const login = async (password: string) => (await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'petra', password })).body.token as string;
    const here = await login('a-test-password');
    const elsewhere = await login('a-test-password');
    const wrong = await request(gateway, 'POST', '/api/v1/auth/password', bearer(here), { currentPassword: 'not-it', newPassword: 'petras-new-password' });
    assert.equal(wrong.status, 403);
    const changed = await request(gateway, 'POST', '/api/v1/auth/password', bearer(here), { currentPassword: 'a-test-password', newPassword: 'petras-new-password' });
    assert.equal(changed.status, 204);
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(here))).status, 200, 'the session that changed it stays');
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(elsewhere))).status, 401, 'the others end');
    assert.equal((await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'petra', password: 'petras-new-password' })).status, 200);
  });

  test('an open event stream ends when its token is revoked', async () => {
    const created = await api<{ token: string; info: { id: string } }>(gateway, 'POST', '/api/v1/tokens', { name: 'stream' });
    const res = await fetch(`${gateway.apiUrl}/api/v1/events`, { headers: bearer(created.body.token) });
    assert.equal(res.status, 200);
    const ended = (async () => {
      for await (const _chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        // events and heartbeats until the gateway closes the stream
      }
      return true;
    })();
    assert.equal((await api(gateway, 'DELETE', `/api/v1/tokens/${created.body.info.id}`)).status, 204);
    assert.equal(await Promise.race([ended, new Promise((resolve) => setTimeout(() => resolve(false), 15_000))]), true, 'closed within its check interval');
  });

  test('API tokens: created for oneself, shown once, listed without the secret, revocable; others\' are not visible', async () => {
    const mine = await tokenWithRole(gateway, 'operator', 'tom');
    const created = await request(gateway, 'POST', '/api/v1/tokens', bearer(mine), { name: 'ci pipeline', expiresInDays: 30 });
    assert.equal(created.status, 201);
    const secret = created.body.token as string;
    const id = (created.body.info as { id: string }).id;
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(secret))).body.username, 'tom');
    const list = await request(gateway, 'GET', '/api/v1/tokens', bearer(mine));
    assert.ok(!JSON.stringify(list.body).includes(secret), 'the secret is never listed');
    assert.ok((list.body.items as { id: string }[]).some((t) => t.id === id));
    assert.equal((await request(gateway, 'GET', '/api/v1/tokens?all=true', bearer(mine))).status, 403);
    const adminTokens = (await api<{ items: { id: string }[] }>(gateway, 'GET', '/api/v1/tokens')).body.items;
    assert.equal((await request(gateway, 'DELETE', `/api/v1/tokens/${adminTokens[0]!.id}`, bearer(mine))).status, 404, "another's token is not found");
    assert.equal((await request(gateway, 'DELETE', `/api/v1/tokens/${id}`, bearer(mine))).status, 204);
    assert.equal((await request(gateway, 'GET', '/api/v1/auth/me', bearer(secret))).status, 401);
  });

  test('every state-changing request is audited: who, what, target, result; reads are not; CSV export', async () => {
    await api(gateway, 'POST', '/api/v1/groups', { name: 'audited' });
    await api(gateway, 'POST', '/api/v1/groups', { name: 'audited' }); // a conflict: audited as a failure
    await api(gateway, 'GET', '/api/v1/groups');
    const audit = (await api<AuditView>(gateway, 'GET', '/api/v1/audit?target=audited')).body;
    assert.deepEqual(
      audit.items.map((e) => [e.actor, e.role, e.action, e.target, e.outcome]),
      [
        ['admin', 'admin', 'groups.create', 'audited', 'failure'],
        ['admin', 'admin', 'groups.create', 'audited', 'success'],
      ],
    );
    const res = await fetch(`${gateway.apiUrl}/api/v1/audit?target=audited&format=csv`, { headers: apiHeaders(gateway) });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/csv/);
    const lines = (await res.text()).trim().split('\r\n');
    assert.equal(lines[0], 'id,at,actor,role,action,method,path,target,status,outcome,source,details');
    assert.equal(lines.length, 3);
    assert.match(lines[1]!, /,admin,admin,groups\.create,POST,\/api\/v1\/groups,audited,201,success,/);
  });

  test('the audit log is append-only in the database itself', () => {
    const db = (gateway as unknown as { db: { exec(sql: string): void } }).db;
    assert.throws(() => db.exec(`UPDATE audit_log SET actor = 'someone-else'`), /append-only/);
    assert.throws(() => db.exec('DELETE FROM audit_log'), /append-only/);
  });
});

describe('the first admin and secrets in logs', () => {
  test('a first start creates admin with a random password, shown once (not logged); a second start creates none', async () => {
    const dir = tempDir();
    const { log, lines } = capturingLogger('trace');
    const config = gatewayConfig(dir.path, { auth: { initialAdminPassword: null, sessionHours: 12, passwordCost: 12 } });
    let gateway = await GatewayClass.start(config, log);
    try {
      const admin = gateway.northbound.initialAdmin;
      assert.ok(admin);
      assert.equal(admin.username, 'admin');
      assert.ok(admin.password.length >= 20);
      const login = await request(gateway, 'POST', '/api/v1/auth/login', {}, admin);
      assert.equal(login.status, 200);
      const token = login.body.token as string;
      await request(gateway, 'POST', '/api/v1/auth/login', {}, { username: 'admin', password: 'wrong-password-typed' });
      await request(gateway, 'GET', '/api/v1/devices', bearer(token));
      const all = lines.join('');
      assert.ok(!all.includes(admin.password), 'the password is never logged');
      assert.ok(!all.includes(token), 'tokens are never logged');
      assert.ok(!all.includes('wrong-password-typed'));
      await gateway.close();
      gateway = await GatewayClass.start(config, log);
      assert.equal(gateway.northbound.initialAdmin, undefined);
      assert.equal((await request(gateway, 'POST', '/api/v1/auth/login', {}, admin)).status, 200, 'the account persists');
    } finally {
      await gateway.close();
      dir.remove();
    }
  });

  test('HTTPS: a local CA and a server certificate are made on first start and reused; the API answers over TLS', async () => {
    const dir = tempDir();
    const config = gatewayConfig(dir.path, { api: { host: '127.0.0.1', port: 0, tls: { enabled: true, certFile: null, keyFile: null } } });
    let gateway = await GatewayClass.start(config, capturingLogger().log);
    try {
      assert.match(gateway.apiUrl, /^https:\/\/127\.0\.0\.1:\d+$/);
      const caFile = gateway.northbound.caFile!;
      const { readFileSync, statSync } = await import('node:fs');
      for (const key of ['api-key.pem', 'ca-key.pem']) assert.equal(statSync(join(dir.path, 'tls', key)).mode & 0o777, 0o600);
      const { Agent, fetch: undiciFetch } = await import('undici');
      const dispatcher = new Agent({ connect: { ca: readFileSync(caFile) } });
      const res = await undiciFetch(`${gateway.apiUrl}/healthz`, { dispatcher });
      assert.equal(res.status, 200);
      await assert.rejects(fetch(`${gateway.apiUrl}/healthz`), 'an untrusting client refuses the certificate');
      // The CLI, told to trust the CA, logs in and works over HTTPS.
      const env = { EDGEDM_CONFIG_DIR: join(dir.path, 'cli'), EDGEDM_PASSWORD: TEST_ADMIN.password };
      const login = await runCli(['--api', gateway.apiUrl, '--ca', caFile, 'login', '-u', 'admin'], env);
      assert.equal(login.status, 0, login.stderr);
      const whoami = await runCli(['--api', gateway.apiUrl, 'whoami'], env);
      assert.equal(whoami.status, 0, whoami.stderr);
      assert.match(whoami.stdout, /^admin \(admin\)/);
      const certBefore = readFileSync(join(dir.path, 'tls', 'api-cert.pem'), 'utf8');
      await gateway.close();
      gateway = await GatewayClass.start(config, capturingLogger().log);
      assert.equal(readFileSync(join(dir.path, 'tls', 'api-cert.pem'), 'utf8'), certBefore, 'reused at the next start');
    } finally {
      await gateway.close();
      dir.remove();
    }
  });
});

describe('operator building blocks', () => {
  test('scrypt hashes verify the right password only, carry their parameters, and differ per salt', async () => {
    const a = await hashPassword('correct horse battery', 12);
    const b = await hashPassword('correct horse battery', 12);
    assert.notEqual(a, b);
    assert.match(a, /^scrypt\$4096\$8\$1\$[\w-]+\$[\w-]+$/);
    assert.equal(await verifyPassword('correct horse battery', a), true);
    assert.equal(await verifyPassword('correct horse batterY', a), false);
    assert.equal(await verifyPassword('x', 'md5$abc'), false);
  });

  test('the login throttle lets a few failures through, then doubles the wait; success clears the user', () => {
    const t = new LoginThrottle(3, 1000, 60_000);
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) {
      assert.equal(t.retryAfterMs('u', '10.0.0.1', now), 0);
      t.failed('u', '10.0.0.1', now);
    }
    assert.equal(t.retryAfterMs('u', '10.0.0.2', now), 1000, 'the username is throttled from anywhere');
    assert.equal(t.retryAfterMs('other', '10.0.0.1', now), 0, 'an address gets more tries (people behind one NAT)');
    for (let i = 0; i < 9; i++) t.failed(`user${i}`, '10.0.0.9', now);
    assert.equal(t.retryAfterMs('anyone', '10.0.0.9', now), 0);
    for (let i = 0; i < 3; i++) t.failed(`more${i}`, '10.0.0.9', now);
    assert.equal(t.retryAfterMs('anyone', '10.0.0.9', now), 1000, 'then the address is throttled for any username');
    t.failed('u', '10.0.0.1', now);
    assert.equal(t.retryAfterMs('u', '10.0.0.3', now), 2000);
    t.succeeded('u');
    assert.equal(t.retryAfterMs('u', '10.0.0.3', now), 0);
  });

  test('audit action names say what was done', () => {
    assert.equal(auditAction('POST', '/api/v1/devices/:endpoint/write'), 'devices.write');
    assert.equal(auditAction('POST', '/api/v1/rollouts'), 'rollouts.create');
    assert.equal(auditAction('POST', '/api/v1/rollouts/:id/pause'), 'rollouts.pause');
    assert.equal(auditAction('PUT', '/api/v1/alarm-rules/:id'), 'alarm-rules.update');
    assert.equal(auditAction('DELETE', '/api/v1/groups/:name'), 'groups.delete');
    assert.equal(auditAction('POST', '/api/v1/devices/import'), 'devices.import');
  });
});
