/**
 * The dashboard shows API errors as messages, not blank screens: an unknown rollout shows the
 * server's own message, and a server that goes away while the page is open leaves the page standing
 * with a message saying so; once the server is back, the same page (never reloaded) reads and follows
 * live events again.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, withPage } from '../helpers/browser.js';
import { holdAtTen, startDashboard, type Dashboard } from './helpers/dashboard.js';

describe('the dashboard when the API fails', () => {
  let dashboard: Dashboard;
  let browser: Browser;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard('errors'), launchBrowser()]);
  }, 60_000);

  it("shows the server's message for an unknown rollout", async () => {
    const answer = await dashboard.api('GET', '/api/rollouts/999999');
    expect(answer.error).toEqual(expect.any(String));
    await withPage(browser, 'error-unknown-rollout', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/rollouts/999999`);
      const shown = page.getByTestId('api-error');
      await shown.waitFor();
      expect(await shown.textContent()).toContain(String(answer.error));
      // the rest of the dashboard is still there to go elsewhere
      expect(await page.getByRole('navigation').count()).toBeGreaterThan(0);
      await watched.screenshot('error-unknown-rollout');
    });
  });

  it('says so when the server stops while the page is open, and comes back live when it is restarted', async () => {
    await withPage(browser, 'error-server-gone', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/`);
      await page.getByText('v1').first().waitFor();
      expect(await page.getByTestId('api-error').count()).toBe(0);
      await dashboard.stopServer();
      // moving to another page asks the API again, which is gone
      const nav = page.getByRole('navigation');
      await nav.getByRole('link', { name: 'Flags' }).click();
      const shown = page.getByTestId('api-error');
      await shown.first().waitFor();
      expect(await shown.first().textContent()).toContain('could not reach the Promote server');
      expect(await nav.count()).toBe(1);
      await watched.screenshot('error-server-gone');

      // the same page, never reloaded, works again once the server is back: reads, and the event stream
      // (a change is made only once the browser has reconnected the stream: see reconnect.test.ts)
      const reconnected = page.waitForResponse((response) => response.url() === `${dashboard.origin}/api/stream` && response.status() === 200, { timeout: 20_000 });
      await dashboard.restartServer();
      await reconnected;
      await nav.getByRole('link', { name: 'Overview' }).click();
      const staging = page.getByTestId('environment-staging');
      await staging.getByText('No rollout in progress.').waitFor();
      expect(await shown.count()).toBe(0);
      const id = await holdAtTen(dashboard.api, 'v2');
      await staging.getByRole('link', { name: `v2 (#${id})` }).waitFor({ timeout: 20_000 });
      await watched.screenshot('server-back');
    });
  }, 60_000);
});
