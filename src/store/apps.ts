import { PromoteError } from '../errors.js';
import { appendEvent } from './events.js';
import { checkName, query, rethrow, toDate, withTransaction, type Queryable } from './queryable.js';

/** Who records an app when the caller does not say (a rollout start records the app it starts in). */
const SYSTEM_ACTOR = 'promote';

export interface App {
  name: string;
  description: string | null;
  createdAt: Date;
  updatedAt: Date;
}

export interface AppInput {
  name: string;
  /** omitted: keep the recorded description; null: clear it */
  description?: string | null;
  /** who records it, for the audit trail; default "promote" */
  actor?: string;
}

interface AppRow {
  name: string;
  description: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

const COLUMNS = 'name, description, created_at, updated_at';

function toApp(row: AppRow): App {
  return { name: row.name, description: row.description, createdAt: toDate(row.created_at), updatedAt: toDate(row.updated_at) };
}

/** Records an app, or updates its description; `updatedAt` moves only when something changed. */
export async function upsertApp(db: Queryable, input: AppInput): Promise<App> {
  checkName('app', input.name);
  if (input.description !== undefined && input.description !== null && typeof input.description !== 'string') {
    throw new PromoteError(`the description of app "${input.name}" must be text`);
  }
  const setDescription = input.description !== undefined;
  const doing = `recording app "${input.name}"`;
  try {
    // the app and its audit event commit together: an app recorded or described anew is in the trail
    return await withTransaction(db, async (tx) => {
      const before = await query<{ description: string | null }>(tx, doing, 'select description from promote.apps where name = $1 for update', [input.name]);
      const result = await query<AppRow & { inserted: boolean }>(
        tx,
        doing,
        `insert into promote.apps as a (name, description) values ($1, $2)
         on conflict (name) do update set
           description = case when $3 then excluded.description else a.description end,
           updated_at = case when $3 and excluded.description is distinct from a.description then now() else a.updated_at end
         returning ${COLUMNS}, (xmax = 0) as inserted`,
        [input.name, input.description ?? null, setDescription],
      );
      const row = result.rows[0]!;
      const app = toApp(row);
      const previous = before.rows[0];
      // (a first record racing another: the row seen by neither select; the one that inserted records it)
      if (row.inserted || (previous !== undefined && previous.description !== app.description)) {
        await appendEvent(tx, {
          type: row.inserted ? 'app.recorded' : 'app.changed',
          actor: input.actor ?? SYSTEM_ACTOR,
          app: app.name,
          data: row.inserted ? { description: app.description } : { description: app.description, before: previous?.description ?? null },
        });
      }
      return app;
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

export async function getApp(db: Queryable, name: string): Promise<App | undefined> {
  const result = await query<AppRow>(db, `reading app "${name}"`, `select ${COLUMNS} from promote.apps where name = $1`, [name]);
  const row = result.rows[0];
  return row ? toApp(row) : undefined;
}

/** All apps, by name. */
export async function listApps(db: Queryable): Promise<App[]> {
  const result = await query<AppRow>(db, 'listing apps', `select ${COLUMNS} from promote.apps order by name`);
  return result.rows.map(toApp);
}
