// test: run alone (a headless Chromium beside a gateway and a firmware rollout: heavy for 2 cores)
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { DEFAULT_GATEWAY_CONFIG } from '../../gateway/config.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { api, TEST_ADMIN, testLog } from '../support/harness.js';
import { idInUrl, markUnreloaded, portalFixture, row, shot, skipWithoutChromium as skip, stillUnreloaded, TABLET } from '../support/portal-browser.js';
import { IMAGE, type RolloutView } from '../support/rollouts.js';
import { waitFor } from '../support/wait.js';

/**
 * The web portal in a real browser (Chromium from Debian, driven by playwright-core) against a
 * real gateway serving it, with a simulated fleet: log in, find a device by serial number and
 * operate on its object tree, roll firmware out and watch it finish, acknowledge and clear
 * alarms, and check that a viewer is offered no control it may not use.
 *
 * The portal is built first when its build is missing or older than its sources
 * (scripts/build-portal.mjs --if-stale), so the test always drives the current portal.
 * Screenshots go to test-results/portal/ (git-ignored).
 */

const VIEWER = { username: 'vera', password: 'viewer-password-1' };

describe('web portal in a browser', { skip, timeout: 240_000 }, () => {
  const portal = portalFixture({
    dirPrefix: 'edgedm-portal-',
    endpointPrefix: 'pt',
    gateway: {
      // Notifications every second, so charts and live values move while the test watches.
      monitoring: { ...DEFAULT_GATEWAY_CONFIG.monitoring, pmin: 0, pmax: 1 },
      alarms: { ...DEFAULT_GATEWAY_CONFIG.alarms, offlineCheckIntervalMs: 200, restartGraceSeconds: 0 },
      rollouts: { pollIntervalMs: 150 },
    },
    startFleet: (gateway, identities, stateDir) => {
      gateway.devices.importFactoryIdentities(identities);
      return SimulatedFleet.start({
        identities,
        bootstrapServerUri: gateway.mqttUrl,
        stateDir,
        reconnect: { minDelayMs: 50, maxDelayMs: 500 },
        firmware: { healthDeadlineMs: 3000, retryDelayMs: 100 },
        // Writing the 64 KiB image takes each device about 4 s: canary, then two batches, each one
        // waiting for the last, last long enough to pause the rollout while its canary runs.
        flashWriteBytesPerSecond: 16 * 1024,
        log: testLog,
      });
    },
  });

  test('serves the portal at / with a fallback for its views, and leaves /api alone', async () => {
    const { gateway } = portal;
    const index = await fetch(`${gateway.apiUrl}/devices/pt-0001`);
    assert.equal(index.status, 200);
    assert.match(index.headers.get('content-type') ?? '', /text\/html/);
    assert.match(index.headers.get('content-security-policy') ?? '', /frame-ancestors 'none'/);
    assert.match(await index.text(), /<div id="app">/);
    const unknownApi = await fetch(`${gateway.apiUrl}/api/v1/no-such-thing`);
    assert.equal(unknownApi.status, 404);
    assert.equal(((await unknownApi.json()) as { error: { code: string } }).error.code, 'not_found');
    assert.equal((await fetch(`${gateway.apiUrl}/api/v1/devices`)).status, 401, 'the API still needs credentials');
  });

  test('logs in (a wrong password is refused), shows who is logged in with the role', async () => {
    const { gateway, browser, page } = portal;
    await page.goto(`${gateway.apiUrl}/`);
    await page.getByLabel('Username').fill(TEST_ADMIN.username);
    await page.getByLabel('Password').fill('not-the-password');
    await page.getByRole('button', { name: 'Log in' }).click();
    await page.getByRole('alert').filter({ hasText: 'Wrong username or password' }).waitFor();
    await browser.logIn(page, TEST_ADMIN);
    await page.getByTestId('who').filter({ hasText: 'admin' }).locator('.role-admin').waitFor();
    await row(page, '.stat-online .stat-value', /^4$/).waitFor();
    await row(page, '[data-testid=live]', 'live').waitFor();
  });

  test('finds a device by its serial number, opens it, reads, writes, executes and observes on its object tree', async () => {
    const { gateway, fleet, identities, page } = portal;
    const target = identities[2]!;
    // The registry learns the serial number from the device's Object 3, read after it registered.
    await waitFor('serial number in the registry', async () => (await api<{ serialNumber: string | null }>(gateway, 'GET', `/api/v1/devices/${target.endpoint}`)).body.serialNumber);
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Devices' }).click();
    const search = page.getByRole('searchbox');
    await search.fill(target.serialNumber.slice(2, 9));
    await search.press('Enter');
    await row(page, '[data-testid=target]', 'serial:').waitFor();
    await row(page, `tr[data-endpoint="${target.endpoint}"]`).waitFor();
    assert.equal(await page.locator('table[aria-label=devices] tbody tr').count(), 1, 'only the device with that serial number');

    await page.getByRole('link', { name: target.endpoint, exact: true }).click();
    await page.getByTestId('device-page').waitFor();
    await row(page, 'h1', target.endpoint).waitFor();
    await row(page, '[data-testid=identity-2]', target.serialNumber).waitFor();

    // Read: Object 3 is selected, discovered and read by itself; reading one resource again answers 2.05.
    const serialRow = page.locator('tr[data-path="/3/0/2"]');
    await page.getByRole('button', { name: 'read /3/0/2', exact: true }).click();
    await row(page, 'tr[data-path="/3/0/2"] .outcome', '2.05 Content').waitFor();
    assert.equal(await serialRow.getByTestId('value').textContent(), target.serialNumber);

    // Observe the battery: a value the simulated hardware changes arrives without any click.
    await page.getByRole('button', { name: 'observe /3/0/9', exact: true }).click();
    await page.getByRole('button', { name: 'stop observing /3/0/9', exact: true }).waitFor();
    fleet.device(target.endpoint)!.host.setBatteryLevel(57);
    await row(page, 'tr[data-path="/3/0/9"] [data-testid=value]', /^57$/).waitFor();

    // Execute a harmless resource (Reset Error Code).
    await page.getByRole('button', { name: 'execute /3/0/12', exact: true }).click();
    await row(page, 'tr[data-path="/3/0/12"] .outcome', '2.04 Changed').waitFor();

    // Write the registration lifetime on the Server object, then it reads back.
    await page.locator('button[data-object="1"]').click();
    await page.getByRole('button', { name: 'write /1/0/1', exact: true }).click();
    await page.getByLabel('new value of /1/0/1').fill('600');
    await page.locator('tr[data-path="/1/0/1"]').getByRole('button', { name: 'Write' }).click();
    await row(page, 'tr[data-path="/1/0/1"] [data-testid=value]', /^600$/).waitFor();

    await page.locator('button[data-object="3"]').click();
    await page.locator('[data-series="/3/0/9"]').waitFor();
    await shot(page, 'device-page', true);
  });

  test('uploads an image, starts a staged rollout to the fleet and watches it complete', async () => {
    const { gateway, identities, page } = portal;
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Firmware & rollouts' }).click();
    const upload = page.locator('form[aria-label="upload firmware"]');
    await upload.locator('input[name=image]').setInputFiles({ name: 'sim-1.1.0.bin', mimeType: 'application/octet-stream', buffer: IMAGE });
    await upload.locator('input[name=name]').fill('sim');
    await upload.locator('input[name=version]').fill('1.1.0');
    await upload.locator('input[name=models]').fill([...new Set(identities.map((i) => i.model))].join(','));
    await upload.getByRole('button', { name: 'Upload' }).click();
    await page.locator('tr[data-firmware="sim@1.1.0"]').waitFor();

    const form = page.locator('form[aria-label="create rollout"]');
    await form.locator('select[name=firmware]').selectOption('sim@1.1.0');
    await form.locator('input[name=target]').fill('all');
    await row(page, '[data-testid=target-count]', '4 devices now').waitFor();
    await form.locator('input[name=canary]').fill('1');
    await form.locator('input[name=batch]').fill('2');
    await form.locator('input[name=abortFailurePct]').fill('50');
    await form.getByRole('button', { name: 'Start rollout' }).click();

    await page.getByTestId('rollout-page').waitFor();
    const id = idInUrl(page);
    // The page is never reloaded from here on: what changes comes from the event stream.
    await markUnreloaded(page);

    // Pause while the canary is under way: no further device starts; then resume.
    await page.getByRole('button', { name: 'Pause' }).click();
    await row(page, '.panel-head .badge', 'paused').waitFor();
    await row(page, '[data-testid=rollout-progress]', /^[0-2] of 4 updated/).waitFor();
    await row(page, 'tr[data-state=queued]').first().waitFor();
    await shot(page, 'rollout-progress');
    await page.getByRole('button', { name: 'Resume' }).click();
    await row(page, '.panel-head .badge', 'running').waitFor();

    await row(page, '[data-testid=rollout-progress]', '4 of 4 updated').waitFor({ timeout: 120_000 });
    await row(page, '.panel-head .badge', 'completed').waitFor();
    await waitFor('every device row succeeded', async () => (await page.locator('tr[data-state=succeeded]').count()) === 4, 15_000);
    assert.ok(await stillUnreloaded(page), 'followed live, without a reload');
    await shot(page, 'rollout-complete');
    const done = (await api<RolloutView>(gateway, 'GET', `/api/v1/rollouts/${id}`)).body;
    assert.equal(done.state, 'completed');
    assert.equal(done.counts.succeeded, 4);
  });

  test('an alarm appears live; the operator acknowledges one and clears another', async () => {
    const { gateway, fleet, identities, page } = portal;
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: /Alarms/ }).click();
    await page.locator('table[aria-label="alarm rules"]').waitFor();
    const target = identities[1]!.endpoint;
    // Battery at 12 %: below the default 20 % rule (and the device reports error code 1, low battery).
    fleet.device(target)!.host.setBatteryLevel(12);
    const battery = row(page, 'tr[data-alarm]', 'battery below 20').filter({ hasText: target });
    await battery.waitFor();
    await battery.getByRole('button', { name: 'Acknowledge' }).click();
    await battery.waitFor({ state: 'detached' }); // no longer active
    const acked = await waitFor('acknowledged by admin', async () =>
      (await api<{ items: { ruleId: string; state: string; acknowledgedBy: string | null; endpoint: string }[] }>(gateway, 'GET', `/api/v1/alarms?endpoint=${target}&state=acknowledged`)).body.items.find(
        (a) => a.ruleId === 'battery-low',
      ),
    );
    assert.equal(acked.acknowledgedBy, TEST_ADMIN.username);

    const errorCode = row(page, 'tr[data-alarm]', 'device error code').filter({ hasText: target });
    await errorCode.waitFor();
    const errorId = await errorCode.getAttribute('data-alarm');
    await errorCode.getByRole('button', { name: 'Clear' }).click();
    const cleared = await waitFor('cleared by admin', async () => {
      const a = (await api<{ state: string; clearReason: string | null }>(gateway, 'GET', `/api/v1/alarms/${errorId}`)).body;
      return a.state === 'cleared' ? a : undefined;
    });
    assert.equal(cleared.clearReason, `cleared by ${TEST_ADMIN.username}`);

    await page.getByRole('tab', { name: 'All' }).click();
    await row(page, 'tr[data-alarm] .badge', 'acknowledged').first().waitFor();
    await shot(page, 'alarms');
  });

  test('the fleet overview counts the fleet, its firmware after the rollout, and the open alarms', async () => {
    const { page } = portal;
    await page.getByRole('navigation', { name: 'main' }).getByRole('link', { name: 'Overview' }).click();
    await row(page, '.stat-online .stat-value', /^4$/).waitFor();
    await row(page, 'table[aria-label="devices by firmware"] tr', '1.1.0').filter({ has: page.locator('td.num', { hasText: /^4$/ }) }).waitFor();
    await row(page, '[data-testid=active-alarms]', /^[1-9]/).waitFor();
    await shot(page, 'fleet-overview');
  });

  test('a viewer (on a tablet) sees no write, execute, observe, rollout or alarm controls; the API refuses them anyway', async () => {
    const { gateway, identities, browser } = portal;
    const created = await api(gateway, 'POST', '/api/v1/operators', { ...VIEWER, role: 'viewer' });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const context = await browser.newContext(TABLET);
    try {
      const viewer = await context.newPage();
      await browser.logIn(viewer, VIEWER);
      await viewer.getByTestId('who').locator('.role-viewer').waitFor();
      await row(viewer, '.stat-online .stat-value', /^4$/).waitFor();
      await row(viewer, 'table[aria-label="devices by firmware"] tr', '1.1.0').waitFor();
      await shot(viewer, 'fleet-overview-tablet-viewer', true);

      const endpoint = identities[0]!.endpoint;
      await viewer.goto(`${gateway.apiUrl}/devices/${endpoint}`); // a deep link: the gateway answers index.html
      await viewer.getByRole('button', { name: 'read /3/0/0', exact: true }).waitFor();
      await row(viewer, 'tr[data-path="/3/0/0"] [data-testid=value]', 'edgedm').waitFor(); // a viewer may read
      await viewer.locator('[data-series="/3/0/9"]').waitFor();
      for (const name of [/^write /, /^execute /, /^observe /]) assert.equal(await viewer.getByRole('button', { name }).count(), 0, `no ${name} button`);
      assert.equal(await viewer.getByRole('button', { name: /^Observe$/ }).count(), 0);
      await shot(viewer, 'device-page-tablet-viewer', true);

      await viewer.getByRole('link', { name: 'Firmware & rollouts' }).click();
      await viewer.locator('table[aria-label=rollouts] tbody tr').first().waitFor();
      assert.equal(await viewer.locator('form[aria-label="create rollout"]').count(), 0);
      assert.equal(await viewer.locator('form[aria-label="upload firmware"]').count(), 0);

      await viewer.getByRole('link', { name: /Alarms/ }).click();
      await viewer.getByRole('tab', { name: 'All' }).click();
      await viewer.locator('tr[data-alarm]').first().waitFor();
      assert.equal(await viewer.getByRole('button', { name: /^(Acknowledge|Clear|Disable|Enable)$/ }).count(), 0);

      const refused = await viewer.evaluate(async (ep) => {
        const r = await fetch(`/api/v1/devices/${ep}/execute`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ path: '/3/0/4' }) });
        return { status: r.status, body: await r.json() };
      }, endpoint);
      assert.equal(refused.status, 403);
      assert.equal((refused.body as { error: { code: string } }).error.code, 'forbidden');

      await viewer.getByRole('button', { name: 'Log out' }).click();
      await viewer.getByRole('button', { name: 'Log in' }).waitFor();
      assert.equal(await viewer.evaluate(async () => (await fetch('/api/v1/auth/me')).status), 401, 'the session cookie is gone');
    } finally {
      await context.close();
    }
    assert.deepEqual(browser.pageErrors, [], 'no script error in any page');
  });
});
