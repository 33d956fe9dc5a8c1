/**
 * Runs one migration through its phases on the app's database: start (expand, then views for the new
 * version, then the backfill), complete (contract), rollback. Every phase is recorded before it acts,
 * and complete and rollback are idempotent, so a migrator killed at any instant is followed by one
 * that finishes the phase; a start that fails is rolled back before the error is reported.
 */
import type pg from 'pg';
import { PromoteError, describeCause, wrapError } from '../errors.js';
import { forgetBackfill, runBackfill } from './backfill/backfill.js';
import { migrationChecksum } from './checksum.js';
import { switchSchedule } from './complete-schedule.js';
import type { Migration } from './file.js';
import { describeDifferences, integrityGate, type GateReport } from './integrity-gate.js';
import { readSchema } from './introspect.js';
import { versionSchemaName } from './names.js';
import type { Operation } from './operations.js';
import { handlerFor } from './ops/index.js';
import { OperationError, type PhaseContext, type Step } from './ops/types.js';
import { ensureState, inFlightRun, insertRun, keptRun, lastCompletedRun, takeMigratorLock, updateRun, type MigrationRun, type RunMember } from './state.js';
import { DEFAULT_LOCK_BUDGET, runSteps, type LockBudget, type StepEvents } from './steps.js';
import { finalizeSteps, keepAsideSteps, keptObjects, undoRefusal, undoSteps, windowTriggerSteps } from './undo.js';
import { createVersionSchemaSteps, dropVersionSchemaStep } from './views.js';
import { cloneSchema, MissingObjectError, requireTable, type VirtualSchema } from './virtual-schema.js';

export interface BackfillTable {
  migration: string;
  schema: string;
  /** physical name */
  table: string;
  /** physical names of the primary key's columns */
  primaryKey: string[];
}

export type Backfiller = (pool: pg.Pool, table: BackfillTable) => Promise<unknown>;

export interface MigratorOptions {
  pool: pg.Pool;
  /** the app's schema; pgroll's default */
  schema?: string;
  lockBudget?: LockBudget;
  /** visits the existing rows of a table so its triggers fill the new columns (default: runBackfill) */
  backfill?: Backfiller;
  events?: StepEvents;
}

export interface StartOutcome {
  run: MigrationRun;
  /** the schema a client of the new version puts first on its search_path */
  versionSchema: string;
  /** the backfill of an earlier, interrupted start was resumed instead of starting anew */
  resumed: boolean;
}

/**
 * Starts one migration, or a release's several as one (`members`): their operations run in order
 * against one virtual schema and share one version schema, so they are in flight together and
 * complete or roll back together. The run is named after the last of them.
 */
export async function startMigration(migration: Migration, options: MigratorOptions & { members?: RunMember[] }): Promise<StartOutcome> {
  const schema = options.schema ?? 'public';
  return withMigrator(options.pool, schema, async () => {
    await ensureState(options.pool);
    const inFlight = await inFlightRun(options.pool, schema);
    if (inFlight !== undefined) {
      if (inFlight.name === migration.name && inFlight.phase === 'started') {
        if (inFlight.checksum !== migrationChecksum(migration)) {
          throw new PromoteError(`migration "${migration.name}" is in flight with checksum ${inFlight.checksum}, but the file now has ${migrationChecksum(migration)}: it was edited after it started`, {
            hint: 'roll it back (promote migrate rollback) before starting the edited file',
          });
        }
        if (!inFlight.backfilled) await backfillRun(inFlight, options);
        return { run: { ...inFlight, backfilled: true }, versionSchema: inFlight.versionSchema, resumed: !inFlight.backfilled };
      }
      throw inFlightError(inFlight, `start "${migration.name}"`);
    }
    // a new migration ends the undo window of the one before: it must not plan against kept columns
    await finalizeRun(options, schema);
    const { versionSchema, before, after: planned, plans, backfillTables } = await planStart(migration, options.pool, schema);
    let after = planned;
    const checksum = migrationChecksum(migration);
    const members = options.members ?? [{ name: migration.name, checksum }];
    let run = await insertRun(options.pool, { schema, name: migration.name, versionSchema, checksum, operations: migration.operations, members, before, after, backfillTables });
    try {
      for (const plan of plans) {
        await runSteps(options.pool, plan.steps, options.lockBudget ?? DEFAULT_LOCK_BUDGET, options.events);
        if (plan.refreshSchema) after = await readSchema(options.pool, schema);
      }
      if (plans.some((plan) => plan.refreshSchema)) await updateRun(options.pool, run.id, { after });
      await runSteps(options.pool, createVersionSchemaSteps(after, versionSchema), options.lockBudget ?? DEFAULT_LOCK_BUDGET, options.events);
      await updateRun(options.pool, run.id, { phase: 'started' });
      run = { ...run, after, phase: 'started' };
    } catch (error) {
      await undoStart(run, options, error);
    }
    await backfillRun(run, options);
    return { run: { ...run, backfilled: true }, versionSchema, resumed: false };
  });
}

interface StartPlanning {
  versionSchema: string;
  before: VirtualSchema;
  after: VirtualSchema;
  plans: { steps: Step[]; refreshSchema: boolean }[];
  backfillTables: string[];
}

/** Plans every operation's start against the schema as it is, without changing anything. */
async function planStart(migration: Migration, pool: pg.Pool, schema: string): Promise<StartPlanning> {
  const versionSchema = versionSchemaName(schema, migration.versionSchema ?? migration.name);
  const before = await readSchema(pool, schema);
  const after = cloneSchema(before);
  const plans: StartPlanning['plans'] = [];
  const backfillTables = new Set<string>();
  for (const [index, operation] of migration.operations.entries()) {
    const plan = await describeOperation(migration, index, operation, () => handlerFor(operation.kind).start(bodyOf(operation), { schema: after, versionSchema, db: pool }));
    plans.push({ steps: plan.steps, refreshSchema: plan.refreshSchema === true });
    for (const table of plan.backfill ?? []) backfillTables.add(table);
  }
  return { versionSchema, before, after, plans, backfillTables: [...backfillTables] };
}

export interface MigrationPlan {
  name: string;
  versionSchema: string;
  /** the SQL start runs, operation by operation, then the new version's views */
  start: Step[];
  backfillTables: string[];
  /** the SQL complete runs, in its order: validations, then each table's switch as one statement list (complete-schedule.ts) */
  complete: Step[];
  /** the SQL rollback runs, in its order: the version schema, then each table's switch (complete-schedule.ts) */
  rollback: Step[];
  /** raw SQL changes the schema in ways the plan cannot follow: complete and the views are read again after it runs */
  approximate: boolean;
}

/** What each phase of the migration would run on this database now, for `promote migrate plan`. */
export async function planMigration(migration: Migration, options: { pool: pg.Pool; schema?: string }): Promise<MigrationPlan> {
  const schema = options.schema ?? 'public';
  const planned = await planStart(migration, options.pool, schema);
  const context: PhaseContext = { before: planned.before, after: cloneSchema(planned.after), versionSchema: planned.versionSchema };
  const complete: Step[] = [];
  for (const [index, operation] of migration.operations.entries()) {
    complete.push(...(await describeOperation(migration, index, operation, () => handlerFor(operation.kind).complete(bodyOf(operation), context))).steps);
  }
  const rollbackContext: PhaseContext = { before: planned.before, after: planned.after, versionSchema: planned.versionSchema };
  const rollback: Step[] = [dropVersionSchemaStep(planned.versionSchema), ...(await rollbackSteps(migration, rollbackContext))];
  return {
    name: migration.name,
    versionSchema: planned.versionSchema,
    start: [...planned.plans.flatMap((plan) => plan.steps), ...createVersionSchemaSteps(planned.after, planned.versionSchema)],
    backfillTables: planned.backfillTables,
    complete: switchSchedule(complete),
    rollback,
    approximate: planned.plans.some((plan) => plan.refreshSchema),
  };
}

export interface CompleteOptions extends Omit<MigratorOptions, 'backfill'> {
  integrityGate?: boolean;
  /**
   * how long, in ms, the complete can be undone (undo.ts): what the contract would drop is kept aside
   * until then. 0 (the default here; promote.yaml's default is 24h) is pgroll's plain contract.
   */
  undoWindowMs?: number;
}

/**
 * Completes the migration in flight: the old version's shape is removed and the new one is the only
 * one. With an undo window, what it removes is kept aside (phase `undoable`) until the window ends;
 * `undoUnavailable` says why not when the run's operations cannot be undone.
 */
export async function completeMigration(options: CompleteOptions): Promise<MigrationRun & { gate?: GateReport; undoUnavailable?: string }> {
  const schema = options.schema ?? 'public';
  return withMigrator(options.pool, schema, async () => {
    const run = await requireInFlight(options.pool, schema, 'complete');
    if (run.phase !== 'started' && run.phase !== 'completing') throw inFlightError(run, 'complete it');
    if (!run.backfilled) {
      throw new PromoteError(`migration "${run.name}" cannot complete: its backfill has not finished, so some rows lack the new columns' values`, {
        hint: 'run the start again: it resumes the backfill where it stopped',
      });
    }
    let gate: GateReport | undefined;
    // once completing, old columns may be gone: the gate ran before the first attempt
    if (run.phase === 'started' && options.integrityGate !== false) {
      gate = await integrityGate(options.pool, run);
      if (!gate.ok) {
        throw new PromoteError(`migration "${run.name}" cannot complete: ${describeDifferences(gate)}; complete would drop the old values for good`, {
          hint: 'fix those rows (or the up/down expressions, by rolling back), or complete with the integrity gate off if the differences are intended',
        });
      }
    }
    // what an interrupted complete decided holds when it runs again
    const refusal = (options.undoWindowMs ?? 0) > 0 ? undoRefusal(run) : undefined;
    if (run.phase === 'started') {
      const keep = (options.undoWindowMs ?? 0) > 0 && refusal === undefined;
      run.undoUntil = keep ? new Date(Date.now() + (options.undoWindowMs ?? 0)) : null;
      await updateRun(options.pool, run.id, { phase: 'completing', undoUntil: run.undoUntil });
    }
    const kept = run.undoUntil === null ? undefined : keptObjects(run);
    const budget = options.lockBudget ?? DEFAULT_LOCK_BUDGET;
    const previous = await lastCompletedRun(options.pool, schema);
    // the old version's views read the columns complete drops
    if (previous !== undefined && previous.versionSchema !== run.versionSchema) await runSteps(options.pool, [dropVersionSchemaStep(previous.versionSchema)], budget, options.events);
    const context = phaseContext(run);
    let refresh = false;
    const steps: Step[] = [];
    for (const [index, operation] of run.operations.entries()) {
      const plan = await describeOperation(run, index, operation, () => handlerFor(operation.kind).complete(bodyOf(operation), context));
      // what the operation's own steps would drop is put aside just before them, in the same switch
      if (kept !== undefined) steps.push(...keepAsideSteps(run.schema, kept, index));
      steps.push(...plan.steps);
      refresh ||= plan.refreshSchema === true;
    }
    if (kept !== undefined) steps.push(...windowTriggerSteps(context.after, kept));
    // validations first, then each table's drops and renames in one transaction (complete-schedule.ts)
    await runSteps(options.pool, switchSchedule(steps), budget, options.events);
    if (refresh) {
      const after = await readSchema(options.pool, schema);
      await runSteps(options.pool, createVersionSchemaSteps(after, run.versionSchema), budget, options.events);
      await updateRun(options.pool, run.id, { after });
    }
    await forgetBackfill(options.pool, run.name);
    const phase = kept === undefined ? 'completed' : 'undoable';
    await updateRun(options.pool, run.id, { phase });
    return { ...run, phase, ...(gate === undefined ? {} : { gate }), ...(refusal === undefined || kept !== undefined ? {} : { undoUnavailable: refusal }) };
  });
}

/** Rolls back the migration in flight: the new version's views and everything start added are removed. */
export async function rollbackMigration(options: Omit<MigratorOptions, 'backfill'> & { onRolledBack?: (run: MigrationRun) => Promise<void> }): Promise<MigrationRun> {
  const schema = options.schema ?? 'public';
  return withMigrator(options.pool, schema, async () => {
    const run = await requireInFlight(options.pool, schema, 'roll back');
    if (run.phase === 'completing' || run.phase === 'undoing') throw inFlightError(run, 'roll it back');
    await rollBackRun(run, options);
    await options.onRolledBack?.(run);
    return { ...run, phase: 'rolled_back' };
  });
}

/**
 * Undoes the complete of the latest migration while its undo window is open (or finishes an
 * interrupted undo): back to its started state, both versions working; then roll it back (or complete
 * it again). See undo.ts.
 */
export async function undoMigration(options: Omit<MigratorOptions, 'backfill'>): Promise<MigrationRun> {
  const schema = options.schema ?? 'public';
  return withMigrator(options.pool, schema, async () => {
    await ensureState(options.pool);
    const run = await keptRun(options.pool, schema);
    if (run === undefined) {
      const last = await lastCompletedRun(options.pool, schema);
      throw new PromoteError(
        last === undefined
          ? `nothing to undo: no migration has completed on schema "${schema}"`
          : `nothing to undo: migration "${last.name}" completed without keeping its old shape (undo window 0, or its window ended and it was finalized), so its complete is final`,
        { hint: 'a migration in flight is undone with promote migrate rollback' },
      );
    }
    if (run.phase === 'finalizing') throw new PromoteError(`cannot undo migration "${run.name}": its kept columns are being dropped (finalize was interrupted); run promote migrate finalize to finish it`);
    if (run.phase === 'undoable') {
      if (run.undoUntil === null || run.undoUntil.getTime() <= Date.now()) {
        throw new PromoteError(`cannot undo migration "${run.name}": its undo window ended at ${run.undoUntil?.toISOString() ?? '?'}; its complete is final`, {
          hint: 'promote migrate finalize drops what was kept aside; a new migration can restore what you need',
        });
      }
      await updateRun(options.pool, run.id, { phase: 'undoing' });
    }
    const previous = await lastCompletedRun(options.pool, schema, run.id);
    try {
      await runSteps(options.pool, undoSteps(run, previous?.versionSchema), options.lockBudget ?? DEFAULT_LOCK_BUDGET, options.events);
    } catch (error) {
      throw wrapError(`undoing the complete of migration "${run.name}" (run promote migrate undo again to finish it once the cause is fixed)`, error);
    }
    await updateRun(options.pool, run.id, { phase: 'started', undoUntil: null });
    return { ...run, phase: 'started', undoUntil: null, completedAt: null };
  });
}

/**
 * Ends the undo window of the latest migration now: drops the columns and tables its complete kept
 * aside. Nothing to do (undefined) when none are kept. The next migration's start does it too.
 */
export async function finalizeMigration(options: Omit<MigratorOptions, 'backfill'>): Promise<MigrationRun | undefined> {
  const schema = options.schema ?? 'public';
  return withMigrator(options.pool, schema, async () => {
    await ensureState(options.pool);
    return finalizeRun(options, schema);
  });
}

/** Under the migrator lock. */
async function finalizeRun(options: Omit<MigratorOptions, 'backfill'>, schema: string): Promise<MigrationRun | undefined> {
  const run = await keptRun(options.pool, schema);
  if (run === undefined) return undefined;
  if (run.phase === 'undoing') throw inFlightError(run, 'finalize it');
  await updateRun(options.pool, run.id, { phase: 'finalizing' });
  await runSteps(options.pool, finalizeSteps(run), options.lockBudget ?? DEFAULT_LOCK_BUDGET, options.events);
  await updateRun(options.pool, run.id, { phase: 'completed' });
  return { ...run, phase: 'completed' };
}

async function rollBackRun(run: MigrationRun, options: Omit<MigratorOptions, 'backfill'>, error?: string): Promise<void> {
  await updateRun(options.pool, run.id, { phase: 'rolling_back' });
  const budget = options.lockBudget ?? DEFAULT_LOCK_BUDGET;
  await runSteps(options.pool, [dropVersionSchemaStep(run.versionSchema)], budget, options.events);
  await runSteps(options.pool, await rollbackSteps(run, phaseContext(run)), budget, options.events);
  // a later start of the same migration must visit every row again, not resume this one's cursor
  await forgetBackfill(options.pool, run.name);
  await updateRun(options.pool, run.id, { phase: 'rolled_back', ...(error === undefined ? {} : { error }) });
}

/**
 * Every operation's rollback, last operation first, scheduled as complete's are: the old version,
 * which keeps writing, must never meet one operation's trigger without the columns another
 * operation's rollback drops (drop_column drops `_promote_needs_backfill`, which add_column's `up`
 * trigger sets), so each table's trigger and column drops run in one transaction (its switch).
 */
async function rollbackSteps(migration: Pick<Migration, 'name' | 'operations'>, context: PhaseContext): Promise<Step[]> {
  const steps: Step[] = [];
  for (let index = migration.operations.length - 1; index >= 0; index -= 1) {
    const operation = migration.operations[index] as Operation;
    steps.push(...(await describeOperation(migration, index, operation, () => handlerFor(operation.kind).rollback(bodyOf(operation), context))));
  }
  return switchSchedule(steps);
}

async function undoStart(run: MigrationRun, options: MigratorOptions, cause: unknown): Promise<never> {
  try {
    await rollBackRun(run, options, describeCause(cause));
  } catch (rollbackError) {
    throw new PromoteError(
      `starting migration "${run.name}" failed: ${describeCause(cause)}; rolling back what it did failed too: ${describeCause(rollbackError)}`,
      { cause, hint: 'run promote migrate rollback to finish the rollback' },
    );
  }
  throw new PromoteError(`starting migration "${run.name}" failed, and everything it did was rolled back: ${describeCause(cause)}`, { cause });
}

async function backfillRun(run: MigrationRun, options: MigratorOptions): Promise<void> {
  for (const name of run.backfillTables) {
    const table = requireTable(run.after, name);
    if (table.primaryKey.length === 0) {
      throw new PromoteError(`migration "${run.name}" needs to backfill table "${name}", which has no primary key: the backfill visits rows in key order and cannot resume without one`, {
        hint: 'add a primary key (create_constraint with type primary_key) in an earlier migration',
      });
    }
    const primaryKey = table.primaryKey.map((column) => table.columns.find((each) => each.name === column)?.physical ?? column);
    try {
      await (options.backfill ?? runBackfill)(options.pool, { migration: run.name, schema: run.schema, table: table.physical, primaryKey });
    } catch (error) {
      throw wrapError(`backfilling table "${name}" for migration "${run.name}" (run the start again to resume it)`, error);
    }
  }
  await updateRun(options.pool, run.id, { backfilled: true });
}

function phaseContext(run: MigrationRun): PhaseContext {
  return { before: run.before, after: run.after, versionSchema: run.versionSchema };
}

function bodyOf<O extends Operation>(operation: O): never {
  const { kind: _kind, ...body } = operation;
  return body as never;
}

/** Runs an operation's planning, naming the operation in any refusal. */
async function describeOperation<T>(migration: Pick<Migration, 'name'>, index: number, operation: Operation, plan: () => T | Promise<T>): Promise<T> {
  try {
    return await plan();
  } catch (error) {
    if (error instanceof OperationError || error instanceof MissingObjectError) {
      throw new PromoteError(`migration "${migration.name}": operations[${index}].${operation.kind}: ${error.message}`, { cause: error });
    }
    throw error;
  }
}

async function requireInFlight(pool: pg.Pool, schema: string, doing: string): Promise<MigrationRun> {
  await ensureState(pool);
  const run = await inFlightRun(pool, schema);
  if (run === undefined) throw new PromoteError(`nothing to ${doing}: no migration is in flight on schema "${schema}"`);
  return run;
}

function inFlightError(run: MigrationRun, wanted: string): PromoteError {
  const next: Record<MigrationRun['phase'], string> = {
    starting: 'its start was interrupted: roll it back (promote migrate rollback), then start again',
    started: 'complete it (promote migrate complete) or roll it back (promote migrate rollback) first',
    completing: 'its complete was interrupted: run promote migrate complete to finish it',
    rolling_back: 'its rollback was interrupted: run promote migrate rollback to finish it',
    undoing: 'the undo of its complete was interrupted: run promote migrate undo to finish it',
    completed: '',
    rolled_back: '',
    undoable: '',
    finalizing: '',
  };
  return new PromoteError(`cannot ${wanted}: migration "${run.name}" is ${run.phase.replace('_', ' ')} on schema "${run.schema}"; ${next[run.phase]}`);
}

async function withMigrator<T>(pool: pg.Pool, schema: string, work: () => Promise<T>): Promise<T> {
  let client: pg.PoolClient;
  try {
    client = await pool.connect();
  } catch (error) {
    throw wrapError('connecting to the database to migrate', error);
  }
  // The lock's connection sits idle while the work runs on other connections: when the server goes
  // away (a restart, a crash) pg emits 'error' on it, which with no listener would end the process
  // instead of failing the work's own queries with a message that says what to run again.
  let lost: Error | undefined;
  const onLost = (error: Error) => {
    lost = error;
  };
  client.on('error', onLost);
  let unlockFailed: Error | undefined;
  try {
    if (!(await takeMigratorLock(client, schema))) {
      throw new PromoteError(`another migrator has been working on schema "${schema}" of this database for more than 10 s (it holds the migrator lock); wait for it to finish`);
    }
    try {
      return await work();
    } finally {
      await client.query(`select pg_advisory_unlock(hashtext('promote_migrate:' || $1))`, [schema]).catch((error: unknown) => {
        // a session lock dies with its connection: destroying the client releases it
        unlockFailed = error instanceof Error ? error : new Error(String(error));
      });
    }
  } finally {
    client.off('error', onLost);
    client.release(unlockFailed ?? lost);
  }
}
