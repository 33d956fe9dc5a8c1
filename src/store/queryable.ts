import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { checkOut } from '../system/pool-checkout.js';

/** Anything the store functions can run SQL on: a pool, a checked-out pool client or a plain client. */
export type Queryable = pg.Pool | pg.PoolClient | pg.Client;

/** One connection, inside a transaction, handed to the function given to {@link withTransaction}. */
export type TransactionClient = pg.PoolClient | pg.Client;

export type IsolationLevel = 'read committed' | 'repeatable read' | 'serializable';

export function isPool(db: Queryable): db is pg.Pool {
  return typeof (db as Partial<pg.ClientBase>).getTransactionStatus !== 'function';
}

let savepointCounter = 0;

/**
 * Runs `fn` in one transaction and returns its result.
 *
 * - a pool: a client is checked out, `begin` … `commit`, `rollback` when `fn` throws, then released;
 * - a client outside a transaction: the same on that client;
 * - a client already inside a transaction: `fn` runs inside a savepoint of the caller's transaction, so
 *   its work commits (or not) with the caller's, and a failure inside `fn` rolls back only `fn`'s part
 *   and leaves the caller's transaction usable.
 *
 * The error thrown by `fn` is rethrown unchanged; failures of begin/commit are wrapped.
 */
export async function withTransaction<T>(
  db: Queryable,
  fn: (client: TransactionClient) => Promise<T>,
  options: { isolation?: IsolationLevel } = {},
): Promise<T> {
  const begin = options.isolation ? `begin isolation level ${options.isolation}` : 'begin';
  if (isPool(db)) {
    let client: pg.PoolClient;
    try {
      client = await checkOut(db);
    } catch (error) {
      throw wrapError('connecting to the state store', error);
    }
    let broken: Error | undefined;
    try {
      return await runInTransaction(client, begin, fn, (error) => {
        broken = error;
      });
    } finally {
      // a client whose rollback failed is in an unknown state: destroy it rather than reuse it
      client.release(broken ?? false);
    }
  }
  const status = db.getTransactionStatus();
  if (status === 'E') {
    throw new PromoteError('the transaction on this connection has already failed; roll it back before using the state store on it');
  }
  if (status === 'T') {
    return runInSavepoint(db, fn, options.isolation);
  }
  return runInTransaction(db, begin, fn, () => undefined);
}

async function runInTransaction<T>(
  client: TransactionClient,
  begin: string,
  fn: (client: TransactionClient) => Promise<T>,
  onBroken: (error: Error) => void,
): Promise<T> {
  try {
    await client.query(begin);
  } catch (error) {
    onBroken(error instanceof Error ? error : new Error(String(error)));
    throw wrapError('starting a transaction on the state store', error);
  }
  let result: T;
  try {
    result = await fn(client);
  } catch (error) {
    try {
      await client.query('rollback');
    } catch (rollbackError) {
      onBroken(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    }
    throw error;
  }
  try {
    await client.query('commit');
  } catch (error) {
    // commit failing (a deferred constraint, a lost connection) leaves nothing committed
    await client.query('rollback').catch((rollbackError: unknown) => {
      onBroken(rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError)));
    });
    throw wrapError('committing a state store transaction', error);
  }
  return result;
}

async function runInSavepoint<T>(client: TransactionClient, fn: (client: TransactionClient) => Promise<T>, isolation: IsolationLevel | undefined): Promise<T> {
  if (isolation) {
    const current = await queryOrWrap<{ level: string }>(client, 'checking the isolation level of the current transaction', `select current_setting('transaction_isolation') as level`);
    if (current.rows[0]?.level !== isolation) {
      throw new PromoteError(`this needs a ${isolation.toUpperCase()} transaction, but the caller's transaction is ${(current.rows[0]?.level ?? 'unknown').toUpperCase()}`, {
        hint: `run it outside the transaction, or begin the transaction with "begin isolation level ${isolation}"`,
      });
    }
  }
  savepointCounter = (savepointCounter + 1) % 1_000_000_000;
  const name = `promote_sp_${savepointCounter}`;
  await queryOrWrap(client, 'creating a savepoint in the current transaction', `savepoint ${name}`);
  let result: T;
  try {
    result = await fn(client);
  } catch (error) {
    await client.query(`rollback to savepoint ${name}`).catch(() => undefined);
    throw error;
  }
  await queryOrWrap(client, 'releasing a savepoint in the current transaction', `release savepoint ${name}`);
  return result;
}

async function queryOrWrap<R extends pg.QueryResultRow>(db: Queryable, doing: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  try {
    return await db.query<R>(text, values);
  } catch (error) {
    throw wrapError(doing, error);
  }
}

// ---- helpers shared by the aggregate files (not part of the store's public API) ----

/** Runs one statement; a database failure is wrapped with what Promote was doing. */
export async function query<R extends pg.QueryResultRow>(db: Queryable, doing: string, text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
  return queryOrWrap<R>(db, doing, text, values);
}

/** Rethrows a PromoteError as is and wraps anything else with what Promote was doing. */
export function rethrow(doing: string, error: unknown): never {
  if (error instanceof PromoteError) throw error;
  throw wrapError(doing, error);
}

/** The SQLSTATE and constraint of a database error, when it is one. */
export function databaseErrorOf(error: unknown): { code?: string; constraint?: string } {
  let current: unknown = error;
  // look through PromoteError wrappers to the driver's error
  for (let depth = 0; depth < 5 && current instanceof Error; depth++) {
    const { code, constraint } = current as { code?: unknown; constraint?: unknown };
    if (typeof code === 'string') {
      return { code, ...(typeof constraint === 'string' ? { constraint } : {}) };
    }
    current = current.cause;
  }
  return {};
}

export const PG_UNIQUE_VIOLATION = '23505';
export const PG_FOREIGN_KEY_VIOLATION = '23503';
export const PG_CHECK_VIOLATION = '23514';

/** bigint columns arrive as strings from pg; ids are identities, far below 2^53. */
export function toId(value: string | number): number {
  return typeof value === 'number' ? value : Number(value);
}

export function toNullableId(value: string | number | null): number | null {
  return value === null ? null : toId(value);
}

export function toDate(value: Date | string): Date {
  return value instanceof Date ? value : new Date(value);
}

/** Checks a page size given by a caller. */
export function checkLimit(limit: number | undefined, fallback: number, max = 10_000): number {
  if (limit === undefined) return fallback;
  if (!Number.isInteger(limit) || limit < 1 || limit > max) {
    throw new PromoteError(`limit must be a whole number from 1 to ${max}, got ${String(limit)}`);
  }
  return limit;
}

/** Checks an id given by a caller before it reaches SQL. */
export function checkId(kind: string, id: number): void {
  if (!Number.isSafeInteger(id) || id < 1) {
    throw new PromoteError(`${kind} id must be a positive whole number, got ${String(id)}`);
  }
}

const NAME_PATTERN = /^[a-z][a-z0-9-]{0,62}$/;

/** App and environment names: the same rule as the store's check constraints and promote.yaml. */
export function checkName(kind: 'app' | 'environment', name: string): void {
  if (typeof name !== 'string' || !NAME_PATTERN.test(name)) {
    throw new PromoteError(`${kind} name ${JSON.stringify(name)} is not valid: use 1 to 63 lowercase letters, digits and dashes, starting with a letter`);
  }
}
