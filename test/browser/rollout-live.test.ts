/**
 * The rollout page during real rollouts, in a real chromium, with steady load through the router:
 * the traffic split follows the rollout live (server-sent events, no reload) through a resume and a
 * routing table set by hand; Abort from the page sends traffic back to stable (the API, the stored
 * table and the router's answers agree); the overview shows a new rollout live; a viewer is offered no
 * action and the API refuses one forced anyway; an operator is offered only Abort in production;
 * Abort is reachable and usable by keyboard alone, with a visible focus ring; axe-core finds nothing
 * serious on the busy page or its Abort dialog.
 */
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, seriousAccessibilityViolations, withPage } from '../helpers/browser.js';
import { steadyLoad } from '../helpers/promote-server.js';
import { holdAtTen, startDashboard, waitForRollout, type Dashboard } from './helpers/dashboard.js';

const ACTIONS = ['Abort', 'Pause', 'Resume', 'Promote', 'Rollback', 'Approve'];

describe('the rollout page during a rollout', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  let load: ReturnType<typeof steadyLoad> | undefined;
  /** answers of the load through the staging router, by "<version> <status>" */
  const seen = new Map<string, number>();
  /** the rollout the viewer test leaves held at 10%, for the keyboard test to abort */
  let held: number | undefined;

  beforeAll(async () => {
    [dashboard, browser] = await Promise.all([startDashboard('rollout', { production: true }), launchBrowser()]);
    load = steadyLoad(dashboard.routerUrl, 2, (response) => {
      const key = response === undefined ? 'refused' : `${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`;
      seen.set(key, (seen.get(key) ?? 0) + 1);
    });
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
  });

  it('shows the weights change live over SSE (resume, then a hand-set routing table), and Abort returns traffic to stable', async () => {
    const id = await holdAtTen(dashboard.api, 'v2');
    await withPage(browser, 'rollout-live', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/rollouts/${id}`);
      await expectWeights(page, { v2: '10%', v1: '90%' });
      await page.getByTestId('rollout-phase').filter({ hasText: 'Paused' }).waitFor();
      await page.getByTestId('step-timeline').waitFor();
      await watched.screenshot('rollout-at-10');
      // a reload would lose this, and count another navigation of the main frame
      await page.evaluate('window.sameDocument = true');
      let navigations = 0;
      page.on('framenavigated', (frame) => (frame === page.mainFrame() ? (navigations += 1) : undefined));

      const resumed = await request(`${dashboard.origin}/api/environments/staging/resume`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
      expect(resumed.statusCode, await resumed.body.text()).toBe(202);
      await expectWeights(page, { v2: '50%', v1: '50%' });
      expect(await page.evaluate('window.sameDocument')).toBe(true);
      expect(navigations).toBe(0);
      // what told the page is the server's event stream
      expect(watched.requests).toContain(`${dashboard.origin}/api/stream`);
      await watched.screenshot('rollout-at-50');
      // a person changes the routing table by hand: the traffic event reaches the page too
      const set = await dashboard.cli('traffic', 'set', '--env', 'staging', '--weight', 'v2=30', '--weight', 'v1=70', '--reason', 'browser test');
      expect(set.code, set.stderr).toBe(0);
      await expectWeights(page, { v2: '30%', v1: '70%' });
      expect(navigations).toBe(0);
      // the page at its busiest (actions, charts, timeline), then with the Abort dialog open
      let violations = await seriousAccessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      await page.getByRole('dialog').waitFor();
      violations = await seriousAccessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      await watched.screenshot('rollout-abort-dialog');
      await page.getByRole('dialog').getByRole('button', { name: 'Cancel' }).click();
      await page.getByRole('dialog').waitFor({ state: 'hidden' });

      await confirmAction(page, () => page.getByRole('button', { name: 'Abort', exact: true }).click());
      await page.getByTestId('rollout-phase').filter({ hasText: 'Aborted' }).waitFor();
      await expectWeights(page, { v1: '100%' });
      await watched.screenshot('rollout-aborted');
      expect(watched.problems).toEqual([]);
    });

    // the API and the router agree: the rollout is aborted and stable takes every request
    const aborted = await waitForRollout(dashboard.api, id, 'Aborted', (rollout) => rollout.phase === 'Aborted');
    expect(aborted.weights).toMatchObject({ v1: 100 });
    const traffic = JSON.parse((await dashboard.cli('traffic', 'get', '--env', 'staging', '--json')).stdout) as { config: { stable: string; versions: Array<{ name: string; weight: number }> } };
    expect(traffic.config.stable).toBe('v1');
    expect(traffic.config.versions.filter((version) => version.weight > 0)).toEqual([expect.objectContaining({ name: 'v1', weight: 100 })]);
    const before = new Map(seen);
    await waitForAnswers(seen, before, 100);
    expect(sinceThen(before, seen)).toEqual(new Map([['v1 200', expect.any(Number)]]));
    // the canary took its share while it ran
    expect(seen.get('v2 200') ?? 0).toBeGreaterThan(0);
  }, 60_000);

  it('shows a new rollout on the open overview live, and offers a viewer no action on it', async () => {
    let id = 0;
    await withPage(browser, 'rollout-viewer', async ({ page, ...watched }) => {
      // the overview is open before the rollout starts: it appears there without a reload
      await page.goto(`${dashboard.origin}/#/`);
      const staging = page.getByTestId('environment-staging');
      await staging.getByText('No rollout in progress.').waitFor();
      id = await holdAtTen(dashboard.api, 'v3');
      held = id;
      const link = staging.getByRole('link', { name: `v3 (#${id})` });
      await link.waitFor();
      await staging.getByText(/Traffic:.*v3 10%/).waitFor();
      await staging.getByText(/Traffic:.*v1 90%/).waitFor();
      await watched.screenshot('overview-rollout-in-progress');
      await link.click();
      await expectWeights(page, { v3: '10%', v1: '90%' });
      // as admin (the server's default role) the actions are there, so their absence below means something
      await page.getByRole('button', { name: 'Abort', exact: true }).waitFor();
      await page.getByTestId('role-select').selectOption('viewer');
      await page.getByRole('button', { name: 'Abort', exact: true }).waitFor({ state: 'detached' });
      for (const action of ACTIONS) expect(await page.getByRole('button', { name: action, exact: true }).count(), `${action} offered to a viewer`).toBe(0);
      await expectWeights(page, { v3: '10%', v1: '90%' });
      await watched.screenshot('rollout-as-viewer');
      expect(watched.problems).toEqual([]);
    });

    const forced = await request(`${dashboard.origin}/api/environments/staging/abort`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-promote-role': 'viewer' }, body: '{}' });
    const refusal = (await forced.body.json()) as { error?: string };
    expect(forced.statusCode).toBe(403);
    expect(refusal.error).toMatch(/viewer may not abort/);
    const still = await dashboard.api('GET', `/api/rollouts/${id}`);
    // nothing changed: still held at 10%
    expect(still).toMatchObject({ phase: 'Paused', weights: { v3: 10, v1: 90 } });
  }, 60_000);

  it('reaches Abort with Tab, shows where the focus is, and aborts with Enter', async () => {
    const id = held ?? (await holdAtTen(dashboard.api, 'v3'));
    await withPage(browser, 'rollout-keyboard', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/rollouts/${id}`);
      await page.getByRole('button', { name: 'Abort', exact: true }).waitFor();
      await tabTo(page, 'Abort', 80);
      // an outline or a box shadow on the focused button (the two ways a focus ring is drawn)
      const focusShown = await page.evaluate<string>(`(() => {
        const style = getComputedStyle(document.activeElement);
        return style.outlineStyle !== 'none' && style.outlineWidth !== '0px' ? 'outline' : style.boxShadow !== 'none' ? 'shadow' : '';
      })()`);
      expect(focusShown, 'the focused Abort button shows no focus ring').not.toBe('');
      await watched.screenshot('rollout-abort-focused');
      await confirmAction(page, () => page.keyboard.press('Enter'), true);
      await page.getByTestId('rollout-phase').filter({ hasText: 'Aborted' }).waitFor();
    });
    await waitForRollout(dashboard.api, id, 'Aborted', (rollout) => rollout.phase === 'Aborted');
  }, 60_000);

  it('offers an operator only Abort on a paused production rollout (no Resume, no Promote), and the API refuses a forced Resume', async () => {
    const id = await holdAtTen(dashboard.api, 'v2', { environment: 'production', skipEnvironmentGate: 'browser test of production rights' });
    await withPage(browser, 'rollout-operator-production', async ({ page, ...watched }) => {
      await page.goto(`${dashboard.origin}/#/rollouts/${id}`);
      await expectWeights(page, { v2: '10%', v1: '90%' });
      await page.getByRole('button', { name: 'Resume', exact: true }).waitFor();
      await page.getByTestId('role-select').selectOption('operator');
      await page.getByRole('button', { name: 'Resume', exact: true }).waitFor({ state: 'detached' });
      const offered = (await page.getByRole('group', { name: 'Rollout actions' }).getByRole('button').allTextContents()).map((text) => text.trim());
      expect(offered.sort()).toEqual(['Abort']);
      await watched.screenshot('rollout-operator-production');
      expect(watched.problems).toEqual([]);
    });
    const forced = await request(`${dashboard.origin}/api/environments/production/resume`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-promote-role': 'operator' }, body: '{}' });
    expect(forced.statusCode).toBe(403);
    expect(((await forced.body.json()) as { error?: string }).error).toMatch(/operator may not resume in production/);
    expect(await dashboard.api('GET', `/api/rollouts/${id}`)).toMatchObject({ phase: 'Paused', weights: { v2: 10, v1: 90 } });
    // an operator may stop a production rollout: abort it as one, back to stable
    const abort = await request(`${dashboard.origin}/api/environments/production/abort`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-promote-role': 'operator' }, body: '{}' });
    expect(abort.statusCode, await abort.body.text()).toBe(202);
    await waitForRollout(dashboard.api, id, 'Aborted', (rollout) => rollout.phase === 'Aborted');
  }, 60_000);
});

/** Waits until the traffic split shows each version's percentage. */
async function expectWeights(page: Page, weights: Record<string, string>): Promise<void> {
  const split = page.getByTestId('traffic-split');
  for (const [version, text] of Object.entries(weights)) await expect.poll(() => split.getByTestId(`weight-${version}`).textContent({ timeout: 1_000 }).then((shown) => shown?.trim(), () => undefined), { timeout: 15_000, message: `weight-${version} in the traffic split` }).toBe(text);
}

/**
 * Triggers an action that asks for confirmation and confirms it: a browser confirm() is accepted; an
 * in-page dialog is confirmed with its Abort button (by keyboard when `byKeyboard`).
 */
async function confirmAction(page: Page, trigger: () => Promise<void>, byKeyboard = false): Promise<void> {
  let asked = false;
  page.once('dialog', (dialog) => {
    asked = true;
    void dialog.accept();
  });
  await trigger();
  const dialog = page.getByRole('dialog');
  await Promise.race([dialog.waitFor({ timeout: 5_000 }).catch(() => undefined), page.getByTestId('rollout-phase').filter({ hasText: 'Aborted' }).waitFor({ timeout: 5_000 }).catch(() => undefined)]);
  if (!asked && (await dialog.count()) > 0) {
    const confirm = dialog.getByRole('button', { name: /abort|confirm|yes/i }).first();
    if (byKeyboard) {
      // from wherever the dialog put the focus, Tab to its confirming button
      const label = ((await confirm.textContent()) ?? '').trim();
      await tabTo(page, label, 10);
      await page.keyboard.press('Enter');
    } else {
      await confirm.click();
    }
  }
}

/** Presses Tab until the focused element is a button reading `label`; fails after `limit` presses. */
async function tabTo(page: Page, label: string, limit: number): Promise<void> {
  for (let presses = 0; presses < limit; presses++) {
    await page.keyboard.press('Tab');
    if (await page.evaluate<boolean>(`document.activeElement?.tagName === 'BUTTON' && document.activeElement.textContent.trim() === ${JSON.stringify(label)}`)) return;
  }
  throw new Error(`${limit} presses of Tab never reached the button "${label}"`);
}

async function waitForAnswers(seen: Map<string, number>, before: Map<string, number>, count: number): Promise<void> {
  const total = (map: Map<string, number>) => [...map.values()].reduce((sum, each) => sum + each, 0);
  for (let waited = 0; waited < 15_000 && total(seen) - total(before) < count; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
}

function sinceThen(before: Map<string, number>, now: Map<string, number>): Map<string, number> {
  return new Map([...now].map(([key, count]) => [key, count - (before.get(key) ?? 0)] as const).filter(([, count]) => count > 0));
}
