/**
 * `npm start -- --fast`, the main job, run the way a new user runs it: the whole story must end with
 * its summary, every promotion phase without a failed request, the ledger and the reconciliation
 * proven, 3.0.0 caught and rolled back by analysis, and nothing left running or on disk. And Ctrl-C
 * in the middle stops everything just as cleanly. A browser watches the dashboard the demo points
 * to while 2.0.0's canary runs in production: the page shows the weights move without a reload.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readdir, readFile, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import type { DemoSummary } from '../../src/demo/summary.js';
import { launchBrowser, withPage } from '../helpers/browser.js';
import { builtCli } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const children: ChildProcess[] = [];
afterAll(() => {
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
});

function run(command: string[], onOutput?: (text: string) => void): { child: ChildProcess; done: Promise<{ code: number | null; output: string }> } {
  const child = spawn(process.execPath, command, { cwd: root, env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let output = '';
  const collect = (chunk: Buffer) => {
    output += chunk.toString();
    onOutput?.(output);
  };
  child.stdout.on('data', collect);
  child.stderr.on('data', collect);
  const done = new Promise<{ code: number | null; output: string }>((resolve) => child.once('close', (code) => resolve({ code, output })));
  return { child, done };
}

/** Processes that run in the folder or name it: the server and app instances (their working folder), the embedded PostgreSQL (its data). */
async function processesUsing(folder: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const command = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => '');
    if (command.includes(folder) || cwd.startsWith(folder)) found.push(`${pid} in ${cwd}: ${command.replaceAll('\0', ' ')}`);
  }
  return found;
}

const folderOf = (output: string) => /working folder (\S+)/.exec(output)?.[1];

interface Watched {
  /** the texts weight-2.0.0 showed on the rollout page, in order, each once */
  weights: string[];
  navigations: number;
  problems: string[];
  foreign: string[];
}

/**
 * Opens the dashboard the demo names, waits for 2.0.0's production rollout and records what its
 * page shows for 2.0.0's weight until the rollout ends, without ever reloading the page.
 */
async function watchProductionCanary(origin: Promise<string>): Promise<Watched> {
  const base = await origin;
  const browser = await launchBrowser();
  return withPage(browser, 'demo-production-canary', async (watched) => {
    const { page } = watched;
    type Overview = { environments: Array<{ name: string; active: { id: number; version: string | null } | null }> };
    let id: number | undefined;
    for (let waited = 0; id === undefined; waited += 250) {
      if (waited > 240_000) throw new Error('2.0.0 never started in production');
      const overview = (await (await fetch(`${base}/api/overview`)).json()) as Overview;
      const active = overview.environments.find((environment) => environment.name === 'production')?.active;
      if (active?.version === '2.0.0') id = active.id;
      else await new Promise((resolve) => setTimeout(resolve, 250));
    }
    let navigations = 0;
    page.on('framenavigated', (frame) => {
      if (frame === page.mainFrame()) navigations += 1;
    });
    await page.goto(`${base}/#/rollouts/${id}`);
    const weight = page.getByTestId('weight-2.0.0');
    const phase = page.getByTestId('rollout-phase');
    const weights: string[] = [];
    for (let waited = 0; waited < 240_000; waited += 100) {
      const shown = (await weight.textContent({ timeout: 1_000 }).catch(() => null))?.trim();
      if (shown && shown !== weights.at(-1)) {
        weights.push(shown);
        if (shown === '50%') await watched.screenshot('demo-production-canary');
      }
      const ended = (await phase.textContent({ timeout: 1_000 }).catch(() => null))?.trim();
      if (ended && ['Healthy', 'RolledBack', 'Aborted', 'Degraded'].includes(ended)) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return { weights, navigations, problems: [...watched.problems], foreign: watched.foreignRequests(base) };
  });
}

describe('npm start -- --fast', () => {
  it('runs the whole story and ends with its summary: no failed request but 3.0.0\'s, ledger and checksums proven, 3.0.0 rolled back by analysis, nothing left behind', async () => {
    const json = join(await scratchFolder('promote-demo-test-'), 'summary.json');
    let named: (url: string) => void = () => undefined;
    const dashboard = new Promise<string>((resolve) => (named = resolve));
    const { done } = run([join(root, 'scripts', 'start.mjs'), '--fast', '--json', json], (text) => {
      const url = /dashboard: open (http:\/\/\S+?)\/ in a browser/.exec(text)?.[1];
      if (url) named(url);
    });
    const watching = watchProductionCanary(dashboard);
    watching.catch(() => undefined);
    const { code, output } = await done;
    expect(code, output).toBe(0);
    // the dashboard followed the canary live: 2.0.0's weight rose to 50% and on to all traffic, in one page load
    const watched = await watching;
    expect(watched.weights, JSON.stringify(watched)).toContain('50%');
    expect(watched.weights.at(-1), JSON.stringify(watched)).toBe('100%');
    expect(watched.weights.indexOf('50%'), JSON.stringify(watched)).toBeGreaterThan(0);
    expect(watched.navigations).toBe(1);
    expect(watched.problems).toEqual([]);
    expect(watched.foreign).toEqual([]);
    expect(output).toContain('Summary (fast demo');
    const summary = JSON.parse(await readFile(json, 'utf8')) as DemoSummary;

    expect(summary.rollouts.map((rollout) => [rollout.version, rollout.environment, rollout.phase])).toEqual([
      ['1.0.0', 'staging', 'Healthy'],
      ['1.0.0', 'production', 'Healthy'],
      ['2.0.0', 'staging', 'Healthy'],
      ['2.0.0', 'production', 'Healthy'],
      ['3.0.0', 'staging', 'Healthy'],
      ['3.0.0', 'production', 'RolledBack'],
    ]);
    expect(summary.rollouts.at(-1)!.reason).toMatch(/^analysis failed: critical metric error-rate failed/);

    // every phase of 2.0.0's promotion was served without a failure; 3.0.0's own 500s are the only ones
    const phases = summary.load.phases.map((phase) => phase.name);
    expect(phases).toEqual(expect.arrayContaining(['1.0.0 serving', '2.0.0 expand + backfill', '2.0.0 canary 10%', '2.0.0 canary 50%', '2.0.0 serving', '3.0.0 canary 10%']));
    for (const phase of summary.load.phases) {
      const failures = `${phase.name}: ${phase.failureSamples.join('; ')}`;
      if (phase.name.startsWith('3.0.0')) expect(phase.failureSamples.every((sample) => sample === 'get: HTTP 500: release 3.0.0: order lookup failed'), failures).toBe(true);
      else expect(phase.failed, failures).toBe(0);
      expect(phase.mismatches, phase.mismatchSamples.join('; ')).toBe(0);
    }
    expect(summary.load.total.requests).toBeGreaterThan(5_000);
    // the flag ramp reached the service: 1.0.0 never itemizes, 2.0.0 does once the flag is on for everyone
    const receipts = (name: string) => summary.load.phases.filter((phase) => phase.name === name).map((phase) => phase.receipts);
    expect(receipts('1.0.0 serving')).toEqual([0]);
    expect(receipts('2.0.0 serving')[0]).toBeGreaterThan(0);
    expect(summary.ledger).toMatchObject({ ok: true, missing: [], problems: [] });
    expect(summary.ledger.checked).toBeGreaterThan(500);

    // the proofs: the backfill did the seeded rows, the reconciliation found both shapes equal
    expect(summary.backfill.map((table) => table.table).sort()).toEqual(['order_lines', 'orders']);
    expect(summary.backfill.find((table) => table.table === 'orders')!.rows).toBeGreaterThanOrEqual(5_000);
    expect(summary.reconcile).toMatchObject({ equal: true });
    expect(summary.reconcile!.detail).toContain('no row missing, extra or different');

    // detection and recovery, from the recorded events and measurements
    expect(summary.regression, output).toBeDefined();
    expect(summary.regression!.mttdMs).toBeGreaterThan(0);
    expect(summary.regression!.mttrMs).toBeGreaterThanOrEqual(0);
    expect(summary.regression!.reason).toMatch(/^error-rate: /);
    expect(output).toContain('Regression 3.0.0: detected');

    // nothing left: the folder is gone and no process names it
    expect(existsSync(summary.folder)).toBe(false);
    expect(await processesUsing(summary.folder)).toEqual([]);
  }, 300_000);

  it('stops everything cleanly on Ctrl-C in the middle of a rollout', async () => {
    let interrupted = false;
    const { child, done } = run([builtCli, 'demo', '--fast'], (output) => {
      if (!interrupted && output.includes('2.0.0 → staging')) {
        interrupted = true;
        child.kill('SIGINT');
      }
    });
    const { code, output } = await done;
    expect(interrupted, output).toBe(true);
    expect(code, output).not.toBe(0);
    expect(output).toContain('stopping the demo');
    expect(output).toContain('stopping the app instances, promote server and PostgreSQL');
    const folder = folderOf(output)!;
    expect(folder, output).toBeDefined();
    expect(existsSync(folder)).toBe(false);
    expect(await processesUsing(folder)).toEqual([]);
  }, 180_000);
});
