/**
 * The history of an app's schema migrations on one database: which migration started, completed,
 * was rolled back or failed, and when, each entry chained to the one before (store/schema/005).
 * A migration edited after it was applied is refused when it starts again, naming both checksums,
 * as Flyway does. And a session advisory lock keeps two migrators off the same database at once.
 */
import { createHash } from 'node:crypto';
import type pg from 'pg';
import { notFound, PromoteError, redactSecrets } from '../errors.js';
import { chainHash, checkChain, GENESIS_CHAIN_HASH } from '../migrations/checksum.js';
import { appendEvent } from './events.js';
import { checkName, databaseErrorOf, isPool, PG_FOREIGN_KEY_VIOLATION, query, rethrow, toDate, withTransaction, type Queryable, type TransactionClient } from './queryable.js';

export const MIGRATION_PHASES = ['started', 'completed', 'rolled_back', 'failed'] as const;
export type MigrationPhase = (typeof MIGRATION_PHASES)[number];

/** Whose history: the app, and a name for the database its migrations run on (the environment, say). */
export interface MigrationTarget {
  app: string;
  databaseKey: string;
}

/** Who moves a migration on (completes, rolls back, fails it), for the audit trail; default: whoever started it. */
export interface MoveOptions {
  actor?: string;
}

export interface MigrationHistoryEntry extends MigrationTarget {
  seq: number;
  name: string;
  checksum: string;
  previousHash: string;
  chainHash: string;
  phase: MigrationPhase;
  versionSchema: string | null;
  actor: string;
  startedAt: Date;
  completedAt: Date | null;
  rolledBackAt: Date | null;
  failedAt: Date | null;
  /** why it failed, or why it was rolled back */
  error: string | null;
}

export interface MigrationStartInput extends MigrationTarget {
  name: string;
  /** migrationChecksum() of the migration as it is being applied */
  checksum: string;
  versionSchema?: string | null;
  /** who or what started it: a user name, `controller` */
  actor: string;
}

export type HistoryVerification = { ok: true; count: number; head: string } | { ok: false; count: number; seq: number; name: string; reason: string };

interface EntryRow {
  app: string;
  database_key: string;
  seq: number;
  name: string;
  checksum: string;
  previous_hash: string;
  chain_hash: string;
  phase: MigrationPhase;
  version_schema: string | null;
  actor: string;
  started_at: Date | string;
  completed_at: Date | string | null;
  rolled_back_at: Date | string | null;
  failed_at: Date | string | null;
  error: string | null;
}

const COLUMNS = 'app, database_key, seq, name, checksum, previous_hash, chain_hash, phase, version_schema, actor, started_at, completed_at, rolled_back_at, failed_at, error';
const DATABASE_KEY = /^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$/;
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_ERROR_LENGTH = 10_000;

function toEntry(row: EntryRow): MigrationHistoryEntry {
  const maybeDate = (value: Date | string | null) => (value === null ? null : toDate(value));
  return {
    app: row.app,
    databaseKey: row.database_key,
    seq: row.seq,
    name: row.name,
    checksum: row.checksum,
    previousHash: row.previous_hash,
    chainHash: row.chain_hash,
    phase: row.phase,
    versionSchema: row.version_schema,
    actor: row.actor,
    startedAt: toDate(row.started_at),
    completedAt: maybeDate(row.completed_at),
    rolledBackAt: maybeDate(row.rolled_back_at),
    failedAt: maybeDate(row.failed_at),
    error: row.error,
  };
}

function checkTarget(target: MigrationTarget): string {
  checkName('app', target.app);
  if (typeof target.databaseKey !== 'string' || !DATABASE_KEY.test(target.databaseKey)) {
    throw new PromoteError(`database key ${JSON.stringify(target.databaseKey)} is not valid: use 1 to 128 letters, digits and . _ : / @ -, starting with a letter or digit`);
  }
  return `${target.app} on ${target.databaseKey}`;
}

function checkMigrationName(name: string): void {
  if (typeof name !== 'string' || name.length === 0 || name.length > 255 || CONTROL.test(name)) {
    throw new PromoteError(`migration name ${JSON.stringify(name)} is not valid: 1 to 255 characters, no control characters`);
  }
}

/**
 * Appends to one chain are serialised by a transaction lock of their own: not the migrator's lock,
 * which a migrator holds on another connection while it records its steps.
 */
function historyLockKey(target: MigrationTarget): string {
  return advisoryKey('promote migration history', target.app, target.databaseKey);
}

/**
 * Records that a migration starts, as the next entry of the chain. Refused when the migration is
 * already started or completed on this database, and, if its checksum differs from the recorded one,
 * refused as edited after it was applied. A migration rolled back or failed may start again.
 */
export async function recordMigrationStart(db: Queryable, input: MigrationStartInput): Promise<MigrationHistoryEntry> {
  const where = checkTarget(input);
  checkMigrationName(input.name);
  if (typeof input.actor !== 'string' || input.actor.length === 0) throw new PromoteError(`starting migration ${input.name} needs an actor (who or what started it)`);
  const versionSchema = input.versionSchema ?? null;
  if (versionSchema !== null && (typeof versionSchema !== 'string' || versionSchema === '')) throw new PromoteError(`the version schema of ${input.name} must be a non-empty name`);
  const doing = `recording the start of migration ${input.name} for ${where}`;
  try {
    return await withTransaction(
      db,
      async (tx) => {
        await query(tx, doing, 'select pg_advisory_xact_lock($1::bigint)', [historyLockKey(input)]);
        const live = await liveEntry(tx, input, input.name, doing);
        if (live !== undefined) throw alreadyRecorded(live, input.checksum, where);
        const last = await query<{ seq: number; chain_hash: string }>(
          tx,
          doing,
          'select seq, chain_hash from promote.schema_migrations where app = $1 and database_key = $2 order by seq desc limit 1',
          [input.app, input.databaseKey],
        );
        const previous = last.rows[0];
        const previousHash = previous?.chain_hash ?? GENESIS_CHAIN_HASH;
        // checks the checksum's form too, before anything is written
        const hash = chainHash(previousHash, input.name, input.checksum);
        const result = await query<EntryRow>(
          tx,
          doing,
          `insert into promote.schema_migrations (app, database_key, seq, name, checksum, previous_hash, chain_hash, version_schema, actor)
           values ($1, $2, $3, $4, $5, $6, $7, $8, $9) returning ${COLUMNS}`,
          [input.app, input.databaseKey, (previous?.seq ?? 0) + 1, input.name, input.checksum, previousHash, hash, versionSchema, input.actor],
        );
        const entry = toEntry(result.rows[0]!);
        await appendEvent(tx, migrationEvent(entry, 'started', input.actor));
        return entry;
      },
      { isolation: 'read committed' },
    );
  } catch (error) {
    if (databaseErrorOf(error).code === PG_FOREIGN_KEY_VIOLATION) {
      throw notFound(`cannot record migration ${input.name}: app "${input.app}" is not recorded in the state store`, { cause: error, hint: 'record the app first (upsertApp)' });
    }
    rethrow(doing, error);
  }
}

function alreadyRecorded(live: MigrationHistoryEntry, checksum: string, where: string): PromoteError {
  const since = live.phase === 'completed' ? `applied at ${live.completedAt?.toISOString() ?? '?'}` : `started at ${live.startedAt.toISOString()} and not finished`;
  if (live.checksum !== checksum) {
    return new PromoteError(
      `migration ${live.name} was edited after it was applied to ${where} (${since}): checksum ${live.checksum} recorded, ${checksum} now`,
      { hint: 'restore the file as it was applied and put the change in a new migration' },
    );
  }
  return new PromoteError(`migration ${live.name} is already ${live.phase === 'completed' ? 'applied' : 'in flight'} on ${where} (${since})`);
}

/** Marks the migration completed (contract done). Marking it again changes nothing. */
export async function markMigrationCompleted(db: Queryable, target: MigrationTarget, name: string, options: MoveOptions = {}): Promise<MigrationHistoryEntry> {
  return moveTo(db, target, name, 'completed', null, options);
}

/** Marks the migration rolled back, from started or (while contract can be undone) from completed. */
export async function markMigrationRolledBack(db: Queryable, target: MigrationTarget, name: string, reason?: string, options: MoveOptions = {}): Promise<MigrationHistoryEntry> {
  return moveTo(db, target, name, 'rolled_back', reason ?? null, options);
}

/** Marks a started migration failed, with the error; its start must have been undone. */
export async function markMigrationFailed(db: Queryable, target: MigrationTarget, name: string, error: string, options: MoveOptions = {}): Promise<MigrationHistoryEntry> {
  if (typeof error !== 'string' || error.trim() === '') throw new PromoteError(`marking migration ${name} failed needs the error`);
  return moveTo(db, target, name, 'failed', error, options);
}

/** The audit event of one move of a migration's history, appended in the same transaction as the move. */
function migrationEvent(entry: MigrationHistoryEntry, phase: MigrationPhase, actor: string) {
  return {
    type: `migration.${phase}`,
    actor,
    app: entry.app,
    data: {
      // a database key is a name, but a caller could pass a URL: never a password in the trail
      database: redactSecrets(entry.databaseKey),
      migration: entry.name,
      checksum: entry.checksum,
      historySeq: entry.seq,
      ...(entry.versionSchema === null ? {} : { versionSchema: entry.versionSchema }),
      ...(phase !== 'started' && entry.error !== null ? { [phase === 'failed' ? 'error' : 'reason']: redactSecrets(entry.error) } : {}),
    },
  };
}

const TIME_COLUMN = { completed: 'completed_at', rolled_back: 'rolled_back_at', failed: 'failed_at' } as const;
const MOVES_FROM: Record<keyof typeof TIME_COLUMN, readonly MigrationPhase[]> = { completed: ['started'], rolled_back: ['started', 'completed'], failed: ['started'] };

async function moveTo(db: Queryable, target: MigrationTarget, name: string, phase: keyof typeof TIME_COLUMN, error: string | null, options: MoveOptions): Promise<MigrationHistoryEntry> {
  const where = checkTarget(target);
  checkMigrationName(name);
  const doing = `marking migration ${name} ${phase.replace('_', ' ')} for ${where}`;
  const text = error === null ? null : error.slice(0, MAX_ERROR_LENGTH);
  try {
    return await withTransaction(db, async (tx) => {
      const latest = await query<EntryRow>(
        tx,
        doing,
        `select ${COLUMNS} from promote.schema_migrations where app = $1 and database_key = $2 and name = $3 order by seq desc limit 1 for update`,
        [target.app, target.databaseKey, name],
      );
      const row = latest.rows[0];
      if (row === undefined) throw new PromoteError(`migration ${name} has not been started on ${where}`);
      const entry = toEntry(row);
      // idempotent: a controller that repeats an action after a crash finds it done
      if (entry.phase === phase) return entry;
      if (!MOVES_FROM[phase].includes(entry.phase)) {
        throw new PromoteError(`migration ${name} on ${where} cannot be marked ${phase.replace('_', ' ')}: it is ${entry.phase.replace('_', ' ')} (entry ${entry.seq})`);
      }
      const updated = await query<EntryRow>(
        tx,
        doing,
        `update promote.schema_migrations set phase = $4, ${TIME_COLUMN[phase]} = now(), error = coalesce(error, $5)
          where app = $1 and database_key = $2 and seq = $3 returning ${COLUMNS}`,
        [target.app, target.databaseKey, entry.seq, phase, text],
      );
      const moved = toEntry(updated.rows[0]!);
      await appendEvent(tx, migrationEvent(moved, phase, options.actor ?? entry.actor));
      return moved;
    });
  } catch (caught) {
    rethrow(doing, caught);
  }
}

/** The whole history of a database, oldest first. */
export async function listMigrationHistory(db: Queryable, target: MigrationTarget): Promise<MigrationHistoryEntry[]> {
  const where = checkTarget(target);
  const result = await query<EntryRow>(
    db,
    `listing the migration history of ${where}`,
    `select ${COLUMNS} from promote.schema_migrations where app = $1 and database_key = $2 order by seq`,
    [target.app, target.databaseKey],
  );
  return result.rows.map(toEntry);
}

/** The migration's entry that is started or completed on this database, if any. */
export async function getAppliedMigration(db: Queryable, target: MigrationTarget, name: string): Promise<MigrationHistoryEntry | undefined> {
  const where = checkTarget(target);
  checkMigrationName(name);
  return liveEntry(db, target, name, `reading migration ${name} of ${where}`);
}

async function liveEntry(db: Queryable | TransactionClient, target: MigrationTarget, name: string, doing: string): Promise<MigrationHistoryEntry | undefined> {
  const result = await query<EntryRow>(
    db,
    doing,
    `select ${COLUMNS} from promote.schema_migrations where app = $1 and database_key = $2 and name = $3 and phase in ('started', 'completed')`,
    [target.app, target.databaseKey, name],
  );
  return result.rows[0] === undefined ? undefined : toEntry(result.rows[0]);
}

/** Recomputes the chain of a database's history and reports its first broken link. */
export async function verifyMigrationHistory(db: Queryable, target: MigrationTarget): Promise<HistoryVerification> {
  const entries = await listMigrationHistory(db, target);
  const gap = entries.findIndex((entry, index) => entry.seq !== index + 1);
  const links = gap === -1 ? entries : entries.slice(0, gap);
  const check = checkChain(links.map((entry) => ({ name: entry.name, checksum: entry.checksum, previousHash: entry.previousHash, chainHash: entry.chainHash })));
  if (!check.ok) return { ok: false, count: check.index, seq: links[check.index]!.seq, name: check.name, reason: check.reason };
  if (gap !== -1) {
    const entry = entries[gap]!;
    return { ok: false, count: gap, seq: entry.seq, name: entry.name, reason: `expected entry ${gap + 1}, found entry ${entry.seq}: entries were removed` };
  }
  return { ok: true, count: entries.length, head: check.head };
}

// ---- the migrator's lock ----

/** A 64-bit advisory lock key from names: the first 8 bytes of their sha256, as PostgreSQL's bigint. */
function advisoryKey(namespace: string, app: string, databaseKey: string): string {
  return createHash('sha256').update(`${namespace}\u0000${app}\u0000${databaseKey}`).digest().readBigInt64BE(0).toString();
}

/** The key of the migrator's lock for a target: the same in every Promote process. */
export function migrationLockKey(target: MigrationTarget): string {
  checkTarget(target);
  return advisoryKey('promote migrator', target.app, target.databaseKey);
}

/** Who holds a migrator's lock, as far as pg_stat_activity tells. */
export interface LockHolder {
  pid: number;
  applicationName: string | null;
  user: string | null;
  clientAddress: string | null;
  backendStart: Date | null;
}

/** Another migrator holds the lock; `holder` says who when PostgreSQL could tell. */
export class MigrationLockedError extends PromoteError {
  readonly holder: LockHolder | undefined;

  constructor(where: string, holder: LockHolder | undefined) {
    super(`another migrator is running for ${where}: ${holder === undefined ? 'its session could not be identified' : describeHolder(holder)}`, {
      hint: 'wait for it to finish; if it is stuck, stop that session (pg_terminate_backend(pid)) and run the migration again',
    });
    this.name = 'MigrationLockedError';
    this.holder = holder;
  }
}

function describeHolder(holder: LockHolder): string {
  const parts = [
    holder.applicationName ? `application "${holder.applicationName}"` : undefined,
    holder.user ? `user ${holder.user}` : undefined,
    holder.clientAddress ? `from ${holder.clientAddress}` : undefined,
    holder.backendStart ? `connected since ${holder.backendStart.toISOString()}` : undefined,
  ].filter((part) => part !== undefined);
  return `held by PostgreSQL session ${holder.pid}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`;
}

export interface MigrationLock {
  key: string;
  /** Releases the lock; calling it again does nothing. */
  release(): Promise<void>;
}

/**
 * Takes the migrator's lock for a target without waiting: a session advisory lock on `client`, which
 * must be one connection (not a pool) kept for as long as the migration runs; take it on the database
 * being migrated, where every migrator of it meets. Release it before a pooled client goes back to its
 * pool. With `applicationName`, the session is named so that a second migrator can tell who holds it.
 */
export async function acquireMigrationLock(client: pg.Client | pg.PoolClient, target: MigrationTarget, options: { applicationName?: string } = {}): Promise<MigrationLock> {
  const where = checkTarget(target);
  if (isPool(client)) throw new PromoteError(`the migrator's lock for ${where} needs one connection, not a pool: a session lock lives on the connection that took it`);
  const key = migrationLockKey(target);
  const doing = `taking the migrator's lock for ${where}`;
  if (options.applicationName !== undefined) {
    await query(client, doing, "select set_config('application_name', $1, false)", [options.applicationName.slice(0, 63)]);
  }
  // the holder may let go between the two questions: ask once more before blaming it
  for (let attempt = 0; attempt < 2; attempt++) {
    const taken = await query<{ locked: boolean }>(client, doing, 'select pg_try_advisory_lock($1::bigint) as locked', [key]);
    if (taken.rows[0]?.locked === true) return heldLock(client, key, where);
    const holder = await lockHolder(client, key, doing);
    if (holder !== undefined || attempt === 1) throw new MigrationLockedError(where, holder);
  }
  throw new MigrationLockedError(where, undefined);
}

function heldLock(client: pg.Client | pg.PoolClient, key: string, where: string): MigrationLock {
  let released = false;
  return {
    key,
    async release() {
      if (released) return;
      released = true;
      await query(client, `releasing the migrator's lock for ${where}`, 'select pg_advisory_unlock($1::bigint)', [key]);
    },
  };
}

/** Runs `fn` holding the migrator's lock, and releases it however `fn` ends. */
export async function withMigrationLock<T>(client: pg.Client | pg.PoolClient, target: MigrationTarget, fn: () => Promise<T>, options: { applicationName?: string } = {}): Promise<T> {
  const lock = await acquireMigrationLock(client, target, options);
  try {
    return await fn();
  } finally {
    await lock.release();
  }
}

async function lockHolder(client: pg.Client | pg.PoolClient, key: string, doing: string): Promise<LockHolder | undefined> {
  // a bigint advisory key shows in pg_locks as classid (high 32 bits) and objid (low 32 bits), objsubid 1
  const unsigned = BigInt.asUintN(64, BigInt(key));
  const result = await query<{ pid: number; application_name: string | null; usename: string | null; client_addr: string | null; backend_start: Date | null }>(
    client,
    doing,
    `select l.pid, a.application_name, a.usename, a.client_addr::text as client_addr, a.backend_start
       from pg_locks l left join pg_stat_activity a on a.pid = l.pid
      where l.locktype = 'advisory' and l.granted and l.objsubid = 1
        and l.classid = $1::bigint::oid and l.objid = $2::bigint::oid
        and l.database = (select oid from pg_database where datname = current_database())
      limit 1`,
    [(unsigned >> 32n).toString(), (unsigned & 0xffffffffn).toString()],
  );
  const row = result.rows[0];
  if (row === undefined) return undefined;
  return {
    pid: row.pid,
    applicationName: row.application_name === '' ? null : row.application_name,
    user: row.usename,
    clientAddress: row.client_addr,
    backendStart: row.backend_start === null ? null : toDate(row.backend_start),
  };
}
