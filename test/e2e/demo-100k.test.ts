/**
 * The demo's promotion under heavy load: at least 100,000 requests through the router while 2.0.0
 * and its migration are promoted to production (expand and backfill, canary, gate, promote,
 * contract), not one of them failed, and every order the service acknowledged is in the database as
 * acknowledged. The release gate holds the canary at 50% until the 100,000 have been served, so the
 * count holds however fast this machine is.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { DemoSummary } from '../../src/demo/summary.js';
import { builtCli } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';

const REQUESTS = 100_000;

describe('the demo promotion under 100,000 requests', () => {
  it('serves at least 100,000 requests during 2.0.0\'s promotion with zero failures and every acknowledged write present', async () => {
    const json = join(await scratchFolder('promote-demo-100k-'), 'summary.json');
    const child = spawn(process.execPath, [builtCli, 'demo', '--fast', '--rate', '500', '--users', '150', '--gate-requests', String(REQUESTS), '--json', json], {
      env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(code, output.slice(-4000)).toBe(0);
    const summary = JSON.parse(await readFile(json, 'utf8')) as DemoSummary;

    const promotion = summary.load.phases.filter((phase) => phase.name.startsWith('2.0.0 ') && phase.name !== '2.0.0 serving');
    const table = promotion.map((phase) => `${phase.name}: ${phase.requests}`).join(', ');
    expect(promotion.map((phase) => phase.name), table).toEqual(expect.arrayContaining(['2.0.0 expand + backfill', '2.0.0 canary 50%']));
    const served = promotion.reduce((sum, phase) => sum + phase.requests, 0);
    expect(served, table).toBeGreaterThanOrEqual(REQUESTS);
    for (const phase of summary.load.phases.filter((each) => !each.name.startsWith('3.0.0'))) {
      expect(phase.failed, `${phase.name}: ${phase.failureSamples.join('; ')}`).toBe(0);
      expect(phase.mismatches, phase.mismatchSamples.join('; ')).toBe(0);
    }
    expect(summary.rollouts.find((rollout) => rollout.version === '2.0.0' && rollout.environment === 'production')?.phase).toBe('Healthy');
    expect(summary.ledger).toMatchObject({ ok: true, missing: [], problems: [] });
    expect(summary.ledger.checked).toBeGreaterThan(10_000);
    expect(summary.reconcile).toMatchObject({ equal: true });
  }, 1_200_000);
});
