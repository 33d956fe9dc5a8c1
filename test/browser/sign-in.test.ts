/**
 * Signing in to the dashboard of a real `promote server --auth tokens`, in a real chromium, with tokens
 * made by `promote token create`: without a session the page is a sign-in form and no data is read; a
 * wrong token is refused as the API says it; a viewer's token shows the pages and offers no action; an
 * operator may view as viewer but not higher, and its token can abort a staging rollout from the page
 * (a cookie-authenticated write, so the dashboard's CSRF header works); Sign out returns to the form
 * and the browser keeps no session. The token is never in the URL nor readable by the page's scripts
 * (the cookie is HttpOnly). A revoked token's reconnecting event stream brings the form back. After too
 * many failures the form shows the server's "retry in" answer. axe-core finds nothing serious on the
 * form; the form and its refusal leave screenshots.
 */
import type { Browser, Page } from 'playwright-core';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { describeViolations, launchBrowser, seriousAccessibilityViolations, withPage, type WatchedPage } from '../helpers/browser.js';
import type { Api } from '../helpers/promote-server.js';
import { holdAtTen, startDashboard, waitForRollout, type Dashboard } from './helpers/dashboard.js';

const SECRET = /pmt_[A-Za-z0-9_-]{43}/;
const ACTIONS = ['Abort', 'Pause', 'Resume', 'Promote', 'Rollback', 'Approve'];

describe('signing in to the dashboard', () => {
  let dashboard: Dashboard;
  let browser: Browser;
  const tokens: Record<'admin' | 'viewer' | 'operator' | 'revoked', string> = { admin: '', viewer: '', operator: '', revoked: '' };
  /** the API as the admin token (bearer): the rollouts the pages show are started through it */
  let admin: Api;
  /** a rollout of v2 held at 10% in staging */
  let held: number;

  beforeAll(async () => {
    // the server refuses --auth tokens with no token in the store: they are made first
    const createTokens = async (cli: Dashboard['cli']) => {
      for (const [name, role, key] of [['ada', 'admin', 'admin'], ['vera', 'viewer', 'viewer'], ['otto', 'operator', 'operator'], ['rita', 'viewer', 'revoked']] as const) {
        const created = await cli('token', 'create', '--name', name, '--role', role);
        const secret = SECRET.exec(created.stdout)?.[0];
        expect(secret, `promote token create --name ${name} printed no token: ${created.stdout} ${created.stderr}`).toBeDefined();
        tokens[key] = secret!;
      }
    };
    [dashboard, browser] = await Promise.all([startDashboard('sign-in', { serverArgs: ['--auth', 'tokens'], beforeServer: createTokens }), launchBrowser()]);
    admin = bearerApi(dashboard.origin, tokens.admin);
    held = await holdAtTen(admin, 'v2');
  }, 60_000);

  it('shows only the sign-in form without a session, and a wrong token is refused as the API says', async () => {
    // the server itself refuses the data without credentials (what the form stands in front of)
    const refused = await request(`${dashboard.origin}/api/rollouts/${held}`);
    expect(refused.statusCode).toBe(401);
    expect(await refused.body.json()).toMatchObject({ auth: 'token' });

    await withPage(browser, 'sign-in-form', async (watched) => {
      const { page } = watched;
      await page.goto(`${dashboard.origin}/#/rollouts/${held}`);
      const field = page.getByLabel('API token');
      await field.waitFor();
      expect(await page.title()).toBe('Sign in · Promote');
      expect(await field.getAttribute('type')).toBe('password');
      expect(await field.getAttribute('autocomplete')).toBe('off');
      // the form takes the focus, so a keyboard user types the token straight away
      expect(await page.evaluate<string | undefined>('document.activeElement?.name')).toBe('token');
      // no page and none of its data: the only API call was "who am I?"
      expect(await page.getByTestId('rollout-phase').count()).toBe(0);
      expect(await page.getByRole('navigation').count()).toBe(0);
      expect(apiCalls(watched, dashboard.origin)).toEqual(['/api/me']);
      const violations = await seriousAccessibilityViolations(page);
      expect(violations, describeViolations(violations)).toEqual([]);
      await watched.screenshot('sign-in-form');

      await field.fill(`pmt_${'x'.repeat(43)}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      const refusal = page.getByRole('alert');
      await refusal.waitFor();
      const said = await refusal.textContent();
      expect(said).toMatch(/Could not sign in/);
      expect(said).toMatch(/HTTP 401/);
      // the API's own words: what POST /api/session answered, shown as it is
      const answer = await request(`${dashboard.origin}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: `pmt_${'y'.repeat(43)}` }) });
      expect(answer.statusCode).toBe(401);
      expect(said).toContain(((await answer.body.json()) as { error: string }).error);
      await field.waitFor();
      // why the form is there is still the server's first answer; the refusal is the alert's
      expect(await page.getByTestId('sign-in-reason').textContent()).toBe('This server requires an API token.');
      expect(await page.getByTestId('signed-in').count()).toBe(0);
      expect(page.url()).not.toContain('pmt_');
      const violationsAfter = await seriousAccessibilityViolations(page);
      expect(violationsAfter, describeViolations(violationsAfter)).toEqual([]);
      await watched.screenshot('sign-in-wrong-token');
      expect(unexpectedProblems(watched)).toEqual([]);
    });
  }, 30_000);

  it("a viewer's token shows the page asked for with no action; the session is an HttpOnly cookie; Sign out returns to the form", async () => {
    await withPage(browser, 'sign-in-viewer', async (watched) => {
      const { page, context } = watched;
      await page.goto(`${dashboard.origin}/#/rollouts/${held}`);
      await signIn(page, tokens.viewer);
      // the page the user asked for, with its data
      await page.getByTestId('rollout-phase').filter({ hasText: 'Paused' }).waitFor();
      await page.getByTestId('signed-in').filter({ hasText: 'Signed in as vera (viewer)' }).waitFor();
      await page.getByText('Your role (viewer) takes no action on this rollout now.').waitFor();
      for (const action of ACTIONS) expect(await page.getByRole('button', { name: action, exact: true }).count(), `${action} offered to a viewer`).toBe(0);
      // the event stream was opened with the session too (it needs it: the server refuses it without)
      expect(apiCalls(watched, dashboard.origin)).toContain('/api/stream');

      const cookies = await context.cookies(dashboard.origin);
      const session = cookies.find((cookie) => cookie.name === 'promote_session');
      expect(session, JSON.stringify(cookies)).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
      // nothing a script on the page can read holds the token or the session
      const readable = await page.evaluate<string>('document.cookie + JSON.stringify(Object.entries(localStorage)) + JSON.stringify(Object.entries(sessionStorage)) + location.href');
      expect(readable).not.toContain(tokens.viewer);
      expect(readable).not.toContain(session!.value);
      expect(watched.requests.some((url) => url.includes(tokens.viewer))).toBe(false);

      await page.getByRole('button', { name: 'Sign out' }).click();
      await page.getByLabel('API token').waitFor();
      expect(await page.getByTestId('rollout-phase').count()).toBe(0);
      expect((await context.cookies(dashboard.origin)).filter((cookie) => cookie.name === 'promote_session' && cookie.value !== '')).toEqual([]);
      // the browser holds no session any more: a reload stays signed out
      await page.reload();
      await page.getByLabel('API token').waitFor();
      expect(unexpectedProblems(watched)).toEqual([]);
    });
  }, 30_000);

  it("an operator's token views as viewer at most, and aborts a staging rollout from the page, recorded as the operator", async () => {
    await withPage(browser, 'sign-in-operator', async (watched) => {
      const { page } = watched;
      await page.goto(`${dashboard.origin}/#/rollouts/${held}`);
      await signIn(page, tokens.operator);
      await page.getByTestId('signed-in').filter({ hasText: 'Signed in as otto (operator)' }).waitFor();
      // "View as" stays, and can only lower the token's role
      const viewAs = page.getByTestId('role-select');
      expect((await viewAs.locator('option').allTextContents()).map((text) => text.trim())).toEqual(['viewer', 'operator (your role)']);
      await page.getByRole('button', { name: 'Abort', exact: true }).waitFor();
      await viewAs.selectOption('viewer');
      await page.getByRole('button', { name: 'Abort', exact: true }).waitFor({ state: 'detached' });
      await viewAs.selectOption('operator');
      await page.getByRole('button', { name: 'Abort', exact: true }).click();
      const dialog = page.getByRole('dialog');
      await dialog.getByRole('textbox', { name: /Reason/ }).fill('sign-in test');
      await dialog.getByRole('button', { name: 'Confirm' }).click();
      await page.getByTestId('rollout-phase').filter({ hasText: 'Aborted' }).waitFor();
      expect(unexpectedProblems(watched)).toEqual([]);
    });
    await waitForRollout(admin, held, 'Aborted', (rollout) => rollout.phase === 'Aborted');
    // the abort's audit event names the token's name, not anything the page could claim
    const events = (await admin('GET', `/api/rollouts/${held}/events`)) as unknown as Array<{ type: string; actor?: string }>;
    expect(JSON.stringify(events)).toContain('otto');
  }, 30_000);

  it('replaces an open page with the sign-in form once its event stream is refused (token revoked, stream reconnecting)', async () => {
    await withPage(browser, 'sign-in-revoked', async (watched) => {
      const { page } = watched;
      await page.goto(`${dashboard.origin}/#/`);
      await signIn(page, tokens.revoked);
      await page.getByTestId('environment-staging').waitFor();
      await page.getByTestId('signed-in').filter({ hasText: 'rita' }).waitFor();
      const listed = (await admin('GET', '/api/tokens')) as unknown as Array<{ id: number; name: string }>;
      const rita = listed.find((token) => token.name === 'rita');
      expect(rita, JSON.stringify(listed)).toBeDefined();
      const revoked = await request(`${dashboard.origin}/api/tokens/${rita!.id}`, { method: 'DELETE', headers: { authorization: `Bearer ${tokens.admin}` } });
      expect(revoked.statusCode, await revoked.body.text()).toBe(200);
      // the open stream outlives the revocation; a restart makes the browser open it again, and the
      // server refuses that: the page reads nothing more and asks for a token, saying why
      await dashboard.stopServer();
      await dashboard.restartServer();
      await page.getByLabel('API token').waitFor({ timeout: 30_000 });
      await page.getByTestId('sign-in-reason').filter({ hasText: /revoked/ }).waitFor();
      expect(await page.getByTestId('environment-staging').count()).toBe(0);
      expect(await page.getByTestId('signed-in').count()).toBe(0);
      // the stream's tries while the server was down are the browser's own lines
      expect(unexpectedProblems(watched, /ERR_CONNECTION_REFUSED \(.*\/api\/stream\)/)).toEqual([]);
    });
  }, 45_000);

  // last: it locks this address out of every sign-in for the limiter's window
  it('shows the refusal after too many failed sign-ins, with when to retry', async () => {
    for (let tries = 0; tries < 30; tries++) {
      const failed = await request(`${dashboard.origin}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: `pmt_${'z'.repeat(43)}` }) });
      await failed.body.dump();
      if (failed.statusCode === 429) break;
      expect(failed.statusCode).toBe(401);
    }
    await withPage(browser, 'sign-in-too-many', async (watched) => {
      const { page } = watched;
      await page.goto(`${dashboard.origin}/#/`);
      // even a good token is turned away while the address is locked out
      await page.getByLabel('API token').fill(tokens.viewer);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.getByRole('alert').filter({ hasText: /retry in \d+ ?s/ }).filter({ hasText: 'HTTP 429' }).waitFor();
      await page.getByLabel('API token').waitFor();
      expect(await page.getByTestId('signed-in').count()).toBe(0);
    });
  }, 30_000);
});

/** Signs in with the form on the page (which must show it). */
async function signIn(page: Page, token: string): Promise<void> {
  await page.getByLabel('API token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByLabel('API token').waitFor({ state: 'detached' });
}

/** The API paths the page asked for, in order. */
function apiCalls(watched: WatchedPage, origin: string): string[] {
  return watched.requests.filter((url) => url.startsWith(`${origin}/api/`)).map((url) => new URL(url).pathname);
}

/** Console problems other than chromium's line for each 401 the sign-in flow expects (and for `alsoExpected`). */
function unexpectedProblems(watched: WatchedPage, alsoExpected?: RegExp): string[] {
  return watched.problems.filter((problem) => !/status of 401 \(Unauthorized\)/.test(problem) && !alsoExpected?.test(problem));
}

/** The API client of the test helpers, with a bearer token. */
function bearerApi(origin: string, token: string): Api {
  return async (method, path, body) => {
    const response = await request(`${origin}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body !== undefined ? { 'content-type': 'application/json' } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    return (await response.body.json()) as Record<string, unknown>;
  };
}
