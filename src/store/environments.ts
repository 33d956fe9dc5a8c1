import { notFound, PromoteError } from '../errors.js';
import { appendEvent } from './events.js';
import { checkName, databaseErrorOf, PG_FOREIGN_KEY_VIOLATION, query, rethrow, toDate, withTransaction, type Queryable, type TransactionClient } from './queryable.js';

export interface Environment {
  app: string;
  name: string;
  /** promotion order: a release reaches an environment only through the ones with a lower position */
  position: number;
  createdAt: Date;
  updatedAt: Date;
}

interface EnvironmentRow {
  app: string;
  name: string;
  position: number;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'app, name, position, created_at, updated_at';

function toEnvironment(row: EnvironmentRow): Environment {
  return { app: row.app, name: row.name, position: row.position, createdAt: toDate(row.created_at), updatedAt: toDate(row.updated_at) };
}

/**
 * Makes the app's recorded environments exactly `names`, in promotion order (position = index): new
 * ones are added, existing ones moved, missing ones removed. An environment that has rollouts cannot
 * be removed (its history would lose its meaning); the error names it. All of it happens in one
 * transaction (a savepoint when `db` is a client already in one), under a lock on the app's row so
 * two syncs of the same app do not interleave. Any change (added, removed, reordered) is an
 * `environments.changed` event by `actor` in the same transaction. Returns the environments in promotion order.
 */
export async function syncEnvironments(db: Queryable, app: string, names: readonly string[], actor = 'promote'): Promise<Environment[]> {
  checkName('app', app);
  const seen = new Set<string>();
  for (const name of names) {
    checkName('environment', name);
    if (seen.has(name)) throw new PromoteError(`environment "${name}" is listed twice for app "${app}"; each environment appears once in the promotion order`);
    seen.add(name);
  }
  const doing = `recording the environments of app "${app}" (${names.join(', ') || 'none'})`;
  try {
    return await withTransaction(db, (tx) => syncInTransaction(tx, app, [...names], actor));
  } catch (error) {
    rethrow(doing, error);
  }
}

async function syncInTransaction(tx: TransactionClient, app: string, names: string[], actor: string): Promise<Environment[]> {
  const doing = `recording the environments of app "${app}"`;
  const appRow = await query(tx, doing, 'select name from promote.apps where name = $1 for update', [app]);
  if (appRow.rowCount === 0) {
    throw notFound(`app "${app}" is not recorded in the state store`, { hint: 'record the app first (upsertApp)' });
  }
  const existing = await query<{ name: string }>(tx, doing, 'select name from promote.environments where app = $1 order by position for update', [app]);
  const removed = existing.rows.map((row) => row.name).filter((name) => !names.includes(name));
  if (removed.length > 0) {
    const used = await query<{ environment: string; rollouts: string }>(
      tx,
      doing,
      `select environment, count(*) as rollouts from promote.rollouts where app = $1 and environment = any($2::text[])
       group by environment order by environment`,
      [app, removed],
    );
    const first = used.rows[0];
    if (first) {
      throw refuseRemoval(app, first.environment, Number(first.rollouts), used.rows.slice(1).map((row) => row.environment));
    }
    try {
      await tx.query('delete from promote.environments where app = $1 and name = any($2::text[])', [app, removed]);
    } catch (error) {
      // a rollout recorded at the same moment: the foreign key refuses, say it the same way
      if (databaseErrorOf(error).code === PG_FOREIGN_KEY_VIOLATION) throw refuseRemoval(app, removed.join('", "'), undefined, []);
      throw error;
    }
  }
  if (names.length > 0) {
    // (app, position) is unique but deferred: moving staging 0 -> 1 and production 1 -> 0 passes through duplicates
    await query(
      tx,
      doing,
      `insert into promote.environments as e (app, name, position)
       select $1, name, (ordinality - 1)::integer from unnest($2::text[]) with ordinality as t (name, ordinality)
       on conflict (app, name) do update set
         position = excluded.position,
         updated_at = case when e.position <> excluded.position then now() else e.updated_at end`,
      [app, names],
    );
  }
  // check the deferred constraint now, so a violation is reported here rather than at commit, then put
  // it back: the caller's transaction, when there is one, keeps its own constraint modes
  await query(tx, doing, 'set constraints promote.environments_app_position_key immediate');
  await query(tx, doing, 'set constraints promote.environments_app_position_key deferred');
  // a change of the promotion order is a change of what a release must pass through: in the trail, same transaction
  const before = existing.rows.map((row) => row.name);
  if (before.join('\n') !== names.join('\n')) {
    await appendEvent(tx, {
      type: 'environments.changed',
      actor,
      app,
      data: { environments: names, before, added: names.filter((name) => !before.includes(name)), removed },
    });
  }
  return listEnvironments(tx, app);
}

function refuseRemoval(app: string, environment: string, rollouts: number | undefined, others: string[]): PromoteError {
  const count = rollouts === undefined ? 'rollouts' : `${rollouts} rollout${rollouts === 1 ? '' : 's'}`;
  const also = others.length > 0 ? ` (so do ${others.map((name) => `"${name}"`).join(', ')})` : '';
  return new PromoteError(`cannot remove environment "${environment}" of app "${app}": it has ${count} in its history${also}`, {
    hint: 'keep the environment in promote.yaml; its rollouts and audit trail refer to it',
  });
}

/** The app's environments in promotion order. */
export async function listEnvironments(db: Queryable, app: string): Promise<Environment[]> {
  const result = await query<EnvironmentRow>(db, `listing the environments of app "${app}"`, `select ${COLUMNS} from promote.environments where app = $1 order by position`, [app]);
  return result.rows.map(toEnvironment);
}
