import { writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/runtime.js';
import { startRollout } from '../../src/engine/start.js';
import { deliveryReport } from '../../src/report/compute.js';
import { buildDeliveryReport, loadReportInput } from '../../src/report/load.js';
import type { DeliveryReport } from '../../src/report/types.js';
import { buildServer } from '../../src/server/app.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { recordMeasurement } from '../../src/store/analysis.js';
import { createRelease, upsertApp } from '../../src/store/index.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { afterFile } from '../helpers/cleanup.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

/**
 * Real rollouts through the engine (an external target whose versions are one loopback HTTP server),
 * then the delivery report, `promote report`, GET /api/report and /metrics read back from the store:
 *   1.0.0 and 2.0.0 go Healthy through staging to production; 3.0.0-bad fails its smoke test at 50%
 *   in production and rolls back; `promote rollback` returns production to 1.0.0 (undoing 2.0.0).
 */
function specText(port: number): string {
  return `version: 1
app: { name: shop }
environments:
  - { name: staging, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:${port}/{{version}}" }, strategy: canary }
  - { name: production, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:${port}/{{version}}" }, strategy: canary }
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - test: { name: smoke, run: 'case "$PROMOTE_VERSION" in *bad*) echo "smoke failed"; exit 1;; esac', timeout: 30s }
      - promote: {}
`;
}

describe('delivery metrics after real rollouts', () => {
  let pool: pg.Pool;
  let url: string;
  let spec: PromoteSpec;
  let folder: string;
  let report: DeliveryReport;
  const ids: Record<string, number> = {};
  const since = new Date(Date.now() - 60_000);

  async function finish(id: number): Promise<string> {
    for (let waited = 0; waited < 60_000; waited += 100) {
      const row = (await pool.query<{ phase: string; rolling: boolean }>(`select phase, (state->'rollingBack') is not null and state->'rollingBack' <> 'null'::jsonb as rolling from promote.rollouts where id = $1`, [id])).rows[0]!;
      if (['Healthy', 'RolledBack', 'Aborted', 'Degraded'].includes(row.phase) && !row.rolling) return row.phase;
      await sleep(100);
    }
    throw new Error(`rollout #${id} did not finish within 60 s`);
  }

  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
    const upstream: Server = createServer((_request, response) => response.end('ok'));
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    afterFile('closing the upstream', () => new Promise((resolve) => upstream.close(resolve)));
    folder = await scratchFolder('promote-report-');
    const text = specText((upstream.address() as AddressInfo).port);
    await writeFile(join(folder, 'promote.yaml'), text);
    const parsed = parseSpec(text, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    const engine = createEngine(spec, { pool, databaseUrl: url, configDir: folder, pollMs: 100 });
    await engine.controller.start();
    afterFile('stopping the engine', () => engine.close());
    await upsertApp(pool, { name: 'shop' });
    for (const version of ['1.0.0', '2.0.0', '3.0.0-bad']) await createRelease(pool, { app: 'shop', version, digest: `sha256:${version.replace(/[^0-9]/g, '').padEnd(64, '0')}`, migrationChecksums: {} });
    const run = async (name: string, environment: string, version: string, extra: { skipEnvironmentGate?: string; planContext?: { rollback: true } } = {}) => {
      ids[name] = (await startRollout(pool, { spec, environment, version, actor: 'ann', ...extra })).id;
      return finish(ids[name]);
    };
    expect(await run('v1-staging', 'staging', '1.0.0')).toBe('Healthy');
    expect(await run('v1', 'production', '1.0.0')).toBe('Healthy');
    expect(await run('v2-staging', 'staging', '2.0.0')).toBe('Healthy');
    expect(await run('v2', 'production', '2.0.0')).toBe('Healthy');
    expect(await run('v3', 'production', '3.0.0-bad', { skipEnvironmentGate: 'testing a failed change' })).toBe('RolledBack');
    expect(await run('back', 'production', '1.0.0', { planContext: { rollback: true } })).toBe('Healthy');
    report = await buildDeliveryReport(pool, { since, until: new Date(Date.now() + 1000), app: 'shop' });
  }, 120_000);

  it('computes every figure from what the engine recorded', async () => {
    expect(report.production).toEqual(['shop/production']);
    expect(report.deploymentFrequency.count).toBe(2);
    expect(report.deploymentFrequency.byEnvironment.map((each) => [each.environment, each.count])).toEqual([
      ['staging', 2],
      ['production', 2],
    ]);
    expect(report.leadTime.count).toBe(2);
    expect(report.leadTime.medianMs).toBeGreaterThan(0);
    expect(report.changeFailureRate).toMatchObject({ numerator: 2, denominator: 3, rolledBack: 1, rolledBackLater: 1, aborted: 0, degraded: 0 });
    expect(report.rollbacks).toMatchObject({ count: 2, automatic: 1, manual: 1, abort: 0, unfinished: 0, successRate: { value: 1 } });
    expect(report.rollbacks.records.map((each) => [each.rolloutId, each.kind, each.result])).toEqual([
      [ids.v3, 'automatic', 'succeeded'],
      [ids.back, 'manual', 'succeeded'],
    ]);
    const [incident] = report.recovery.incidents;
    expect(report.recovery.incidents).toHaveLength(1);
    expect(incident).toMatchObject({ rolloutId: ids.v3, version: '3.0.0-bad', reason: expect.stringContaining('smoke') as string });
    expect(Date.parse(incident!.trafficAt)).toBeLessThanOrEqual(Date.parse(incident!.detectedAt));
    expect(Date.parse(incident!.detectedAt)).toBeLessThanOrEqual(Date.parse(incident!.recoveredAt));
    // against the store itself: the 50% step's traffic change and the rollback's, as the actions recorded them
    const actions = await pool.query<{ id: string; finished_at: Date }>(`select id, finished_at from promote.rollout_actions where rollout_id = $1 and action->>'kind' = 'setTraffic' order by finished_at`, [ids.v3]);
    expect(actions.rows.map((row) => row.id)).toEqual([`r${ids.v3}.a1.s0.setTraffic`, `r${ids.v3}.a1.rollback.setTraffic`]);
    expect(Math.abs(Date.parse(incident!.recoveredAt) - actions.rows[1]!.finished_at.getTime())).toBeLessThan(1000);
    expect(report.migrations).toMatchObject({ value: null, denominator: 0 });
    expect(report.integrity).toMatchObject({ verifySteps: 0, checksFailed: 0 });
  });

  it('reads only what a period needs: a period from mid-history gives the figures of the whole history cut to it', async () => {
    // from v3's creation: v1 and v2 finished before; the `promote rollback` still undoes v2's Healthy rollout
    const created = (await pool.query<{ created_at: Date }>('select created_at from promote.rollouts where id = $1', [ids.v3])).rows[0]!.created_at;
    const period = { since: created, until: new Date(Date.now() + 1000), app: 'shop' };
    const pruned = await loadReportInput(pool, period);
    const whole = await loadReportInput(pool, { ...period, since: new Date(0) });
    // each environment's last Healthy rollout before the period comes too (a later `promote rollback` may undo it)
    expect(pruned.rollouts.map((each) => each.id)).toEqual([ids['v2-staging'], ids.v2, ids.v3, ids.back]);
    expect(whole.rollouts).toHaveLength(6);
    const figures = deliveryReport(pruned, period);
    expect(figures).toEqual(deliveryReport(whole, period));
    expect(figures.changeFailureRate).toMatchObject({ numerator: 1, denominator: 1, rolledBack: 1 });
    expect(figures.rollbacks).toMatchObject({ automatic: 1, manual: 1 });
  });

  it('promote report prints the same figures as text and as JSON, and refuses a bad period', async () => {
    const env = { DATABASE_URL: url };
    const json = await runInProcess(['report', '--since', '1h', '--app', 'shop', '--json'], { cwd: folder, env });
    expect(json.code, json.stderr).toBe(0);
    const printed = JSON.parse(json.stdout) as DeliveryReport;
    expect(printed.changeFailureRate).toEqual(report.changeFailureRate);
    expect(printed.rollbacks.records).toEqual(report.rollbacks.records);
    expect(printed.recovery.incidents).toEqual(report.recovery.incidents);
    const text = await runInProcess(['report', '--since', '1h'], { cwd: folder, env });
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/change failure rate\s+66\.7%\s+2 of 3 finished production rollout\(s\): 1 rolled back, 0 aborted, 0 degraded, 1 undone by promote rollback/);
    expect(text.stdout).toMatch(/rollback success rate\s+100\.0%/);
    expect(text.stdout).toContain(`#${ids.v3} 3.0.0-bad → production: detected`);
    const bad = await runInProcess(['report', '--since', '30x'], { cwd: folder, env });
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('--since takes a duration back from --until or a date, like 30d');
  });

  describe('promote server', () => {
    let server: Awaited<ReturnType<typeof buildServer>>;
    beforeAll(async () => {
      server = await buildServer({ pool, spec, web: false });
    });
    afterAll(async () => server.close());

    it('GET /api/report answers the report of its app; a bad period is a 400', async () => {
      const answer = await server.inject({ method: 'GET', url: `/api/report?since=${encodeURIComponent(since.toISOString())}` });
      expect(answer.statusCode, answer.body).toBe(200);
      const body = answer.json<DeliveryReport>();
      expect(body.app).toBe('shop');
      // the schema serialises every field: nothing of the computed report is lost on the way
      expect({ ...body, until: '', days: 0 }).toEqual({ ...(await buildDeliveryReport(pool, { since, until: new Date(body.until), app: 'shop' })), until: '', days: 0 });
      const bad = await server.inject({ method: 'GET', url: '/api/report?since=30x' });
      expect(bad.statusCode).toBe(400);
      expect(bad.json<{ error: string }>().error).toContain('--since takes a duration');
      const unknown = await server.inject({ method: 'GET', url: '/api/report?sinse=30d' });
      expect(unknown.statusCode).toBe(400);
      const openapi = (await server.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, { get?: { responses?: Record<string, unknown> } }> }>();
      expect(Object.keys(openapi.paths['/api/report']?.get?.responses ?? {})).toContain('200');
    });

    it('GET /metrics exposes the rollouts as the store records them', async () => {
      const staging = ids['v2-staging']!;
      for (const [seq, verdict] of [[1, 'Successful'], [2, 'Failed'], [3, 'Successful']] as const) {
        await recordMeasurement(pool, { rolloutId: staging, actionId: `r${staging}.a1.s9.startAnalysis`, template: 'errors', seq, verdict, reason: 'test', dryRun: false, critical: false, candidate: null, baseline: null, statistics: {} });
      }
      const answer = await server.inject({ method: 'GET', url: '/metrics' });
      expect(answer.statusCode).toBe(200);
      expect(answer.headers['content-type']).toMatch(/^text\/plain/);
      await checkExposition(answer.body);
    });

    it('promote controller --metrics serves the same figures', async () => {
      const child = spawnCli(['controller', '--metrics', '127.0.0.1:0'], { cwd: folder, env: { DATABASE_URL: url, PROMOTE_LOG_LEVEL: 'warn' } });
      const output = collect(child);
      afterFile('stopping the controller', () => child.kill('SIGKILL'));
      let printed = '';
      child.stdout!.on('data', (chunk: Buffer) => (printed += chunk.toString()));
      for (let waited = 0; waited < 30_000 && !/metrics at (\S+)/.test(printed); waited += 100) await sleep(100);
      const address = /metrics at (\S+)/.exec(printed)?.[1];
      expect(address, printed).toBeDefined();
      const response = await fetch(address!);
      expect(response.status).toBe(200);
      await checkExposition(await response.text());
      child.kill('SIGTERM');
      // the controller stops itself on SIGTERM: a clean stop, exit 0
      expect((await output).code).toBe(0);
    }, 60_000);
  });

  /** Parses the exposition and checks each promote_ series against the store. */
  async function checkExposition(text: string): Promise<void> {
    const samples = new Map<string, number>();
    for (const line of text.split('\n')) {
      if (line === '' || line.startsWith('#')) continue;
      const match = /^([a-z_][a-z0-9_]*(?:\{[^}]*\})?) (\S+)$/.exec(line);
      expect(match, line).not.toBeNull();
      samples.set(match![1]!, Number(match![2]));
    }
    const sample = (name: string) => samples.get(name);
    expect(sample('process_cpu_user_seconds_total')).toBeGreaterThan(0);
    const ended = await pool.query<{ environment: string; outcome: string; count: string }>(
      `select environment, data->>'to' as outcome, count(*) as count from promote.events where type = 'rollout.phase' and data->>'to' in ('Healthy', 'RolledBack') group by 1, 2`,
    );
    expect(ended.rows.length).toBe(3);
    for (const row of ended.rows) expect(sample(`promote_rollouts_total{app="shop",environment="${row.environment}",outcome="${row.outcome}"}`)).toBe(Number(row.count));
    expect(sample('promote_rollouts_total{app="shop",environment="production",outcome="Healthy"}')).toBe(3);
    expect(sample('promote_rollouts_total{app="shop",environment="production",outcome="RolledBack"}')).toBe(1);
    expect(sample(`promote_rollout_phase{app="shop",environment="production",rollout="${ids.back}",phase="Healthy"}`)).toBe(1);
    expect(sample(`promote_rollout_phase{app="shop",environment="production",rollout="${ids.back}",phase="Progressing"}`)).toBe(0);
    expect(sample(`promote_rollout_phase{app="shop",environment="staging",rollout="${ids['v2-staging']}",phase="Healthy"}`)).toBe(1);
    expect([...samples.keys()].filter((key) => key.startsWith('promote_rollout_phase{'))).toHaveLength(2 * 7);
    expect(sample('promote_analysis_outcomes_total{app="shop",environment="staging",template="errors",verdict="Successful"}')).toBe(2);
    expect(sample('promote_analysis_outcomes_total{app="shop",environment="staging",template="errors",verdict="Failed"}')).toBe(1);
    const steps = await pool.query<{ kind: string; count: string }>(
      `select r.plan->'steps'->((e.data->>'step')::int)->>'kind' as kind, count(*) as count from promote.events e join promote.rollouts r on r.id = e.rollout_id
        where e.type = 'step.completed' and r.environment = 'production' group by 1`,
    );
    expect(steps.rows.length).toBeGreaterThan(0);
    for (const row of steps.rows) expect(sample(`promote_rollout_step_duration_seconds_count{app="shop",environment="production",step_kind="${row.kind}"}`)).toBe(Number(row.count));
  }
});
