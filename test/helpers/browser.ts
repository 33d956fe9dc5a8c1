/**
 * A real browser for the dashboard's tests: Debian's chromium driven by playwright-core (which ships
 * no browser of its own). Each page is watched: every request it makes and every console error or
 * uncaught page error is recorded, so a test can assert "no errors, nothing fetched from elsewhere";
 * screenshots land in the artifact folder (artifacts/browser/, or $PROMOTE_ARTIFACTS) for a person to
 * look at after CI. A missing chromium fails the test with what to install: CI installs it (.ci/run),
 * so a skip would hide a broken setup.
 */
import { existsSync } from 'node:fs';
import { mkdir, readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterFile } from './cleanup.js';

export const chromiumPath = process.env.PROMOTE_CHROMIUM ?? '/usr/bin/chromium';
export const artifactsFolder = process.env.PROMOTE_ARTIFACTS ?? fileURLToPath(new URL('../../artifacts/browser/', import.meta.url));

/** Launches chromium for the test file; it is closed after the file's tests whatever happened. */
export async function launchBrowser(executablePath = chromiumPath): Promise<Browser> {
  if (!existsSync(executablePath)) {
    throw new Error(`the dashboard's browser tests need chromium at ${executablePath}: install Debian's package (apt-get install chromium; .ci/run does) or set PROMOTE_CHROMIUM to a chromium binary`);
  }
  const browser = await chromium.launch({
    executablePath,
    // no sandbox: CI runs as root; no background networking: the browser itself must not call out,
    // so every request seen comes from the page
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    timeout: 30_000,
  });
  afterFile('closing chromium', () => browser.close());
  return browser;
}

export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** every URL the page requested, in order */
  requests: string[];
  /** console errors and uncaught page errors, as text */
  problems: string[];
  /** the requests whose origin is not `origin` (data: and blob: URLs are the page's own) */
  foreignRequests(origin: string): string[];
  /** a full-page PNG in the artifact folder; returns its path */
  screenshot(name: string): Promise<string>;
}

/** A fresh browser context (no shared storage) at a laptop's screen size, with its page watched. */
export async function openWatched(browser: Browser): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: { width: 1366, height: 768 } });
  const page = await context.newPage();
  // generous: the machine is shared, and a wait that times out fails with what it waited for
  page.setDefaultTimeout(15_000);
  const requests: string[] = [];
  const problems: string[] = [];
  page.on('request', (request) => requests.push(request.url()));
  page.on('console', (message) => {
    if (message.type() === 'error') problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
  return {
    page,
    context,
    requests,
    problems,
    foreignRequests: (origin) => requests.filter((url) => !url.startsWith('data:') && !url.startsWith('blob:') && new URL(url).origin !== origin),
    screenshot: async (name) => {
      await mkdir(artifactsFolder, { recursive: true });
      const path = join(artifactsFolder, `${name.replace(/[^a-z0-9._-]+/gi, '-')}.png`);
      await page.screenshot({ path, fullPage: true });
      return path;
    },
  };
}

/**
 * Runs `use` on a watched page and closes its context afterwards, also when `use` throws; a failure
 * leaves a `<name>-failed.png` screenshot and names the page's console problems in the error.
 */
export async function withPage<T>(browser: Browser, name: string, use: (watched: WatchedPage) => Promise<T>): Promise<T> {
  const watched = await openWatched(browser);
  try {
    return await use(watched);
  } catch (error) {
    const shot = await watched.screenshot(`${name}-failed`).catch((failure: unknown) => `no screenshot (${String(failure)})`);
    const problems = watched.problems.length > 0 ? `; the page's console: ${watched.problems.join(' | ')}` : '';
    if (error instanceof Error) error.message += ` [screenshot: ${shot}${problems}]`;
    throw error;
  } finally {
    await watched.context.close().catch(() => undefined);
  }
}

const axeSource = readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  targets: string[];
}

/**
 * Runs axe-core (its source from the package, no network) on the page as it is now and returns its
 * serious and critical violations (and headings out of order), each with the elements it found them on.
 */
export async function seriousAccessibilityViolations(page: Page): Promise<AxeViolation[]> {
  // evaluated, not added as a <script>: the dashboard's CSP (default-src 'self') rightly refuses inline
  // scripts, and bypassing it would hide the dashboard's own CSP violations from these tests
  await page.evaluate(await axeSource);
  // a string, evaluated in the page: this project's TypeScript has no DOM types
  const violations = await page.evaluate<AxeViolation[]>(`axe.run(document, { resultTypes: ['violations'] }).then((result) =>
    result.violations.map((violation) => ({ id: violation.id, impact: violation.impact, help: violation.help, targets: violation.nodes.map((node) => node.target.map(String).join(' ')) })))`);
  // heading-order too, which axe rates moderate: the dashboard promises its headings in order
  return violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical' || violation.id === 'heading-order');
}

/** One line per violation, for an assertion message. */
export function describeViolations(violations: readonly AxeViolation[]): string {
  return violations.map((violation) => `${violation.id} (${violation.impact}): ${violation.help} at ${violation.targets.slice(0, 5).join(', ')}`).join('\n');
}
