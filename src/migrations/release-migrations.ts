/**
 * The migrations of a release, as a rollout's `migrate` steps apply them: expand starts every
 * migration of the folder not applied yet (several as one run, so they are in flight together),
 * contract completes the run in flight once the old version is gone, and a rollout that is aborted
 * rolls its expand back. A migration edited after it was applied is refused, naming both checksums.
 * Each step rides out a database restart: a lost connection is retried (see retry.ts), and expand
 * then resumes its backfill from the saved cursor instead of failing the rollout into a rollback.
 */
import { existsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import type pg from 'pg';
import { PromoteError } from '../errors.js';
import { withAppDatabase } from './app-database.js';
import { runBackfill } from './backfill/backfill.js';
import { retryOnConnectionLoss, type ReconnectOptions } from './backfill/retry.js';
import { migrationChecksum } from './checksum.js';
import { MIGRATION_EXTENSIONS, type Migration } from './file.js';
import { loadMigrationFolderOrThrow } from './folder.js';
import { completeMigration, rollbackMigration, startMigration, type Backfiller } from './runner.js';
import { ensureState, inFlightRun, lastCompletedRun, listRuns, type RunMember } from './state.js';
import { DEFAULT_LOCK_BUDGET } from './steps.js';

export interface ReleaseMigrationsOptions {
  databaseUrl: string;
  migrationsDir: string;
  schema: string;
  lockTimeoutMs?: number;
  /** how long contract keeps what it removes, so the migration can still be undone (0: drop at once) */
  undoWindowMs?: number;
  /** only these migrations (by name), as a `migrate` step may say */
  only?: readonly string[];
  backfill?: Backfiller;
  /** retrying after a lost connection (a database restart): budget, backoff, and who hears of each retry */
  reconnect?: ReconnectOptions;
}

export interface MigrationStepResult {
  detail: string;
  /** the version schema the release's instances use (PROMOTE_SCHEMA_VERSION), when there is one */
  versionSchema?: string;
  applied: string[];
  /** how many times the step reconnected after losing the database */
  reconnects?: number;
}

/** Runs a step again while the database is away; the result's detail says how many reconnects it took. */
async function riding(options: ReleaseMigrationsOptions, step: () => Promise<MigrationStepResult>): Promise<MigrationStepResult> {
  const { value, retries } = await retryOnConnectionLoss(step, options.reconnect);
  if (retries === 0) return value;
  return { ...value, detail: `${value.detail} (after ${retries} reconnect${retries === 1 ? '' : 's'})`, reconnects: retries };
}

export async function expandReleaseMigrations(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  if (!(await hasMigrationFiles(options.migrationsDir))) return { detail: 'no migrations to apply', applied: [] };
  return riding(options, () => expandOnce(options));
}

async function expandOnce(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  return withAppDatabase(options.databaseUrl, 'connecting to the app database to migrate it', async (pool) => {
    let pending = await pendingMigrations(pool, options);
    const inFlight = await inFlightRun(pool, options.schema);
    if (pending.length === 0) {
      if (inFlight === undefined) return { detail: 'no migrations to apply', applied: [] };
      // a start cut short in its backfill (a lost connection, a controller stop) is no longer pending,
      // but not expanded either: starting its migrations again resumes the backfill from its cursor
      if (inFlight.phase !== 'started' || inFlight.backfilled) return { detail: `${inFlight.name} is already expanded`, versionSchema: inFlight.versionSchema, applied: [] };
      pending = await migrationsOfRun(options.migrationsDir, inFlight.members);
    }
    const combined = combineMigrations(pending);
    const members: RunMember[] = pending.map((migration) => ({ name: migration.name, checksum: migrationChecksum(migration) }));
    const outcome = await startMigration(combined, { pool, schema: options.schema, lockBudget: budget(options), backfill: options.backfill ?? runBackfill, members });
    const names = pending.map((migration) => migration.name);
    return { detail: `${outcome.resumed ? 'resumed' : 'expanded'} ${names.join(', ')}: the new version uses ${outcome.versionSchema}`, versionSchema: outcome.versionSchema, applied: names };
  });
}

export async function contractReleaseMigrations(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  if (!(await hasMigrationFiles(options.migrationsDir))) return { detail: 'no migrations to contract', applied: [] };
  return riding(options, () => contractOnce(options));
}

async function contractOnce(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  return withAppDatabase(options.databaseUrl, 'connecting to the app database to migrate it', async (pool) => {
    await ensureState(pool);
    const inFlight = await inFlightRun(pool, options.schema);
    if (inFlight === undefined) return { detail: 'no expanded migration to contract', applied: [] };
    const run = await completeMigration({ pool, schema: options.schema, lockBudget: budget(options), ...(options.undoWindowMs === undefined ? {} : { undoWindowMs: options.undoWindowMs }) });
    const undo = run.undoUntil ? `; undoable until ${run.undoUntil.toISOString()} (promote migrate undo)` : '';
    return { detail: `contracted ${run.members.map((member) => member.name).join(', ')}${undo}`, versionSchema: run.versionSchema, applied: run.members.map((member) => member.name) };
  });
}

export async function rollBackReleaseMigrations(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  if (!(await hasMigrationFiles(options.migrationsDir))) return { detail: 'no migrations to roll back', applied: [] };
  return riding(options, () => rollBackOnce(options));
}

async function rollBackOnce(options: ReleaseMigrationsOptions): Promise<MigrationStepResult> {
  return withAppDatabase(options.databaseUrl, 'connecting to the app database to migrate it', async (pool) => {
    await ensureState(pool);
    const inFlight = await inFlightRun(pool, options.schema);
    if (inFlight === undefined) return { detail: 'no expanded migration to roll back', applied: [] };
    const run = await rollbackMigration({ pool, schema: options.schema, lockBudget: budget(options) });
    return { detail: `rolled back ${run.members.map((member) => member.name).join(', ')}`, applied: run.members.map((member) => member.name) };
  });
}

/** The version schema a newly deployed instance should use: the run in flight's, else the last completed one's. */
export async function currentVersionSchema(options: Pick<ReleaseMigrationsOptions, 'databaseUrl' | 'schema' | 'migrationsDir'>): Promise<string | undefined> {
  if (!(await hasMigrationFiles(options.migrationsDir))) return undefined;
  return withAppDatabase(options.databaseUrl, 'connecting to the app database to migrate it', async (pool) => {
    await ensureState(pool);
    return ((await inFlightRun(pool, options.schema)) ?? (await lastCompletedRun(pool, options.schema)))?.versionSchema;
  });
}

/** Several migrations as one: their operations in order, the version schema of the last. */
export function combineMigrations(migrations: readonly Migration[]): Migration {
  const last = migrations.at(-1);
  if (last === undefined) throw new Error('combineMigrations needs at least one migration');
  if (migrations.length === 1) return last;
  const isolated = migrations.find((migration) => migration.operations.some((operation) => operation.kind === 'sql' && operation.onComplete !== true));
  if (isolated !== undefined) {
    throw new PromoteError(
      `migration "${isolated.name}" runs raw SQL on start, which cannot be in flight with other migrations (${migrations.map((migration) => migration.name).join(', ')} are pending): ` +
        'ship it in a release of its own, or set "onComplete: true" on its sql operation',
    );
  }
  return { ...last, versionSchema: last.versionSchema ?? last.name, operations: migrations.flatMap((migration) => migration.operations) };
}

async function pendingMigrations(pool: pg.Pool, options: ReleaseMigrationsOptions): Promise<Migration[]> {
  if (!existsSync(options.migrationsDir)) return [];
  const folder = await loadMigrationFolderOrThrow(options.migrationsDir);
  const known = new Set(folder.migrations.map((migration) => migration.name));
  for (const name of options.only ?? []) {
    if (!known.has(name)) throw new PromoteError(`no migration "${name}" in ${options.migrationsDir} (it has: ${[...known].join(', ') || 'none'})`);
  }
  await ensureState(pool);
  const applied = new Map<string, string>();
  for (const run of await listRuns(pool, options.schema)) {
    if (run.phase === 'rolled_back') continue;
    for (const member of run.members) applied.set(member.name, member.checksum);
  }
  const pending: Migration[] = [];
  for (const migration of folder.migrations) {
    const checksum = applied.get(migration.name);
    if (checksum !== undefined) {
      if (checksum !== migrationChecksum(migration)) {
        throw new PromoteError(`migration "${migration.name}" was applied with checksum ${checksum}, but ${migration.file} now has ${migrationChecksum(migration)}: an applied migration must not change`, {
          hint: 'restore the file as it was applied, and put the change in a new migration',
        });
      }
      continue;
    }
    if (options.only === undefined || options.only.includes(migration.name)) pending.push(migration);
  }
  return pending;
}

/** The folder's migrations a run applies, in the run's order (their checksums were checked as applied ones). */
async function migrationsOfRun(dir: string, members: readonly RunMember[]): Promise<Migration[]> {
  const folder = await loadMigrationFolderOrThrow(dir);
  return members.map((member) => {
    const migration = folder.migrations.find((each) => each.name === member.name);
    if (migration === undefined) throw new PromoteError(`migration "${member.name}" is in flight with its backfill unfinished, but ${dir} no longer has it: it cannot be resumed`, { hint: 'restore the file, or roll the migration back (promote migrate rollback)' });
    return migration;
  });
}

/** An app without migration files never has Promote touch its database. */
async function hasMigrationFiles(dir: string): Promise<boolean> {
  const files = await readdir(dir).catch(() => [] as string[]);
  return files.some((file) => MIGRATION_EXTENSIONS.some((extension) => file.endsWith(extension)));
}

function budget(options: ReleaseMigrationsOptions) {
  return { ...DEFAULT_LOCK_BUDGET, lockTimeoutMs: options.lockTimeoutMs ?? DEFAULT_LOCK_BUDGET.lockTimeoutMs };
}
