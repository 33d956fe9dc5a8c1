/**
 * A dashboard left open while `promote server` restarts must not keep showing the state from before:
 * a change made while the event stream was down (here with the CLI, which writes the store directly)
 * reaches the page once the stream reconnects, without a reload. Last-Event-ID resends missed audit
 * events only; rollout, traffic and flags events sent while no browser was connected are gone, so the
 * page has to read its data again when the stream comes back.
 */
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, withPage } from '../helpers/browser.js';
import { startDashboard, type Dashboard } from './helpers/dashboard.js';

describe('the dashboard across a server restart', () => {
  let dashboard: Dashboard;
  let browser: Browser;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard('reconnect'), launchBrowser()]);
  }, 60_000);

  it('shows a flag changed while the server was down once the event stream is back', async () => {
    await withPage(browser, 'reconnect-flags', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/flags/staging`);
      const state = page.getByTestId('flag-state-new-checkout');
      await state.filter({ hasText: 'off' }).waitFor();
      await dashboard.stopServer();
      const enabled = await dashboard.cli('flags', 'enable', 'new-checkout', '--env', 'staging', '--reason', 'changed while the server was down');
      expect(enabled.code, enabled.stderr).toBe(0);
      const reconnected = page.waitForResponse((response) => response.url() === `${dashboard.origin}/api/stream` && response.status() === 200, { timeout: 20_000 });
      await dashboard.restartServer();
      await reconnected;
      // the server itself knows: only the open page is behind
      expect((await dashboard.api('GET', '/api/apps/shop/environments/staging/flags/new-checkout')).definition).toMatchObject({ enabled: true });
      await state.filter({ hasText: 'on' }).waitFor({ timeout: 10_000 });
      await watched.screenshot('reconnect-flags');
    });
  }, 60_000);
});
