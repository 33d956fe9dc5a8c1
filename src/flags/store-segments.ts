import { isDeepStrictEqual } from 'node:util';
import { UsageError } from '../errors.js';
import type { Constraint } from './model.js';
import { query, rethrow, toDate, toId, withTransaction, type Queryable, type TransactionClient } from '../store/queryable.js';
import { assertApp, bumpRevision, checkActor, listChanges, lockSubject, recordChange, type ChangeOptions, type FlagChange } from './store-changes.js';
import { FlagConflictError, FlagNotFoundError, FlagValidationError, validateFlag, type FieldProblem } from './store-errors.js';

/** A named list of constraints shared by the flags of an app; the client format refers to it by id. */
export interface FlagSegment {
  id: number;
  app: string;
  name: string;
  description: string | null;
  constraints: Constraint[];
  version: number;
  createdBy: string;
  createdAt: Date;
  updatedBy: string;
  updatedAt: Date;
}

export interface SegmentInput {
  name: string;
  description?: string | null;
  constraints: unknown[];
}

interface SegmentRow {
  id: string;
  app: string;
  name: string;
  description: string | null;
  constraints: Constraint[];
  version: number;
  created_by: string;
  created_at: Date;
  updated_by: string;
  updated_at: Date;
}

const COLUMNS = 'id, app, name, description, constraints, version, created_by, created_at, updated_by, updated_at';
const NAME_PATTERN = /^[A-Za-z0-9._-]{1,100}$/;

function toSegment(row: SegmentRow): FlagSegment {
  return {
    id: toId(row.id),
    app: row.app,
    name: row.name,
    description: row.description,
    constraints: row.constraints,
    version: row.version,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedBy: row.updated_by,
    updatedAt: toDate(row.updated_at),
  };
}

/**
 * Validates a segment. Its constraints are checked by the flag schema itself, as the constraints of a
 * strategy, so a segment accepts exactly what a strategy accepts and the two never drift apart.
 */
export function validateSegment(input: unknown): { name: string; description: string | null; constraints: Constraint[] } {
  const problems: FieldProblem[] = [];
  const segment = (input ?? {}) as Partial<SegmentInput> & Record<string, unknown>;
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new FlagValidationError('the segment', [{ field: '', path: [], message: 'expected an object with name and constraints' }]);
  for (const key of Object.keys(segment)) {
    if (!['name', 'description', 'constraints'].includes(key)) problems.push({ field: key, path: [key], message: `unknown field "${key}" (a segment has name, description and constraints)` });
  }
  if (typeof segment.name !== 'string' || !NAME_PATTERN.test(segment.name)) problems.push({ field: 'name', path: ['name'], message: 'expected a segment name of letters, digits, ".", "_" and "-" (1 to 100 characters)' });
  if (segment.description !== undefined && segment.description !== null && typeof segment.description !== 'string') problems.push({ field: 'description', path: ['description'], message: 'expected text' });
  let constraints: Constraint[] = [];
  if (!Array.isArray(segment.constraints)) {
    problems.push({ field: 'constraints', path: ['constraints'], message: 'expected a list of constraints' });
  } else {
    try {
      const probe = validateFlag({ name: 'segment', strategies: [{ name: 'default', constraints: segment.constraints }] });
      constraints = ((probe as { strategies?: Array<{ constraints?: Constraint[] }> }).strategies?.[0]?.constraints ?? []);
    } catch (error) {
      if (!(error instanceof FlagValidationError)) throw error;
      for (const problem of error.problems) {
        const path = ['constraints', ...problem.path.slice(3)];
        problems.push({ field: `constraints${problem.field.slice('strategies[0].constraints'.length)}`, path, message: problem.message });
      }
    }
  }
  if (problems.length > 0) throw new FlagValidationError(typeof segment.name === 'string' ? `segment "${segment.name}"` : 'the segment', problems);
  return { name: segment.name!, description: segment.description ?? null, constraints };
}

export async function listSegments(db: Queryable, app: string): Promise<FlagSegment[]> {
  const doing = `listing the segments of app ${app}`;
  try {
    await assertApp(db, app);
    const result = await query<SegmentRow>(db, doing, `select ${COLUMNS} from promote.flag_segments where app = $1 order by name`, [app]);
    return result.rows.map(toSegment);
  } catch (error) {
    rethrow(doing, error);
  }
}

export async function getSegment(db: Queryable, app: string, name: string): Promise<FlagSegment | undefined> {
  const doing = `reading segment ${name} of app ${app}`;
  try {
    await assertApp(db, app);
    const result = await query<SegmentRow>(db, doing, `select ${COLUMNS} from promote.flag_segments where app = $1 and name = $2`, [app, name]);
    return result.rows[0] ? toSegment(result.rows[0]) : undefined;
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Every environment of the app: a segment change changes the ruleset of each. */
async function bumpAllEnvironments(tx: TransactionClient, app: string): Promise<Record<string, number>> {
  const environments = await query<{ name: string }>(tx, `listing the environments of app ${app}`, 'select name from promote.environments where app = $1 order by position', [app]);
  const revisions: Record<string, number> = {};
  for (const { name } of environments.rows) revisions[name] = await bumpRevision(tx, { app, environment: name });
  return revisions;
}

function versionConflict(app: string, name: string, current: number, options: ChangeOptions): FlagConflictError | undefined {
  if (options.expectedVersion === undefined || options.expectedVersion === current) return undefined;
  const now = current === 0 ? 'it does not exist now' : `it is at version ${current} now`;
  const read = options.expectedVersion === 0 ? 'you expected it not to exist' : `you read version ${options.expectedVersion}`;
  return new FlagConflictError(`segment "${name}" of app ${app} changed since you read it: ${read}, ${now}`, { hint: 'read the segment again and reapply your change' });
}

/** Creates or replaces a segment (validated like a strategy's constraints); the same content changes nothing. */
export async function putSegment(db: Queryable, app: string, input: unknown, options: ChangeOptions & { name?: string }): Promise<{ segment: FlagSegment; change: FlagChange | null }> {
  const segment = validateSegment(input);
  if (options.name !== undefined && options.name !== segment.name) {
    throw new FlagValidationError(`segment "${segment.name}"`, [{ field: 'name', path: ['name'], message: `must be "${options.name}", the segment this request writes, got "${segment.name}"` }]);
  }
  const doing = `saving segment ${segment.name} of app ${app}`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      await assertApp(tx, app);
      await lockSubject(tx, `segment ${app}/${segment.name}`);
      const existing = (await query<SegmentRow>(tx, doing, `select ${COLUMNS} from promote.flag_segments where app = $1 and name = $2 for update`, [app, segment.name])).rows[0];
      const conflict = versionConflict(app, segment.name, existing?.version ?? 0, options);
      if (conflict) throw conflict;
      const before = existing ? { name: existing.name, description: existing.description, constraints: existing.constraints } : null;
      const after = { name: segment.name, description: segment.description, constraints: segment.constraints };
      if (existing && isDeepStrictEqual(before, after)) return { segment: toSegment(existing), change: null };
      const result = await query<SegmentRow>(
        tx,
        doing,
        `insert into promote.flag_segments as s (app, name, description, constraints, created_by, updated_by) values ($1, $2, $3, $4::jsonb, $5, $5)
         on conflict (app, name) do update set description = excluded.description, constraints = excluded.constraints, version = s.version + 1, updated_by = excluded.updated_by, updated_at = now()
         returning ${COLUMNS}`,
        [app, segment.name, segment.description, JSON.stringify(segment.constraints), options.actor],
      );
      const stored = toSegment(result.rows[0]!);
      const revisions = await bumpAllEnvironments(tx, app);
      const change = await recordChange(tx, { app, environment: null, subject: 'segment', name: segment.name, action: existing ? 'updated' : 'created', before, after, version: stored.version, revisions }, options);
      return { segment: stored, change };
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Deletes a segment no flag uses; while flags use it, the error names them (environment/flag). */
export async function deleteSegment(db: Queryable, app: string, name: string, options: ChangeOptions): Promise<FlagChange> {
  const doing = `deleting segment ${name} of app ${app}`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      await assertApp(tx, app);
      const existing = (await query<SegmentRow>(tx, doing, `select ${COLUMNS} from promote.flag_segments where app = $1 and name = $2 for update`, [app, name])).rows[0];
      if (!existing) throw new FlagNotFoundError(`app ${app} has no segment "${name}"`);
      const conflict = versionConflict(app, name, existing.version, options);
      if (conflict) throw conflict;
      // flags are checked under the segment's row lock; a flag written meanwhile checks its references under the same lock order
      const users = await query<{ environment: string; name: string }>(
        tx,
        doing,
        `select environment, name from promote.flags f
          where app = $1 and not archived
            and exists (select 1 from jsonb_array_elements(coalesce(f.definition->'strategies', '[]'::jsonb)) s
                         where coalesce(s->'segments', '[]'::jsonb) ? $2)
          order by environment, name`,
        [app, name],
      );
      if (users.rows.length > 0) {
        const list = users.rows.map((row) => `${row.environment}/${row.name}`).join(', ');
        throw new FlagConflictError(`segment "${name}" of app ${app} is still used by ${users.rows.length === 1 ? 'flag' : 'flags'} ${list}`, { hint: 'remove the segment from those flags first' });
      }
      await query(tx, doing, 'delete from promote.flag_segments where id = $1', [existing.id]);
      const revisions = await bumpAllEnvironments(tx, app);
      return recordChange(tx, { app, environment: null, subject: 'segment', name, action: 'deleted', before: { name: existing.name, description: existing.description, constraints: existing.constraints }, after: null, version: existing.version, revisions }, options);
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

export async function segmentHistory(db: Queryable, app: string, name: string, options: { limit?: number } = {}): Promise<FlagChange[]> {
  if (typeof name !== 'string' || name === '') throw new UsageError('a segment name is needed');
  return listChanges(db, { app, environment: null, subject: 'segment', name, ...(options.limit !== undefined ? { limit: options.limit } : {}) });
}
