/**
 * The overview's freeze badges in a real chromium against the built dashboard served by buildServer on
 * loopback (a real store, no deploys needed): a frozen environment says "Frozen (<window>) until <time>",
 * one whose window starts within a day says "Freeze <window> from <time>", one whose window is further
 * away or that has no windows shows none; in words, with the instant in a <time>, and axe clean.
 */
import type { FastifyInstance } from 'fastify';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer } from '../../src/server/app.js';
import { describeViolations, launchBrowser, seriousAccessibilityViolations, withPage } from '../helpers/browser.js';
import { createStorePool } from '../helpers/database.js';
import { specFromYaml } from '../helpers/spec.js';

const HOUR = 3_600_000;
const base = Math.floor(Date.now() / 60_000) * 60_000;
const at = (hours: number) => new Date(base + hours * HOUR).toISOString();
const environment = (name: string, freeze: string) => `  - name: ${name}
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary${freeze}`;
const dated = (name: string, from: number, until: number) => `
    freeze:
      windows:
        - { name: ${name}, from: "${at(from)}", until: "${at(until)}" }`;
const specText = `version: 1
app: { name: shop }
environments:
${environment('staging', dated('weekend', 3, 5))}
${environment('production', dated('launch', -1, 2))}
${environment('qa', dated('year-end', 30, 40))}
${environment('sandbox', '')}
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

describe('freeze badges on the overview', () => {
  let server: FastifyInstance;
  let origin: string;
  let browser: Browser;

  beforeAll(async () => {
    const [{ pool }, launched] = await Promise.all([createStorePool(), launchBrowser()]);
    browser = launched;
    // the dashboard as npm run build left it in dist/web
    server = await buildServer({ pool, spec: specFromYaml(specText) });
    origin = await server.listen({ host: '127.0.0.1', port: 0 });
  }, 60_000);
  afterAll(async () => server?.close());

  it('says in words which environment is frozen until when and which freezes within a day', async () => {
    await withPage(browser, 'freeze-badges', async (watched) => {
      const { page } = watched;
      await page.goto(`${origin}/#/`);
      const frozen = page.getByTestId('freeze-production');
      await expect.poll(() => frozen.textContent()).toMatch(/^Frozen \(launch\) until \S/);
      expect(await frozen.locator('time').getAttribute('datetime')).toBe(at(2));
      const soon = page.getByTestId('freeze-staging');
      expect(await soon.textContent()).toMatch(/^Freeze weekend from \S/);
      expect(await soon.locator('time').getAttribute('datetime')).toBe(at(3));
      // a window more than a day away, and no windows at all: no badge
      await page.getByTestId('environment-sandbox').waitFor();
      expect(await page.getByTestId('freeze-qa').count()).toBe(0);
      expect(await page.getByTestId('freeze-sandbox').count()).toBe(0);
      await watched.screenshot('freeze-badges');
      const violations = await seriousAccessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      expect(watched.problems).toEqual([]);
    });
  });
});
