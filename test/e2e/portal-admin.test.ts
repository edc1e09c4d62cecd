// test: run alone (browser)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Page } from 'playwright-core';
import type { CommandView } from '../support/fleet-commands.js';
import { api, TEST_ADMIN } from '../support/harness.js';
import { DESKTOP, idInUrl, markUnreloaded, portalFixture, row, shot, skipWithoutChromium as skip, stillUnreloaded, TABLET } from '../support/portal-browser.js';
import { waitFor } from '../support/wait.js';

/**
 * The portal's operator-side pages in a real browser against a real gateway and a simulated
 * fleet: an admin manages operators (and is refused removing the last admin), makes an API token
 * and uses it, runs a fleet command over the whole fleet and watches every device succeed with
 * the fleet's values summed up, cancels a paced one, and edits alarm rules; an operator has fleet
 * commands but no operator management, and changes its own password without being logged out;
 * a viewer is offered neither. Every wait is on a condition, never a fixed time.
 */

const VIEWER = { username: 'vic', password: 'viewer-password-1', reset: 'viewer-password-2' };
const OPERATOR = { username: 'otto', password: 'operator-password-1', changed: 'operator-password-2' };
/** Battery levels the devices report to `read /3/0/9`: two alike, so the distribution has a most common value. */
const BATTERY = [80, 80, 55, 30];

describe('web portal: fleet commands, operators, tokens and alarm rules', { skip, timeout: 300_000 }, () => {
  const portal = portalFixture({ dirPrefix: 'edgedm-portal-admin-', endpointPrefix: 'pa', logIn: TEST_ADMIN });

  const nav = (p: Page, name: string | RegExp) => p.getByRole('navigation', { name: 'main' }).getByRole('link', { name });
  /** The next confirm() of this page is answered OK (Playwright dismisses dialogs by default). */
  const acceptNextDialog = (p: Page) => p.once('dialog', (d) => void d.accept());
  const login = async (username: string, password: string) =>
    (await fetch(`${portal.gateway.apiUrl}/api/v1/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username, password }) })).status;

  test('an admin creates a viewer, sets its password, and is refused demoting or deleting the last admin', async () => {
    const { gateway, page } = portal;
    await nav(page, 'Operators').click();
    await row(page, 'tr[data-operator=admin]').waitFor();

    const form = page.locator('form[aria-label="create operator"]');
    await form.locator('input[name=username]').fill(VIEWER.username);
    await form.locator('select[name=role]').selectOption('viewer');
    await form.locator('input[name=password]').fill(VIEWER.password);
    await form.getByRole('button', { name: 'Create operator' }).click();
    const vic = row(page, `tr[data-operator=${VIEWER.username}]`);
    await vic.waitFor();
    assert.equal(await vic.locator('select[name=role]').inputValue(), 'viewer');
    const created = await api<{ role: string }>(gateway, 'GET', `/api/v1/operators/${VIEWER.username}`);
    assert.equal(created.body.role, 'viewer');
    assert.equal(await login(VIEWER.username, VIEWER.password), 200);

    // A new password for the viewer, set by the admin.
    await vic.getByRole('button', { name: 'Set password' }).click();
    const reset = page.locator(`form[aria-label="new password for ${VIEWER.username}"]`);
    await reset.locator('input[name=password]').fill(VIEWER.reset);
    await reset.getByRole('button', { name: 'Set', exact: true }).click();
    await row(page, `tr[data-operator=${VIEWER.username}] .ok-text`, 'password set').waitFor();
    assert.equal(await login(VIEWER.username, VIEWER.reset), 200);
    assert.equal(await login(VIEWER.username, VIEWER.password), 401);

    // The last admin can be neither demoted nor deleted: the API's refusal is shown where it was asked.
    const adminRow = row(page, 'tr[data-operator=admin]');
    await adminRow.locator('select[name=role]').selectOption('viewer');
    await adminRow.getByRole('alert').filter({ hasText: 'last admin' }).waitFor();
    assert.equal(await adminRow.locator('select[name=role]').inputValue(), 'admin', 'the select shows the role the account kept');
    acceptNextDialog(page);
    await adminRow.getByRole('button', { name: 'delete admin' }).click();
    await adminRow.locator('.action', { has: page.getByRole('button', { name: 'delete admin' }) }).getByRole('alert').filter({ hasText: 'is the last admin' }).waitFor();
    assert.equal((await api<{ role: string }>(gateway, 'GET', '/api/v1/operators/admin')).body.role, 'admin');
    await page.locator('table[aria-label="all tokens"] tbody tr').first().waitFor();
    await shot(page, 'operators', true);
  });

  test('an admin deletes an operator after confirming', async () => {
    const { gateway, page } = portal;
    const doomed = await api(gateway, 'POST', '/api/v1/operators', { username: 'temp-1', password: 'temporary-password', role: 'operator' });
    assert.equal(doomed.status, 201, JSON.stringify(doomed.body));
    await page.reload();
    const temp = row(page, 'tr[data-operator=temp-1]');
    // Dismissing the confirmation keeps the account.
    let asked = '';
    page.once('dialog', (d) => {
      asked = d.message();
      void d.dismiss();
    });
    await temp.getByRole('button', { name: 'delete temp-1' }).click();
    await waitFor('the confirmation', () => asked);
    assert.match(asked, /Delete the operator temp-1\?/);
    assert.equal((await api(gateway, 'GET', '/api/v1/operators/temp-1')).status, 200);
    assert.equal(await temp.count(), 1);
    acceptNextDialog(page);
    await temp.getByRole('button', { name: 'delete temp-1' }).click();
    await temp.waitFor({ state: 'detached' });
    assert.equal((await api(gateway, 'GET', '/api/v1/operators/temp-1')).status, 404);
  });

  test('an admin creates an API token; its secret, shown once, works against the API; revoking it ends it', async () => {
    const { gateway, page } = portal;
    await page.getByTestId('who').click();
    const form = page.locator('form[aria-label="create token"]');
    await form.locator('input[name=tokenName]').fill('nightly export');
    await form.getByRole('button', { name: 'Create token' }).click();
    const box = page.getByTestId('new-token');
    await box.waitFor();
    assert.match((await box.textContent()) ?? '', /cannot show it again/);
    const secret = await box.getByLabel('new token secret').inputValue();
    assert.ok(secret.length >= 32, `a token secret: ${secret}`);
    await box.getByRole('button', { name: 'Copy' }).click();
    await box.getByText(/^(copied|selected: press Ctrl\+C)$/).waitFor();

    const bearer = { authorization: `Bearer ${secret}` };
    const me = await fetch(`${gateway.apiUrl}/api/v1/auth/me`, { headers: bearer });
    assert.equal(me.status, 200);
    assert.deepEqual(await me.json(), { username: TEST_ADMIN.username, role: 'admin' });
    assert.equal((await fetch(`${gateway.apiUrl}/api/v1/devices?limit=1`, { headers: bearer })).status, 200);

    const tokenRow = row(page, 'table[aria-label="my tokens"] tr[data-name="nightly export"]');
    await tokenRow.waitFor();
    await box.getByRole('button', { name: 'Done' }).click();
    await box.waitFor({ state: 'detached' });
    await shot(page, 'account');
    acceptNextDialog(page);
    await tokenRow.getByRole('button', { name: 'revoke nightly export' }).click();
    await tokenRow.waitFor({ state: 'detached' });
    assert.equal((await fetch(`${gateway.apiUrl}/api/v1/auth/me`, { headers: bearer })).status, 401, 'a revoked token no longer works');
  });

  test('runs read /3/0/9 on all devices and watches every device succeed, with the values summed up', async () => {
    const { gateway, fleet, identities, page } = portal;
    identities.forEach((identity, i) => fleet.device(identity.endpoint)!.host.setBatteryLevel(BATTERY[i]!));
    await nav(page, 'Fleet commands').click();
    const form = page.locator('form[aria-label="create fleet command"]');
    await form.locator('input[name=target]').fill('all');
    await row(page, '[data-testid=target-count]', '4 devices now').waitFor();
    await form.locator('select[name=operation]').selectOption('read');
    await form.locator('input[name=path]').fill('/3/0/9');
    await form.getByRole('button', { name: 'Run on the target' }).click();

    await page.getByTestId('command-page').waitFor();
    const id = idInUrl(page);
    // From here the page is not reloaded: what changes comes from the event stream.
    await markUnreloaded(page);

    await row(page, '[data-testid=command-progress]', '4 of 4 succeeded').waitFor({ timeout: 60_000 });
    await row(page, '.panel-head .badge', 'completed').waitFor();
    await waitFor('every device row succeeded', async () => (await page.locator('table[aria-label="command devices"] tr[data-state=succeeded]').count()) === 4, 30_000);

    // The aggregate: every device answered 2.05, and the distribution of the battery levels.
    const aggregate = page.getByTestId('aggregate');
    await row(page, '[data-testid=aggregate] li[data-step="read /3/0/9"]', '2.05 Content ×4').waitFor();
    const battery = aggregate.locator('figure[data-path="/3/0/9"]');
    await battery.filter({ hasText: '4 devices · 3 distinct' }).waitFor();
    assert.match((await battery.getByTestId('numeric').textContent()) ?? '', /min 30 % · mean 61\.25 % · max 80 %/);
    const top = battery.locator('tbody tr').first();
    assert.match((await top.textContent()) ?? '', /^80 %2/, 'the most common value first, with its count');
    // Each device's own result arrives with the page's next reload of its rows (results are not in the events).
    for (const [i, identity] of identities.entries()) {
      await row(page, `table[aria-label="command devices"] tr[data-endpoint="${identity.endpoint}"]`, `read /3/0/9: 2.05 Content = ${BATTERY[i]}`).waitFor();
    }
    assert.ok(await stillUnreloaded(page), 'followed live, without a reload');
    await shot(page, 'fleet-commands', true);

    const done = (await api<CommandView>(gateway, 'GET', `/api/v1/fleet/commands/${id}`)).body;
    assert.equal(done.state, 'completed');
    assert.equal(done.counts.succeeded, 4);
    assert.equal(done.aggregate?.values['/3/0/9']?.numeric?.mean, 61.25);
  });

  test('cancels a paced fleet command before it reaches every device', async () => {
    const { gateway, page } = portal;
    await nav(page, 'Fleet commands').click();
    const form = page.locator('form[aria-label="create fleet command"]');
    await form.locator('select[name=operation]').selectOption('read');
    await form.locator('input[name=path]').fill('/3/0/0');
    // One send a minute: the first device gets it now, the others wait for the bucket.
    await form.locator('input[name=ratePerMin]').fill('1');
    await form.getByRole('button', { name: 'Run on the target' }).click();
    await page.getByTestId('command-page').waitFor();
    const id = idInUrl(page);
    await row(page, '.legend-item', 'queued').waitFor();
    acceptNextDialog(page);
    await page.getByRole('button', { name: 'Cancel', exact: true }).click();
    await row(page, '.panel-head .badge', 'cancelled').waitFor();
    await row(page, '.notice', 'cancelled by the operator').waitFor();
    await waitFor('no device left queued on the page', async () => (await page.locator('tr[data-state=queued], tr[data-state=sent]').count()) === 0);
    const cancelled = (await api<CommandView>(gateway, 'GET', `/api/v1/fleet/commands/${id}`)).body;
    assert.equal(cancelled.state, 'cancelled');
    assert.ok((cancelled.counts.cancelled ?? 0) >= 3, JSON.stringify(cancelled.counts));

    // The list shows both commands with their end states.
    await page.getByRole('link', { name: 'Fleet commands' }).first().click();
    await row(page, `tr[data-command="${id}"] .badge`, 'cancelled').waitFor();
    await row(page, 'table[aria-label="fleet commands"] tr[data-state=completed]').waitFor();
    assert.equal(await page.locator('table[aria-label="fleet commands"] tbody tr').count(), 2);
    await shot(page, 'fleet-commands-list');
  });

  test('an admin creates, edits and deletes an alarm rule', async () => {
    const { gateway, page } = portal;
    await nav(page, /Alarms/).click();
    await page.getByRole('button', { name: 'New rule' }).click();
    const create = page.locator('form[aria-label="new alarm rule"]');
    await create.locator('input[name=name]').fill('battery nearly empty');
    await create.locator('select[name=kind]').selectOption('value');
    await create.locator('select[name=severity]').selectOption('critical');
    await create.locator('input[name=path]').fill('/3/0/9');
    await create.getByText('Battery Level').waitFor(); // the resource named from the registry
    await create.locator('select[name=op]').selectOption('<');
    await create.locator('input[name=threshold]').fill('5');
    await create.getByRole('button', { name: 'Create rule' }).click();
    const rule = row(page, 'tr[data-rule]', 'battery nearly empty');
    await rule.filter({ hasText: '/3/0/9 < 5' }).waitFor();
    const id = (await rule.getAttribute('data-rule'))!;
    const stored = (await api<{ kind: string; threshold: number; severity: string }>(gateway, 'GET', `/api/v1/alarm-rules/${id}`)).body;
    assert.deepEqual([stored.kind, stored.threshold, stored.severity], ['value', 5, 'critical']);

    // Edit: the kind changes, and with it the fields the form asks for.
    await rule.getByRole('button', { name: 'Edit' }).click();
    const edit = page.locator(`form[aria-label="edit rule ${id}"]`);
    assert.equal(await edit.locator('input[name=threshold]').inputValue(), '5');
    await edit.locator('select[name=kind]').selectOption('offline');
    assert.equal(await edit.locator('input[name=threshold]').count(), 0);
    await edit.locator('input[name=afterSeconds]').fill('120');
    await shot(page, 'alarm-rule-edit');
    await edit.getByRole('button', { name: 'Save rule' }).click();
    await row(page, `tr[data-rule="${id}"]`, 'offline longer than 120 s').waitFor();
    const edited = (await api<{ kind: string; afterSeconds: number; path?: string }>(gateway, 'GET', `/api/v1/alarm-rules/${id}`)).body;
    assert.equal(edited.kind, 'offline');
    assert.equal(edited.afterSeconds, 120);
    assert.equal(edited.path, undefined);

    acceptNextDialog(page);
    await page.getByRole('button', { name: `delete rule ${id}` }).click();
    await page.locator(`tr[data-rule="${id}"]`).waitFor({ state: 'detached' });
    assert.equal((await api(gateway, 'GET', `/api/v1/alarm-rules/${id}`)).status, 404);
  });

  test('an operator (on a tablet) has fleet commands but no operators; the API refuses them; it changes its own password', async () => {
    const { gateway, browser } = portal;
    const created = await api(gateway, 'POST', '/api/v1/operators', { username: OPERATOR.username, password: OPERATOR.password, role: 'operator' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const context = await browser.newContext(TABLET);
    try {
      const p = await context.newPage();
      await browser.logIn(p, OPERATOR);
      await p.getByTestId('who').locator('.role-operator').waitFor();
      await nav(p, 'Fleet commands').waitFor();
      assert.equal(await nav(p, 'Operators').count(), 0, 'no Operators entry for an operator');

      await p.goto(browser.url('/operators')); // a deep link: the view says whose it is
      await p.getByText('managed by admins').waitFor();
      const refused = await p.evaluate(async () => {
        const r = await fetch('/api/v1/operators');
        return { status: r.status, body: (await r.json()) as { error: { code: string } } };
      });
      assert.equal(refused.status, 403);
      assert.equal(refused.body.error.code, 'forbidden');

      await nav(p, 'Fleet commands').click();
      await p.locator('table[aria-label="fleet commands"] tbody tr').first().waitFor();
      await p.locator('form[aria-label="create fleet command"]').waitFor();
      await row(p, '[data-testid=target-count]', '4 devices now').waitFor();
      await shot(p, 'fleet-commands-tablet-operator', true);

      await nav(p, /Alarms/).click();
      await p.locator('table[aria-label="alarm rules"] tbody tr').first().waitFor();
      assert.equal(await p.getByRole('button', { name: /^(New rule|Edit|Delete|Disable|Enable)$/ }).count(), 0, 'no rule editing for an operator');

      // Its own password: the portal stays logged in (the gateway ends the operator's other sessions, not this one).
      await p.getByTestId('who').click();
      const form = p.locator('form[aria-label="change password"]');
      await form.locator('input[name=currentPassword]').fill(OPERATOR.password);
      await form.locator('input[name=newPassword]').fill(OPERATOR.changed);
      await form.locator('input[name=newPasswordAgain]').fill(OPERATOR.changed);
      await form.getByRole('button', { name: 'Change password' }).click();
      await row(p, '[data-testid=password-result]', 'Password changed').waitFor();
      await nav(p, 'Devices').click();
      await p.locator('table[aria-label=devices] tbody tr').first().waitFor();
      assert.equal(await p.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 200, 'still logged in');
      assert.equal(await login(OPERATOR.username, OPERATOR.changed), 200);
      assert.equal(await login(OPERATOR.username, OPERATOR.password), 401);
      await p.getByTestId('who').click();
      await p.locator('table[aria-label="my tokens"]').waitFor();
      await shot(p, 'account-tablet-operator', true);
    } finally {
      await context.close();
    }
  });

  test('a viewer has neither fleet commands nor operators in its navigation, and no command controls', async () => {
    const { browser } = portal;
    const context = await browser.newContext(DESKTOP);
    try {
      const p = await context.newPage();
      await browser.logIn(p, { username: VIEWER.username, password: VIEWER.reset });
      await p.getByTestId('who').locator('.role-viewer').waitFor();
      await nav(p, 'Devices').waitFor();
      assert.equal(await nav(p, 'Fleet commands').count(), 0);
      assert.equal(await nav(p, 'Operators').count(), 0);
      // A link someone shared still opens, read-only.
      await p.goto(browser.url('/fleet'));
      await p.locator('table[aria-label="fleet commands"] tr[data-state=completed]').waitFor();
      assert.equal(await p.locator('form[aria-label="create fleet command"]').count(), 0);
      assert.equal(await p.getByRole('link', { name: 'New command' }).count(), 0);
      await p.locator('table[aria-label="fleet commands"] tr[data-state=completed] a').click();
      await p.getByTestId('aggregate').waitFor();
      assert.equal(await p.getByRole('button', { name: 'Cancel', exact: true }).count(), 0);
    } finally {
      await context.close();
    }
    assert.deepEqual(browser.pageErrors, [], 'no script error in any page');
  });
});
