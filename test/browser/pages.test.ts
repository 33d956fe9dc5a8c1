/**
 * Every page of the dashboard in a real chromium against a real `promote server`: each loads with no
 * console error, asks nothing of any origin but the server's (all assets bundled, no CDN, no fonts),
 * has no serious or critical accessibility violation by axe-core, and leaves a screenshot in the
 * artifact folder.
 */
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, seriousAccessibilityViolations, withPage } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from './helpers/dashboard.js';

describe('every page of the dashboard', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let firstRollout: number;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard('pages'), launchBrowser()]);
    const rollouts = (await dashboard.api('GET', '/api/rollouts?environment=staging')) as unknown as Array<{ id: number }>;
    firstRollout = rollouts[0]!.id;
  }, 60_000);

  /** each page, where it is, and what shows it has loaded its data */
  const pages: Array<{ name: string; hash: () => string; loaded: (page: Page) => Promise<void> }> = [
    { name: 'overview', hash: () => '#/', loaded: (page) => page.getByText('v1').first().waitFor() },
    { name: 'rollout', hash: () => `#/rollouts/${firstRollout}`, loaded: (page) => expectText(page.getByTestId('rollout-phase'), 'Healthy') },
    { name: 'flags', hash: () => '#/flags/staging', loaded: (page) => page.getByText('new-checkout').first().waitFor() },
    { name: 'migrations', hash: () => '#/migrations/staging', loaded: (page) => page.getByText('01_add_email').first().waitFor() },
    { name: 'report', hash: () => '#/report', loaded: (page) => page.getByRole('heading', { name: 'Deployment frequency' }).waitFor() },
  ];

  for (const { name, hash, loaded } of pages) {
    it(`${name}: loads with no console error, no foreign request, no serious accessibility violation`, async () => {
      await withPage(browser, `page-${name}`, async (watched) => {
        await watched.page.goto(`${dashboard.origin}/${hash()}`);
        await loaded(watched.page);
        // nothing still on its way (the screenshot and the accessibility check see the page as loaded)
        await expect.poll(() => watched.page.getByRole('status').filter({ hasText: 'Loading' }).count()).toBe(0);
        await watched.screenshot(`page-${name}`);
        const violations = await seriousAccessibilityViolations(watched.page);
        expect(violations, describeViolations(violations)).toEqual([]);
        expect(watched.foreignRequests(dashboard.origin)).toEqual([]);
        // the page made its API calls to the server it came from
        expect(watched.requests.some((url) => url.startsWith(`${dashboard.origin}/api/`))).toBe(true);
        expect(watched.problems).toEqual([]);
      });
    });
  }

  it('flags: Toggle asks a reason, turns the flag on, and its history shows the change as a diff', async () => {
    const flagPath = '/api/apps/shop/environments/staging/flags/new-checkout';
    const before = await dashboard.api('GET', flagPath);
    expect(before.definition).not.toMatchObject({ enabled: true });
    await withPage(browser, 'flags-toggle', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/flags/staging`);
      await page.getByTestId('flag-state-new-checkout').filter({ hasText: 'off' }).waitFor();
      await page.getByRole('button', { name: 'Toggle new-checkout', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('textbox', { name: 'Reason' }).fill('browser test turns it on');
      await dialog.getByRole('button', { name: 'Turn on' }).click();
      await dialog.waitFor({ state: 'hidden' });
      await page.getByTestId('flag-state-new-checkout').filter({ hasText: 'on' }).waitFor();

      await page.getByRole('button', { name: 'History of new-checkout', exact: true }).click();
      const history = page.getByRole('region', { name: 'History of new-checkout' });
      const newest = history.getByRole('listitem').first();
      await newest.getByText('Reason: browser test turns it on').waitFor();
      const diff = (await newest.locator('pre').textContent()) ?? '';
      // the definition before and after, the changed line marked on each side
      expect(diff).toMatch(/\+\s+"enabled": true/);
      if ((before.definition as { enabled?: boolean }).enabled === false) expect(diff).toMatch(/-\s+"enabled": false/);
      await watched.screenshot('flags-toggled');
      expect(watched.problems).toEqual([]);
    });
    const after = await dashboard.api('GET', flagPath);
    expect(after.definition).toMatchObject({ enabled: true });
    expect(after.version).toBe(Number(before.version) + 1);
  });

  it('flags: a viewer is offered no toggle, and the API refuses one forced with the viewer role', async () => {
    const flagPath = '/api/apps/shop/environments/staging/flags/new-checkout';
    const before = await dashboard.api('GET', flagPath);
    await withPage(browser, 'flags-viewer', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/flags/staging`);
      await page.getByRole('button', { name: 'Toggle new-checkout', exact: true }).waitFor();
      await page.getByTestId('role-select').selectOption('viewer');
      await page.getByRole('button', { name: 'Toggle new-checkout', exact: true }).waitFor({ state: 'detached' });
      await page.getByText('may not change flags').waitFor();
      await watched.screenshot('flags-as-viewer');
    });
    const forced = await request(`${dashboard.origin}${flagPath}/disable`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-promote-role': 'viewer' }, body: JSON.stringify({ reason: 'forced' }) });
    expect(forced.statusCode).toBe(403);
    expect(((await forced.body.json()) as { error?: string }).error).toMatch(/viewer may not/);
    expect(await dashboard.api('GET', flagPath)).toEqual(before);
  });
});

async function expectText(locator: ReturnType<Page['getByTestId']>, text: string): Promise<void> {
  await locator.filter({ hasText: text }).waitFor();
}
