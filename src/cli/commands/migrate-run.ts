/**
 * `promote migrate plan|start|complete|rollback|status|history`: pgroll-format migrations run on the
 * app's database with two versions live between start and complete. The database is named with
 * --database, or --env picks it from promote.yaml; the schema and lock budget come from promote.yaml
 * when there is one.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { withAppDatabase } from '../../migrations/app-database.js';
import type pg from 'pg';
import { describeCause, ExitCode, redactSecrets, ReportedFailure, UsageError, wrapError } from '../../errors.js';
import { appendEvent } from '../../store/events.js';
import { runBackfill } from '../../migrations/backfill/backfill.js';
import { formatMigrationProblem, loadMigrationFileOrThrow } from '../../migrations/file.js';
import { completeMigration, finalizeMigration, planMigration, rollbackMigration, startMigration, undoMigration, type Backfiller } from '../../migrations/runner.js';
import { parseDuration } from '../../spec/duration.js';
import { listRuns, verifyRunChain, type MigrationRun } from '../../migrations/state.js';
import { DEFAULT_LOCK_BUDGET, type LockBudget } from '../../migrations/steps.js';
import { rehearseMigration } from '../../migrations/rehearse/rehearse.js';
import { formatRehearsal } from '../../migrations/rehearse/report.js';
import type { CliContext } from '../io.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { currentActor, findEnvironment, loadConfig } from '../spec.js';
import { withStore } from '../store.js';
import { migrateCommand } from './migrate-lint.js';

interface TargetOptions {
  database?: string;
  env?: string;
  schema?: string;
  json?: boolean;
  /** set by the commands that change the database: they open the state store to record what they did */
  audit?: boolean;
}

interface Target {
  pool: pg.Pool;
  schema: string;
  lockBudget: LockBudget;
  /** promote.yaml's migrations.undoWindow, in ms (24h without one) */
  undoWindowMs: number;
  /** appends to the app's audit trail; does nothing for a bare --database run outside any promote.yaml */
  trail: Trail;
}

type Trail = (type: string, data: Record<string, unknown>) => Promise<void>;

export function registerMigrateRun(program: Command, context: () => CliContext): void {
  const group = migrateCommand(program);
  const targetOptions = (command: Command) =>
    command
      .option('--database <url>', 'the app database (default: the database of --env in promote.yaml)')
      .option('--env <name>', 'take the database from this environment of promote.yaml')
      .option('--schema <name>', 'the schema the migrations change (default: migrations.schema of promote.yaml, else public)')
      .option('--json', 'print JSON');

  targetOptions(group.command('plan').description('show the SQL each phase of a migration would run on the database now, changing nothing').argument('<file>', 'a pgroll-format migration (YAML or JSON)')).action(
    async (file: string, options: TargetOptions) => {
      const ctx = context();
      const migration = await loadMigration(ctx, file);
      await onAppDatabase(ctx, options, async (target) => {
        const plan = await planMigration(migration, { pool: target.pool, schema: target.schema });
        if (options.json === true) return printJson(ctx.io, plan);
        printLine(ctx.io, `migration ${plan.name}: the new version reads and writes through schema ${plan.versionSchema}`);
        for (const [phase, steps] of [['start', plan.start], ['complete', plan.complete], ['rollback', plan.rollback]] as const) {
          printLine(ctx.io, `\n-- ${phase}${phase === 'start' && plan.backfillTables.length > 0 ? ` (then backfill ${plan.backfillTables.join(', ')})` : ''}`);
          for (const step of steps) printLine(ctx.io, `${step.sql};${step.outsideTransaction === true ? '  -- outside a transaction' : ''}`);
        }
        if (plan.approximate) printLine(ctx.io, '\n-- raw SQL runs in this migration: complete and the views are planned again after it runs');
      });
    },
  );

  targetOptions(
    group
      .command('rehearse')
      .description('run a migration on a scratch copy of the schema and report the locks each statement held, and for how long')
      .argument('<file>', 'a pgroll-format migration (YAML or JSON)'),
  )
    .option('--rows <n>', 'copy up to n rows per table, so the lock times mean something (default: 0, the schema only)', '0')
    .option('--rollback', 'also rehearse start then rollback, on a second copy')
    .option('--scratch-server <url>', 'a PostgreSQL server to make the scratch databases on (default: a throwaway embedded one)')
    .action(async (file: string, options: TargetOptions & { rows: string; rollback?: boolean; scratchServer?: string }) => {
      const ctx = context();
      const rows = Number(options.rows);
      if (!Number.isSafeInteger(rows) || rows < 0) throw new UsageError(`--rows ${options.rows}: expected a whole number of rows, 0 or more`);
      const migration = await loadMigration(ctx, file);
      await onAppDatabase(ctx, options, async (target) => {
        const rehearsal = await rehearseMigration(migration, {
          source: target.pool,
          schema: target.schema,
          rows,
          rollback: options.rollback === true,
          lockBudget: target.lockBudget,
          log: ctx.log,
          ...(options.scratchServer === undefined ? {} : { scratchAdminUrl: options.scratchServer }),
        });
        if (options.json === true) printJson(ctx.io, rehearsal);
        else ctx.io.stdout(formatRehearsal(rehearsal));
        // without rows the times are those of empty tables: nothing to fail on
        if (rows > 0 && rehearsal.overBudget > 0) throw new ReportedFailure(`${rehearsal.overBudget} statement(s) over the lock budget`, ExitCode.failed);
      });
    });

  targetOptions(group.command('start').description('expand: apply a migration so the old and the new version both work, then backfill').argument('<file>', 'a pgroll-format migration (YAML or JSON)'))
    .option('--complete', 'complete right after start (for a database no old version uses)')
    .action(async (file: string, options: TargetOptions & { complete?: boolean }) => {
      const ctx = context();
      const migration = await loadMigration(ctx, file);
      await onAppDatabase(ctx, { ...options, audit: true }, async (target) => {
        const outcome = await audited(target, 'start', () => startMigration(migration, { ...target, backfill: cliBackfill(ctx, options.json === true, target.trail) }), (started) => ['migration.started', { migration: started.run.name, versionSchema: started.versionSchema, resumed: started.resumed }]);
        const completed = options.complete === true ? await audited(target, 'complete', () => completeMigration(target), (run) => ['migration.completed', { migration: run.name }]) : undefined;
        if (options.json === true) return printJson(ctx.io, { name: outcome.run.name, versionSchema: outcome.versionSchema, resumed: outcome.resumed, phase: completed?.phase ?? 'started' });
        printLine(ctx.io, `${outcome.resumed ? 'resumed' : 'started'} ${outcome.run.name}: the new version uses search_path ${outcome.versionSchema}`);
        if (completed !== undefined) printLine(ctx.io, `completed ${completed.name}`);
        else printLine(ctx.io, 'when no old version is left: promote migrate complete; to undo: promote migrate rollback');
      });
    });

  targetOptions(group.command('complete').description('contract: remove what only the old version needed from the migration in flight'))
    .option('--skip-integrity-gate', 'complete even if changed columns differ from up(old) (the gate refuses by default)')
    .option('--undo-window <duration>', 'keep what contract removes aside this long, so promote migrate undo can bring it back (default: migrations.undoWindow of promote.yaml, else 24h; 0s: drop at once)')
    .action(async (options: TargetOptions & { skipIntegrityGate?: boolean; undoWindow?: string }) => {
      const ctx = context();
      const undoWindowMs = options.undoWindow === undefined ? undefined : parseDuration(options.undoWindow);
      await onAppDatabase(ctx, { ...options, audit: true }, async (target) => {
        const integrityGate = options.skipIntegrityGate !== true;
        const run = await audited(target, 'complete', () => completeMigration({ ...target, integrityGate, undoWindowMs: undoWindowMs ?? target.undoWindowMs }), (done) => [
          'migration.completed',
          { migration: done.name, integrityGate, undoUntil: done.undoUntil?.toISOString() ?? null },
        ]);
        if (options.json === true) return printJson(ctx.io, { name: run.name, phase: run.phase, gate: run.gate ?? null, undoUntil: run.undoUntil?.toISOString() ?? null, undoUnavailable: run.undoUnavailable ?? null });
        if (run.gate !== undefined) {
          const rows = run.gate.checked.reduce((sum, column) => sum + column.rows, 0);
          printLine(ctx.io, `integrity gate: ${run.gate.checked.length} changed column(s) equal to up(old) over ${rows} row(s)`);
          for (const skipped of run.gate.skipped) printLine(ctx.io, `  not checked: ${skipped.table}.${skipped.column} (${skipped.reason})`);
        }
        printLine(ctx.io, `completed ${run.name}`);
        if (run.undoUntil !== null) printLine(ctx.io, `what it removed is kept aside until ${formatTime(run.undoUntil)}: promote migrate undo brings the old version back until then`);
        else if (run.undoUnavailable !== undefined) printLine(ctx.io, `it cannot be undone: ${run.undoUnavailable}`);
      });
    });

  targetOptions(group.command('undo').description('undo the complete of the latest migration while its undo window is open: both versions work again, as after start')).action(async (options: TargetOptions) => {
    const ctx = context();
    await onAppDatabase(ctx, { ...options, audit: true }, async (target) => {
      const run = await audited(target, 'undo', () => undoMigration(target), (undone) => ['migration.undone', { migration: undone.name, versionSchema: undone.versionSchema }]);
      if (options.json === true) return printJson(ctx.io, { name: run.name, phase: run.phase, versionSchema: run.versionSchema });
      printLine(ctx.io, `undid the complete of ${run.name}: the old and the new version (search_path ${run.versionSchema}) both work again`);
      printLine(ctx.io, 'next: promote migrate rollback to go back to the old version, or promote migrate complete');
    });
  });

  targetOptions(group.command('finalize').description("end the latest migration's undo window now: drop the columns and tables its complete kept aside")).action(async (options: TargetOptions) => {
    const ctx = context();
    await onAppDatabase(ctx, { ...options, audit: true }, async (target) => {
      const run = await audited(target, 'finalize', () => finalizeMigration(target), (finalized) => ['migration.finalized', { migration: finalized?.name ?? null }]);
      if (options.json === true) return printJson(ctx.io, run === undefined ? { name: null } : { name: run.name, phase: run.phase });
      printLine(ctx.io, run === undefined ? 'nothing kept aside: no migration can be undone' : `finalized ${run.name}: what its complete kept aside is dropped`);
    });
  });

  targetOptions(group.command('rollback').description('undo the migration in flight: drop the new version schema and everything start added')).action(async (options: TargetOptions) => {
    const ctx = context();
    await onAppDatabase(ctx, { ...options, audit: true }, async (target) => {
      const run = await audited(target, 'rollback', () => rollbackMigration(target), (rolledBack) => ['migration.rolled_back', { migration: rolledBack.name }]);
      if (options.json === true) return printJson(ctx.io, { name: run.name, phase: run.phase });
      printLine(ctx.io, `rolled back ${run.name}`);
    });
  });

  targetOptions(group.command('status').description('the migration in flight, or the last one applied')).action(async (options: TargetOptions) => {
    const ctx = context();
    await onAppDatabase(ctx, options, async (target) => {
      const runs = await listRuns(target.pool, target.schema);
      const latest = runs.findLast((run) => run.phase !== 'rolled_back') ?? runs.at(-1);
      if (options.json === true) return printJson(ctx.io, latest === undefined ? { schema: target.schema, migration: null } : { schema: target.schema, migration: summary(latest) });
      if (latest === undefined) return printLine(ctx.io, `no migration has run on schema ${target.schema}`);
      printLine(ctx.io, `${latest.name}: ${latest.phase.replace('_', ' ')}${latest.phase === 'started' && !latest.backfilled ? ' (backfill unfinished: run start again to resume it)' : ''}`);
      printLine(ctx.io, `version schema ${latest.versionSchema}, checksum ${latest.checksum.slice(0, 12)}, started ${formatTime(latest.startedAt)}`);
    });
  });

  targetOptions(group.command('history').description('every migration run on the schema, oldest first')).action(async (options: TargetOptions) => {
    const ctx = context();
    await onAppDatabase(ctx, options, async (target) => {
      const runs = await listRuns(target.pool, target.schema);
      if (options.json === true) return printJson(ctx.io, runs.map(summary));
      if (runs.length === 0) return printLine(ctx.io, `no migration has run on schema ${target.schema}`);
      printTable(ctx.io, runs, [
        { header: 'NAME', value: (run) => run.name },
        { header: 'PHASE', value: (run) => run.phase },
        { header: 'CHECKSUM', value: (run) => run.checksum.slice(0, 12) },
        { header: 'STARTED', value: (run) => formatTime(run.startedAt) },
        { header: 'ENDED', value: (run) => { const ended = run.completedAt ?? run.rolledBackAt; return ended === null ? '' : formatTime(ended); } },
      ]);
      const chain = await verifyRunChain(target.pool, target.schema);
      if (chain.ok) return printLine(ctx.io, `\nchain of ${chain.runs} run(s) intact, head ${chain.head.slice(0, 12)}`);
      printLine(ctx.io, `\nchain broken at run ${chain.index + 1} (${chain.name}): ${chain.reason}`);
      throw new ReportedFailure('the migration history chain is broken', ExitCode.failed);
    });
  });
}

function summary(run: MigrationRun) {
  return {
    name: run.name,
    phase: run.phase,
    versionSchema: run.versionSchema,
    checksum: run.checksum,
    backfilled: run.backfilled,
    startedAt: run.startedAt.toISOString(),
    completedAt: run.completedAt?.toISOString() ?? null,
    rolledBackAt: run.rolledBackAt?.toISOString() ?? null,
    error: run.error,
    undoUntil: run.undoUntil?.toISOString() ?? null,
    previousHash: run.previousHash,
    chainHash: run.chainHash,
  };
}

async function loadMigration(ctx: CliContext, file: string) {
  const { migration, warnings } = await loadMigrationFileOrThrow(resolve(ctx.io.cwd, file));
  for (const warning of warnings) ctx.io.stderr(`${formatMigrationProblem(warning)}\n`);
  return migration;
}

/** Backfill progress on stderr, as one line rewritten in a terminal and a line per 10% otherwise. */
function cliBackfill(ctx: CliContext, quiet: boolean, trail: Trail): Backfiller {
  return async (pool, table) => {
    let shownDecile = -1;
    const what = { table: `${table.schema}.${table.table}` };
    await trail('backfill.started', what);
    const report = await runBackfill(pool, table, {
      onProgress: (progress) => {
        if (quiet) return;
        const share = progress.rowsTotal > 0 ? Math.min(1, progress.rowsDone / progress.rowsTotal) : 1;
        const line = `backfill ${progress.table}: ${progress.rowsDone}/${progress.rowsTotal} rows ${bar(share)} ${Math.round(progress.rowsPerSecond)} rows/s${progress.etaSeconds === undefined ? '' : `, ${Math.ceil(progress.etaSeconds)}s left`}${progress.throttledBy === undefined ? '' : ` (throttled: ${progress.throttledBy})`}`;
        if (ctx.io.interactive) ctx.io.stderr(`\r${line}`);
        else if (Math.floor(share * 10) > shownDecile) {
          shownDecile = Math.floor(share * 10);
          ctx.io.stderr(`${line}\n`);
        }
      },
    });
    if (!quiet && ctx.io.interactive) ctx.io.stderr('\n');
    await trail('backfill.finished', { ...what, rows: report.rowsVisited, done: report.done, seconds: Math.round(report.elapsedMs / 100) / 10 });
  };
}

/**
 * Runs one state-changing step and records it in the app's audit trail: the step commits on the app's
 * database, the event in the state store, so they cannot share a transaction; the event follows the
 * step, and a step that fails is recorded as failed. An event that cannot be recorded after a step
 * that succeeded fails the command, saying the step is done and the trail lacks it.
 */
async function audited<T>(target: Target, command: string, step: () => Promise<T>, event: (result: T) => [string, Record<string, unknown>]): Promise<T> {
  let result: T;
  try {
    result = await step();
  } catch (error) {
    await target.trail('migration.command_failed', { command, error: redactSecrets(describeCause(error)).slice(0, 2000) }).catch(() => undefined);
    throw error;
  }
  const [type, data] = event(result);
  try {
    await target.trail(type, data);
  } catch (error) {
    throw wrapError(`promote migrate ${command} is done on the database, but recording it (${type}) in the audit trail failed`, error);
  }
  return result;
}

function bar(share: number): string {
  const filled = Math.round(share * 20);
  return `[${'#'.repeat(filled)}${'.'.repeat(20 - filled)}]`;
}

async function onAppDatabase<T>(ctx: CliContext, options: TargetOptions, work: (target: Target) => Promise<T>): Promise<T> {
  const configPath = resolve(ctx.io.cwd, ctx.globals.config);
  const config = existsSync(configPath) ? await loadConfig(ctx) : undefined;
  let url = options.database;
  if (url === undefined && options.env !== undefined) {
    if (config === undefined) throw new UsageError(`--env ${options.env} needs promote.yaml (looked for ${configPath}); or name the database with --database`);
    url = findEnvironment(config.spec, options.env).database;
  }
  if (url === undefined || url === '') throw new UsageError('which database? name it with --database <url>, or --env <name> to take it from promote.yaml');
  const schema = options.schema ?? config?.spec.migrations.schema ?? 'public';
  const lockTimeoutMs = config?.spec.migrations.lockTimeout ?? DEFAULT_LOCK_BUDGET.lockTimeoutMs;
  const onDatabase = (trail: Trail) =>
    withAppDatabase(
      url,
      'connecting to the app database',
      (pool) =>
        work({ pool, schema, lockBudget: { ...DEFAULT_LOCK_BUDGET, lockTimeoutMs }, undoWindowMs: config?.spec.migrations.undoWindow ?? parseDuration('24h'), trail }),
      (error) => ctx.log.warn({ err: error }, 'an idle connection to the app database failed'),
    );
  // without promote.yaml there is no app, so no trail to write to: the database's own run chain records it
  if (config === undefined || !options.audit) return onDatabase(() => Promise.resolve());
  const app = config.spec.app.name;
  const actor = currentActor(ctx);
  // the database as the trail names it: the environment, or the URL without its password
  const database = options.env ?? redactSecrets(url);
  return withStore(ctx, (store) =>
    onDatabase(async (type, data) => {
      await appendEvent(store.pool, { type, actor, app, environment: options.env ?? null, data: { ...data, database, schema, via: 'cli' } });
    }),
  );
}

