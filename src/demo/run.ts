/**
 * `promote demo`: the whole promise on the embedded default. The orders service 1.0.0 serves
 * production behind the router under steady load; 2.0.0 moves money from dollars to cents with a
 * migration and goes through staging, then production (expand and backfill, tests, canary steps with
 * analysis, a flag ramp, a reconciliation at the release gate, promotion, contract); then 3.0.0 ships
 * a regression, which the canary's analysis catches and rolls back by itself. It ends with a summary
 * drawn from what was recorded.
 */
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describeStep, planRollout, type PlannedStep } from '../engine/plan.js';
import { PromoteError } from '../errors.js';
import type { ReconcileReport } from '../integrity/types.js';
import { backfillProgress } from '../migrations/backfill/progress.js';
import { loadSpecOrThrow, type PromoteSpec } from '../spec/index.js';
import { demoApi, ENDED_PHASES, type DemoApi, type RolloutView } from './api.js';
import { startLoad, type Load } from './load.js';
import { RECEIPTS_FLAG } from './orders-service.js';
import { AMOUNTS_MIGRATION } from './schema.js';
import { startDemoStack, type DemoEnvironment, type DemoStack } from './stack.js';
import { formatSummary, regressionTiming, type BackfillFigure, type DemoSummary, type RolloutOutcome } from './summary.js';
import { createTerminalView, type TerminalView } from './view.js';

// until contract renames it, the cents 2.0.0 reads live in the column expand added beside the dollars
const NEW_CENTS_COLUMN = '_promote_new_total_cents';
const CLI = fileURLToPath(new URL('../cli/main.js', import.meta.url));

export interface DemoOptions {
  /** short waits and a smaller database: the whole story in under two minutes */
  fast?: boolean;
  /** leave everything running after the summary until `untilStopped` resolves */
  keep?: boolean;
  untilStopped?: () => Promise<void>;
  /** the load's simulated users and requests per second */
  users?: number;
  rate?: number;
  /** how long the canary holds at 50% before its second analysis (a duration like 30s) */
  pause?: string;
  /** the release gate holds the canary at 50% until production served this many requests since 2.0.0's rollout began */
  gateRequests?: number;
  /** orders in the production database before the migration */
  seedOrders?: number;
  seed?: number;
  /** also write the summary as JSON here */
  jsonFile?: string;
  /** where the scratch folder goes */
  parent?: string;
  write: (text: string) => void;
  interactive: boolean;
  /** aborted by Ctrl-C: everything stops and is removed */
  signal?: AbortSignal;
}

interface Story {
  stack: DemoStack;
  api: DemoApi;
  spec: PromoteSpec;
  view: TerminalView;
  load?: Load;
  signal: AbortSignal | undefined;
  rollouts: RolloutOutcome[];
  backfill: BackfillFigure[];
  reconcile?: DemoSummary['reconcile'];
}

export async function runDemo(options: DemoOptions): Promise<DemoSummary> {
  const started = Date.now();
  const fast = options.fast ?? false;
  const view = createTerminalView(options.write, options.interactive);
  const pace = { ...(fast ? { pause: '2s', interval: '1s', window: '4s' } : { pause: '15s', interval: '3s', window: '10s' }), ...(options.pause === undefined ? {} : { pause: options.pause }) };
  const stack = await startDemoStack({ seedOrders: options.seedOrders ?? (fast ? 5_000 : 50_000), pace, say: (line) => view.log(`· ${line}`), ...(options.parent ? { parent: options.parent } : {}) });
  const story: Story = { stack, api: demoApi(stack.apiUrl), spec: await loadSpecOrThrow(join(stack.folder, 'promote.yaml'), { ...process.env, ...stack.env }), view, signal: options.signal, rollouts: [], backfill: [] };
  try {
    const baseline = fast ? 3_000 : 15_000;
    view.log('\n1.0.0, amounts in dollars: the first release, to staging and then production');
    await createReleases(story, ['1.0.0']);
    await rollOut(story, 'staging', '1.0.0', 'Healthy');
    await rollOut(story, 'production', '1.0.0', 'Healthy');
    // the canary plan's flag ramp ran for 1.0.0 too, which never reads the flag: switch it off so the
    // 2.0.0 ramp is the one that releases itemized receipts
    await story.api.disableFlag(story.spec.app.name, 'production', RECEIPTS_FLAG, 'itemized receipts come with 2.0.0: its rollout ramps the flag');
    story.load = startLoad({ baseUrl: stack.routerUrl.production, users: options.users ?? 40, rate: options.rate ?? 150, seed: options.seed ?? 20261123, phase: 'warm-up' });
    view.log(`· steady load on production: ${options.users ?? 40} users, ${options.rate ?? 150} requests/s of reads and writes, every acknowledged order kept in a ledger`);
    // connections and JIT warm up first, so the phase the others are compared with is the steady one
    await wait(story, 2_000);
    story.load.phase('1.0.0 serving');
    await wait(story, baseline);

    view.log(`\n2.0.0, amounts in integer cents: migration ${AMOUNTS_MIGRATION} ships with it`);
    await stack.addMigration(AMOUNTS_MIGRATION);
    await createReleases(story, ['2.0.0']);
    await rollOut(story, 'staging', '2.0.0', 'Healthy');
    const promotionStart = story.load.report().total.requests;
    await rollOut(story, 'production', '2.0.0', 'Healthy', async () => {
      // the backfill's cursors stay until contract: read its figures while both shapes exist
      await recordBackfill(story, 'production');
      await holdUntilServed(story, promotionStart + (options.gateRequests ?? 0));
      await reconcileAtGate(story);
    });
    await wait(story, baseline);

    view.log('\n3.0.0 has a regression that tests on fresh data miss: one in five reads of an older order fails');
    await createReleases(story, ['3.0.0']);
    await rollOut(story, 'staging', '3.0.0', 'Healthy');
    const bad = await rollOut(story, 'production', '3.0.0', 'RolledBack');
    await wait(story, fast ? 2_000 : 5_000);

    const load = await story.load.stop();
    const ledger = await story.load.verifyLedger(stack.databases.production.pool);
    view.clear();
    const events = await story.api.events(bad.id);
    const measurements = await story.api.measurements(bad.id);
    const summary: DemoSummary = {
      fast,
      durationMs: Date.now() - started,
      rollouts: story.rollouts,
      load,
      ledger,
      backfill: story.backfill,
      reconcile: story.reconcile,
      regression: regressionTiming('3.0.0', events, measurements),
      urls: { api: stack.apiUrl, production: stack.routerUrl.production, staging: stack.routerUrl.staging },
      folder: stack.folder,
    };
    for (const line of formatSummary(summary)) options.write(`${line}\n`);
    if (options.jsonFile !== undefined) await writeFile(options.jsonFile, `${JSON.stringify(summary, null, 2)}\n`);
    if (options.keep) {
      const promoteCommand = `node ${CLI}`;
      options.write(
        [
          '',
          `Everything keeps running (--keep). Open the dashboard at ${stack.apiUrl}/, or in another terminal try:`,
          `  curl -s -H 'x-user-id: user-1' '${stack.routerUrl.production}/orders?user=user-1&limit=3'`,
          `  cd ${stack.folder} && set -a && . ./demo.env && set +a`,
          `  ${promoteCommand} status --env production`,
          `  ${promoteCommand} explain ${bad.id}          # why 3.0.0 was rolled back, with the measurements`,
          `  ${promoteCommand} flags list --env production`,
          'Press Ctrl-C here to stop everything.',
          '',
        ].join('\n'),
      );
      await options.untilStopped?.();
    }
    return summary;
  } finally {
    view.clear();
    await story.load?.stop().catch(() => undefined);
    options.write('· stopping the app instances, promote server and PostgreSQL\n');
    await stack.stop(['1.0.0', '2.0.0', '3.0.0']);
  }
}

/** `promote release create` for each version, as a CI job would after building it. */
async function createReleases(story: Story, versions: readonly string[]): Promise<void> {
  for (const version of versions) {
    const artifact = join(story.stack.folder, `orders-${version}.tgz`);
    await writeFile(artifact, `orders ${version}\n`);
    const output = await runPromote(story, ['release', 'create', version, '--artifact', artifact]);
    story.view.log(`$ promote release create ${version} --artifact orders-${version}.tgz\n  ${output.trim()}`);
  }
}

/** Runs the promote CLI in the demo's folder, as a person would; its output, or an error naming the command. */
async function runPromote(story: Story, args: readonly string[]): Promise<string> {
  const child = spawn(process.execPath, [CLI, ...args], { cwd: story.stack.folder, env: { ...process.env, PROMOTE_LOG_LEVEL: 'warn', ...story.stack.env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new PromoteError(`promote ${args[0] ?? ''} ${args[1] ?? ''} exited with code ${code}: ${stderr.trim() || stdout.trim()}`);
  return stdout;
}

async function wait(story: Story, ms: number): Promise<void> {
  await sleep(ms, undefined, story.signal ? { signal: story.signal } : {});
}

/**
 * Deploys a version and follows its rollout to the end, drawing the live view and naming the load's
 * phases after where production's rollout is. At a pause that waits for a person, `atGate` runs and
 * the rollout is resumed.
 */
async function rollOut(story: Story, environment: DemoEnvironment, version: string, expected: 'Healthy' | 'RolledBack', atGate?: () => Promise<void>): Promise<RolloutView> {
  const { api, view } = story;
  const plan = planRollout(story.spec, environment);
  const startedAt = Date.now();
  let rollout = await api.deploy(environment, version);
  view.log(`$ promote deploy ${version} --env ${environment}   (rollout #${rollout.id}, ${plan.strategy}: ${plan.steps.length} steps)`);
  let lastRequests = story.load?.report().total.requests ?? 0;
  let lastTick = Date.now();
  let rate = 0;
  let gateRunAt = -1;
  let peakWeight = 0;
  for (;;) {
    await wait(story, 250);
    rollout = await api.rollout(rollout.id);
    const step = plan.steps[rollout.currentStep];
    peakWeight = Math.max(peakWeight, rollout.weights[version] ?? 0);
    const ended = (ENDED_PHASES as readonly string[]).includes(rollout.phase);
    if (environment === 'production' && story.load !== undefined) {
      const phase = ended ? `${rollout.phase === 'Healthy' ? version : Object.keys(rollout.weights).find((each) => each !== version) ?? version} serving` : stageOf(version, step, rollout.weights[version] ?? 0, peakWeight);
      if (phase !== story.load.currentPhase) story.load.phase(phase);
    }
    const report = story.load?.report();
    if (report !== undefined) {
      const now = Date.now();
      rate = ((report.total.requests - lastRequests) * 1000) / Math.max(1, now - lastTick);
      [lastRequests, lastTick] = [report.total.requests, now];
    }
    const migrating = step?.kind === 'migrate' && step.phase === 'expand';
    const backfill = migrating ? await tablesBackfilled(story, environment) : undefined;
    view.status({
      title: `${version} → ${environment}`,
      phase: rollout.phase,
      step: step ? `${rollout.currentStep + 1}/${plan.steps.length} ${describeStep(step)}` : 'done',
      weights: rollout.weights,
      reason: rollout.phaseReason,
      ...(report === undefined ? {} : { load: { rate, requests: report.total.requests, failed: report.total.failed, p99: report.phases.at(-1)?.latencyMs.p99 ?? 0 } }),
      ...(backfill === undefined ? {} : { backfill }),
    });
    if (ended) break;
    if (rollout.phase === 'Paused' && step?.kind === 'pause' && step.duration === undefined && gateRunAt !== rollout.currentStep) {
      gateRunAt = rollout.currentStep;
      await atGate?.();
      await api.resume(environment, atGate ? 'demo: the reconciliation at the gate found the two shapes equal' : 'demo: first release');
      view.log(`$ promote resume --env ${environment}`);
    }
  }
  const outcome: RolloutOutcome = { id: rollout.id, environment, version, phase: rollout.phase, reason: rollout.phaseReason ?? '', durationMs: Date.now() - startedAt };
  story.rollouts.push(outcome);
  view.log(`  rollout #${rollout.id}: ${rollout.phase} (${rollout.phaseReason ?? ''}) after ${((Date.now() - startedAt) / 1000).toFixed(1)} s`);
  if (rollout.phase !== expected) {
    // the rest of the story builds on this outcome, so it ends here, saying why
    throw new PromoteError(`the demo did not go as planned: ${version} → ${environment} ended ${rollout.phase}, not ${expected}: ${rollout.phaseReason ?? ''}`, {
      hint: `the evidence is in the rollout's record (promote explain ${rollout.id}); on a machine busy with other work, analysis can judge a healthy canary slower than stable: try again, or lower the load with --rate`,
    });
  }
  return rollout;
}

/** The load's phase name for where a production rollout is. */
function stageOf(version: string, step: PlannedStep | undefined, weight: number, peakWeight: number): string {
  if (step?.kind === 'migrate') return `${version} ${step.phase === 'expand' ? 'expand + backfill' : 'contract'}`;
  if (weight < peakWeight && weight === 0) return `${version} rolled back`;
  if (weight === 0) return `${version} tests`;
  if (weight === 100) return `${version} promoted`;
  return `${version} canary ${weight}%`;
}

async function tablesBackfilled(story: Story, environment: DemoEnvironment): Promise<Array<{ table: string; done: number; total: number }>> {
  const rows = await backfillProgress(story.stack.databases[environment].pool, AMOUNTS_MIGRATION).catch(() => []);
  return rows.map((row) => ({ table: row.table, done: row.rowsDone, total: Math.max(row.rowsTotal, row.rowsDone) }));
}

async function recordBackfill(story: Story, environment: DemoEnvironment): Promise<void> {
  const rows = await backfillProgress(story.stack.databases[environment].pool, AMOUNTS_MIGRATION).catch(() => []);
  for (const row of rows) story.backfill.push({ table: row.table, rows: row.rowsDone, durationMs: row.updatedAt.getTime() - row.startedAt.getTime() });
}

async function holdUntilServed(story: Story, requests: number): Promise<void> {
  const served = () => story.load?.report().total.requests ?? 0;
  if (served() >= requests) return;
  story.view.log(`· holding at the gate until production has served ${requests - served()} more requests`);
  while (served() < requests) await wait(story, 500);
}

/**
 * The release manager's gate: before anything is promoted, every order's dollars, translated to
 * cents, must equal the cents 2.0.0 reads, proven by reconciliation (chunked checksums, bisection).
 */
async function reconcileAtGate(story: Story): Promise<void> {
  const args = [
    'reconcile',
    '--source', 'env:production',
    '--source-query', `select id, status, round(total * 100)::bigint as ${NEW_CENTS_COLUMN} from public.orders`,
    '--target', 'env:production',
    '--target-table', 'public.orders',
    '--columns', `status,${NEW_CENTS_COLUMN}`,
  ];
  const command = `promote ${args.map((arg) => (arg.includes(' ') ? `"${arg}"` : arg)).join(' ')}`;
  story.view.log(`$ ${command}`);
  const output = await runPromote(story, [...args, '--json']).catch((error: unknown) => {
    throw new PromoteError(`the reconciliation at the gate failed: ${error instanceof Error ? error.message : String(error)}`);
  });
  const report = JSON.parse(output) as ReconcileReport;
  const equal = report.equal;
  const differing = Object.entries(report.counts).filter(([, count]) => count > 0);
  const detail = `${report.source.rows} orders in dollars against ${report.target.rows} in cents, ${report.chunks} chunk checksums (${report.hash}) in one snapshot, ${
    differing.length === 0 ? 'no row missing, extra or different' : differing.map(([kind, count]) => `${count} ${kind}`).join(', ')
  } (${report.elapsedMs} ms)`;
  story.reconcile = { command, equal, detail };
  story.view.log(`  ${detail}`);
  if (!equal) throw new PromoteError(`the reconciliation at the gate found differences between dollars and cents: ${detail}`);
}
