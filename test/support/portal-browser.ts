import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Locator, type Page } from 'playwright-core';
import type { GatewayConfig } from '../../gateway/config.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { SimulatedFleet } from '../../simulators/fleet.js';
import type { SimulatedIdentity } from '../../simulators/identities.js';
import { startFleet, startGateway, tempDir, testIdentities } from './harness.js';

/**
 * What the portal's browser tests share: the portal built from its current sources, a headless
 * Chromium (Debian's, driven by playwright-core), contexts that collect script errors, logging in,
 * screenshots into test-results/portal/ (git-ignored), and the gateway and devices a suite runs
 * against (portalFixture).
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const CHROMIUM = process.env.EDGEDM_CHROMIUM ?? '/usr/bin/chromium';
export const SHOTS = join(root, 'test-results/portal');
export const DESKTOP = { width: 1366, height: 768 };
export const TABLET = { width: 800, height: 1180 };

/** The `skip` option of a browser suite: a reason when Chromium is missing, else false. */
export const skipWithoutChromium: string | false = existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (apt-get install chromium; .ci/run does)`;

/** Builds the portal when its build is missing or older than its sources (scripts/build-portal.mjs --if-stale), so a test drives the current portal. */
export function buildPortalIfStale(): void {
  try {
    execFileSync(process.execPath, [join(root, 'scripts/build-portal.mjs'), '--if-stale'], { cwd: root, stdio: ['ignore', 'ignore', 'inherit'] });
  } catch (err) {
    assert.fail(`building the portal failed (node scripts/build-portal.mjs): ${String(err)}`);
  }
  assert.ok(existsSync(join(root, 'dist/portal/index.html')), 'dist/portal is not built and Vite is not installed: run `npm install` (it builds the portal)');
  mkdirSync(SHOTS, { recursive: true });
}

export interface Credentials {
  username: string;
  password: string;
}

export class PortalBrowser {
  /** Script errors of every page of every context: a test ends by asserting there were none. */
  readonly pageErrors: string[] = [];

  private constructor(
    readonly browser: Browser,
    private readonly baseUrl: string,
  ) {}

  static async launch(baseUrl: string): Promise<PortalBrowser> {
    return new PortalBrowser(await chromium.launch({ executablePath: CHROMIUM, headless: true }), baseUrl);
  }

  async newContext(viewport: { width: number; height: number }, timeoutMs = 30_000): Promise<BrowserContext> {
    const context = await this.browser.newContext({ viewport });
    context.setDefaultTimeout(timeoutMs);
    context.on('page', (p) => p.on('pageerror', (err) => this.pageErrors.push(`${p.url()}: ${err.message}`)));
    return context;
  }

  /** Opens the portal, logs in and waits for the top bar to name the operator. */
  async logIn(p: Page, credentials: Credentials): Promise<void> {
    await p.goto(`${this.baseUrl}/`);
    await p.getByLabel('Username').fill(credentials.username);
    await p.getByLabel('Password').fill(credentials.password);
    await p.getByRole('button', { name: 'Log in' }).click();
    await p.getByTestId('who').filter({ hasText: credentials.username }).waitFor();
  }

  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  async close(): Promise<void> {
    await this.browser.close();
  }
}

export function shot(p: Page, name: string, fullPage = false): Promise<Buffer> {
  return p.screenshot({ path: join(SHOTS, `${name}.png`), fullPage, animations: 'disabled' });
}

/** The last segment of the page's path, decoded: the id of the rollout or fleet command it shows. */
export function idInUrl(p: Page): string {
  return decodeURIComponent(new URL(p.url()).pathname.split('/').pop()!);
}

/** Marks the page's document, so that `stillUnreloaded` tells later whether what changed on it since came without a reload (from the event stream). */
export async function markUnreloaded(p: Page): Promise<void> {
  await p.evaluate(() => ((globalThis as unknown as { notReloaded: boolean }).notReloaded = true));
}

export async function stillUnreloaded(p: Page): Promise<boolean> {
  return (await p.evaluate(() => (globalThis as unknown as { notReloaded?: boolean }).notReloaded)) === true;
}

/** Elements matching `selector`, those holding `text` when it is given. */
export function row(p: Page, selector: string, text?: string | RegExp): Locator {
  return text === undefined ? p.locator(selector) : p.locator(selector).filter({ hasText: text });
}

/** What a portal suite's tests drive, set once its `before` hook has run. */
export interface PortalFixture {
  gateway: Gateway;
  fleet: SimulatedFleet;
  identities: SimulatedIdentity[];
  browser: PortalBrowser;
  /** A desktop page of its own context, logged in when the suite asked for it. */
  page: Page;
}

export interface PortalFixtureOptions {
  /** Of the suite's temporary directory (gateway data, device state). */
  dirPrefix: string;
  /** Of the four simulated devices' endpoints. */
  endpointPrefix: string;
  gateway?: Partial<GatewayConfig>;
  /** Imports the identities and starts the devices; the harness's startFleet unless given. */
  startFleet?: (gateway: Gateway, identities: SimulatedIdentity[], stateDir: string) => SimulatedFleet;
  /** Logs the page in as this operator before the first test. */
  logIn?: Credentials;
}

/**
 * The setup the portal suites share, called in a describe() body: before the tests, the portal
 * built when stale, a gateway, four simulated devices registered with it, Chromium and a desktop
 * page; after them, all of it stopped and the temporary directory removed.
 */
export function portalFixture(options: PortalFixtureOptions): PortalFixture {
  const dir = tempDir(options.dirPrefix);
  const fixture = {} as PortalFixture;
  before(async () => {
    buildPortalIfStale();
    const gateway = (fixture.gateway = await startGateway(`${dir.path}/gw`, options.gateway));
    fixture.identities = testIdentities(4, options.endpointPrefix);
    fixture.fleet = (options.startFleet ?? startFleet)(gateway, fixture.identities, `${dir.path}/devices`);
    await fixture.fleet.whenAllRegistered(30_000);
    fixture.browser = await PortalBrowser.launch(gateway.apiUrl);
    fixture.page = await (await fixture.browser.newContext(DESKTOP)).newPage();
    if (options.logIn) await fixture.browser.logIn(fixture.page, options.logIn);
  });
  after(async () => {
    await fixture.browser?.close();
    await fixture.fleet?.stop();
    await fixture.gateway?.close();
    dir.remove();
  });
  return fixture;
}
