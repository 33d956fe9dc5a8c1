/**
 * The dashboard shows API errors as messages, not blank screens: an unknown rollout shows the
 * server's own message, and a server that goes away while the page is open leaves the page standing
 * with a message saying so.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, withPage } from '../helpers/browser.js';
import { collect } from '../helpers/cli.js';
import { startDashboard, type Dashboard } from './helpers/dashboard.js';

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

  it('says so when the server stops while the page is open', async () => {
    await withPage(browser, 'error-server-gone', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/`);
      await page.getByText('v1').first().waitFor();
      expect(await page.getByTestId('api-error').count()).toBe(0);
      const exited = collect(dashboard.served.child);
      dashboard.served.child.kill('SIGTERM');
      await exited;
      // moving to another page asks the API again, which is gone
      await page.getByRole('navigation').getByRole('link', { name: /flags/i }).first().click();
      const shown = page.getByTestId('api-error');
      await shown.first().waitFor();
      expect(await shown.first().textContent()).toContain('could not reach the Promote server');
      expect(await page.getByRole('navigation').count()).toBeGreaterThan(0);
      await watched.screenshot('error-server-gone');
    });
  });
});
