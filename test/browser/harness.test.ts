/**
 * The browser harness catches what the dashboard tests rely on it to catch: on a page built to be
 * wrong (served from loopback, no Promote involved), axe-core reports its serious violations, a
 * request to another origin is recorded as foreign, and console and page errors are recorded. Without
 * this, a harness that saw nothing would pass every dashboard test. And a missing chromium fails.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser } from 'playwright-core';
import { beforeAll, describe, expect, it } from 'vitest';
import { afterFile } from '../helpers/cleanup.js';
import { launchBrowser, seriousAccessibilityViolations, withPage } from '../helpers/browser.js';

const BAD_PAGE = `<!doctype html><html><head><title>bad</title></head><body>
<main><h1>A bad page</h1><h4>skipped two levels</h4>
<img src="/pixel.png">
<button></button>
<p style="color:#ccc;background:#fff">grey on white</p>
<img src="http://127.0.0.2:9/elsewhere.png" alt="from elsewhere">
<script>console.error('something broke'); setTimeout(() => { throw new Error('uncaught on purpose'); });</script>
</main></body></html>`;

describe('the browser harness', () => {
  let browser: Browser;
  let origin: string;

  beforeAll(async () => {
    const server: Server = createServer((request, response) => {
      if (request.url === '/') {
        response.writeHead(200, { 'content-type': 'text/html' });
        response.end(BAD_PAGE);
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    afterFile('closing the bad page server', () => new Promise((resolve) => server.close(resolve)));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    browser = await launchBrowser();
  }, 60_000);

  it('reports serious accessibility violations, foreign requests and console errors', async () => {
    await withPage(browser, 'harness-bad-page', async ({ page, ...watched }) => {
      await page.goto(`${origin}/`);
      await expect.poll(() => watched.problems.length).toBeGreaterThanOrEqual(2);
      const violations = (await seriousAccessibilityViolations(page)).map((violation) => violation.id);
      expect(violations).toEqual(expect.arrayContaining(['image-alt', 'button-name', 'color-contrast', 'heading-order']));
      expect(watched.foreignRequests(origin)).toEqual(['http://127.0.0.2:9/elsewhere.png']);
      expect(watched.problems).toEqual(expect.arrayContaining([expect.stringContaining('something broke'), expect.stringContaining('uncaught on purpose')]));
    });
  });

  it('fails, naming what to install, when there is no chromium (CI installs it: a skip would hide that)', async () => {
    await expect(launchBrowser('/nonexistent/chromium')).rejects.toThrow(/chromium at \/nonexistent\/chromium: install Debian's package \(apt-get install chromium/);
  });
});
