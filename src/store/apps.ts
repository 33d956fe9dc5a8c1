import { PromoteError } from '../errors.js';
import { checkName, query, toDate, type Queryable } from './queryable.js';

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
  const result = await query<AppRow>(
    db,
    `recording app "${input.name}"`,
    `insert into promote.apps as a (name, description) values ($1, $2)
     on conflict (name) do update set
       description = case when $3 then excluded.description else a.description end,
       updated_at = case when $3 and excluded.description is distinct from a.description then now() else a.updated_at end
     returning ${COLUMNS}`,
    [input.name, input.description ?? null, setDescription],
  );
  return toApp(result.rows[0]!);
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
