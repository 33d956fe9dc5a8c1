import { isDeepStrictEqual } from 'node:util';
import { UsageError } from '../errors.js';
import { query, rethrow, toDate, withTransaction, type Queryable, type TransactionClient } from '../store/queryable.js';
import type { FlagScope } from './source.js';
import { assertScope, bumpRevision, checkActor, listChanges, lockSubject, recordChange, scopeText, type ChangeOptions, type FlagChange } from './store-changes.js';
import { checkStoredDependencies } from './store-dependencies.js';
import { FlagConflictError, FlagNotFoundError, FlagValidationError, validateFlag, type FlagDefinition } from './store-errors.js';

export interface StoredFlag {
  app: string;
  environment: string;
  name: string;
  definition: FlagDefinition;
  /** grows by one with every change; pass it back as `expectedVersion` to write only over what you read */
  version: number;
  archived: boolean;
  createdBy: string;
  createdAt: Date;
  updatedBy: string;
  updatedAt: Date;
}

export interface FlagWrite {
  flag: StoredFlag;
  /** the history entry, or null when the write changed nothing */
  change: FlagChange | null;
}

interface FlagRow {
  app: string;
  environment: string;
  name: string;
  definition: FlagDefinition;
  version: number;
  archived: boolean;
  created_by: string;
  created_at: Date;
  updated_by: string;
  updated_at: Date;
}

export const FLAG_COLUMNS = 'app, environment, name, definition, version, archived, created_by, created_at, updated_by, updated_at';

export function toStoredFlag(row: FlagRow): StoredFlag {
  return {
    app: row.app,
    environment: row.environment,
    name: row.name,
    definition: row.definition,
    version: row.version,
    archived: row.archived,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    updatedBy: row.updated_by,
    updatedAt: toDate(row.updated_at),
  };
}

/** The scope's flags by name; archived ones only with `includeArchived`. */
export async function listFlags(db: Queryable, scope: FlagScope, options: { includeArchived?: boolean } = {}): Promise<StoredFlag[]> {
  const doing = `listing the flags of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    const result = await query<FlagRow>(db, doing, `select ${FLAG_COLUMNS} from promote.flags where app = $1 and environment = $2 and ($3 or not archived) order by name`, [scope.app, scope.environment, options.includeArchived === true]);
    return result.rows.map(toStoredFlag);
  } catch (error) {
    rethrow(doing, error);
  }
}

/** One flag, archived or not; undefined when the scope has never had it. */
export async function getFlag(db: Queryable, scope: FlagScope, name: string): Promise<StoredFlag | undefined> {
  const doing = `reading flag ${name} of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    const result = await query<FlagRow>(db, doing, `select ${FLAG_COLUMNS} from promote.flags where app = $1 and environment = $2 and name = $3`, [scope.app, scope.environment, name]);
    return result.rows[0] ? toStoredFlag(result.rows[0]) : undefined;
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Like {@link getFlag}, but a missing (or archived, unless allowed) flag is a FlagNotFoundError. */
export async function requireFlag(db: Queryable, scope: FlagScope, name: string, options: { allowArchived?: boolean } = {}): Promise<StoredFlag> {
  const flag = await getFlag(db, scope, name);
  if (!flag || (flag.archived && !options.allowArchived)) throw notFound(scope, name, flag?.archived === true);
  return flag;
}

function notFound(scope: FlagScope, name: string, archived: boolean): FlagNotFoundError {
  return new FlagNotFoundError(`${scopeText(scope)} has no flag "${name}"${archived ? ' (it is archived)' : ''}`, archived ? { hint: 'put the flag again to restore it' } : {});
}

function checkExpectedVersion(scope: FlagScope, name: string, existing: FlagRow | undefined, options: ChangeOptions): void {
  if (options.expectedVersion === undefined) return;
  const current = existing && !existing.archived ? existing.version : 0;
  if (current === options.expectedVersion) return;
  const now = current === 0 ? 'it does not exist now' : `it is at version ${current} now`;
  const read = options.expectedVersion === 0 ? 'you expected it not to exist' : `you read version ${options.expectedVersion}`;
  throw new FlagConflictError(`flag "${name}" of ${scopeText(scope)} changed since you read it: ${read}, ${now}`, { hint: 'read the flag again and reapply your change' });
}

/**
 * Strategy segment references must name segments of the app; the message names the field. The rows are
 * locked FOR SHARE so a segment cannot be deleted between this check and the commit.
 */
async function checkSegmentReferences(tx: TransactionClient, app: string, definition: FlagDefinition): Promise<void> {
  const strategies = (definition as { strategies?: Array<{ segments?: unknown }> }).strategies ?? [];
  const wanted = strategies.flatMap((strategy, index) => (Array.isArray(strategy.segments) ? strategy.segments.map((name, position) => ({ name: String(name), index, position })) : []));
  if (wanted.length === 0) return;
  const known = await query<{ name: string }>(tx, `checking the segments flag ${definition.name} uses`, 'select name from promote.flag_segments where app = $1 and name = any($2::text[]) for share', [app, wanted.map((each) => each.name)]);
  const names = new Set(known.rows.map((row) => row.name));
  const missing = wanted.filter((each) => !names.has(each.name));
  if (missing.length > 0) {
    throw new FlagValidationError(
      `flag "${definition.name}"`,
      missing.map((each) => ({ field: `strategies[${each.index}].segments[${each.position}]`, path: ['strategies', each.index, 'segments', each.position], message: `app ${app} has no segment "${each.name}"` })),
    );
  }
}

async function lockFlag(tx: TransactionClient, scope: FlagScope, name: string): Promise<FlagRow | undefined> {
  await lockSubject(tx, `flag ${scopeText(scope)}/${name}`);
  const result = await query<FlagRow>(tx, `reading flag ${name} of ${scopeText(scope)}`, `select ${FLAG_COLUMNS} from promote.flags where app = $1 and environment = $2 and name = $3 for update`, [scope.app, scope.environment, name]);
  return result.rows[0];
}

interface WriteContext {
  action: string;
  scheduleId?: number | null;
}

/** Writes a validated definition over `existing` (or creates it), with history, event and revision. */
async function writeFlag(tx: TransactionClient, scope: FlagScope, existing: FlagRow | undefined, definition: FlagDefinition, options: ChangeOptions, context: WriteContext): Promise<FlagWrite> {
  if (existing && !existing.archived && isDeepStrictEqual(existing.definition, definition)) return { flag: toStoredFlag(existing), change: null };
  await checkSegmentReferences(tx, scope.app, definition);
  await checkStoredDependencies(tx, scope, definition);
  const doing = `saving flag ${definition.name} of ${scopeText(scope)}`;
  const result = await query<FlagRow>(
    tx,
    doing,
    `insert into promote.flags as f (app, environment, name, definition, created_by, updated_by) values ($1, $2, $3, $4::jsonb, $5, $5)
     on conflict (app, environment, name) do update set definition = excluded.definition, version = f.version + 1, archived = false, updated_by = excluded.updated_by, updated_at = now()
     returning ${FLAG_COLUMNS}`,
    [scope.app, scope.environment, definition.name, JSON.stringify(definition), options.actor],
  );
  const flag = toStoredFlag(result.rows[0]!);
  const revision = await bumpRevision(tx, scope);
  const action = existing === undefined ? 'created' : existing.archived ? 'restored' : context.action;
  const change = await recordChange(
    tx,
    {
      app: scope.app,
      environment: scope.environment,
      subject: 'flag',
      name: flag.name,
      action,
      before: existing && !existing.archived ? (existing.definition) : null,
      after: flag.definition,
      ...(existing?.archived ? { diff: ['archived'] } : {}),
      version: flag.version,
      scheduleId: context.scheduleId ?? null,
      revisions: { [scope.environment]: revision },
    },
    options,
  );
  return { flag, change };
}

/**
 * Creates or replaces a flag. `input` is validated with `flagSchema` (the error names each bad field);
 * `name`, when given (the URL's), must match the flag's own. A write identical to what is stored changes
 * nothing and returns `change: null`, so replaying it is harmless. Putting an archived flag restores it.
 */
export async function putFlag(db: Queryable, scope: FlagScope, input: unknown, options: ChangeOptions & { name?: string; scheduleId?: number }): Promise<FlagWrite> {
  const definition = validateFlag(input);
  if (options.name !== undefined && options.name !== definition.name) {
    throw new FlagValidationError(`flag "${definition.name}"`, [{ field: 'name', path: ['name'], message: `must be "${options.name}", the flag this request writes, got "${definition.name}"` }]);
  }
  const doing = `saving flag ${definition.name} of ${scopeText(scope)}`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      await assertScope(tx, scope);
      const existing = await lockFlag(tx, scope, definition.name);
      checkExpectedVersion(scope, definition.name, existing, options);
      return writeFlag(tx, scope, existing, definition, options, { action: 'updated', scheduleId: options.scheduleId ?? null });
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/**
 * Reads a flag under a row lock, applies `edit` to a copy of its definition, validates the result and
 * writes it: the building block of enable, disable, rollout and variants.
 */
export async function modifyFlag(
  db: Queryable,
  scope: FlagScope,
  name: string,
  action: string,
  edit: (definition: FlagDefinition) => unknown,
  options: ChangeOptions & { scheduleId?: number },
): Promise<FlagWrite> {
  const doing = `changing flag ${name} of ${scopeText(scope)} (${action})`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      await assertScope(tx, scope);
      const existing = await lockFlag(tx, scope, name);
      if (!existing || existing.archived) throw notFound(scope, name, existing?.archived === true);
      checkExpectedVersion(scope, name, existing, options);
      const definition = validateFlag(edit(structuredClone(existing.definition)), `flag "${name}" after ${action}`);
      return writeFlag(tx, scope, existing, definition, options, { action, scheduleId: options.scheduleId ?? null });
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

export async function enableFlag(db: Queryable, scope: FlagScope, name: string, options: ChangeOptions & { scheduleId?: number }): Promise<FlagWrite> {
  return modifyFlag(db, scope, name, 'enabled', (definition) => ({ ...definition, enabled: true }), options);
}

export async function disableFlag(db: Queryable, scope: FlagScope, name: string, options: ChangeOptions & { scheduleId?: number }): Promise<FlagWrite> {
  return modifyFlag(db, scope, name, 'disabled', (definition) => ({ ...definition, enabled: false }), options);
}

type LooseStrategy = { name: string; parameters?: Record<string, unknown>; disabled?: boolean };

/**
 * Sets the `rollout` parameter of the flag's first enabled flexibleRollout strategy, adding one (sticky
 * on `default`, groupId the flag's name) when it has none. Whether the flag is enabled is left as is.
 */
export async function setFlagRollout(db: Queryable, scope: FlagScope, name: string, percent: number, options: ChangeOptions & { scheduleId?: number }): Promise<FlagWrite> {
  if (typeof percent !== 'number' || !Number.isInteger(percent) || percent < 0 || percent > 100) {
    throw new FlagValidationError(`the rollout of flag "${name}"`, [{ field: 'percent', path: ['percent'], message: `expected a whole number from 0 to 100, got ${String(percent)}` }]);
  }
  return modifyFlag(db, scope, name, 'rollout', (definition) => {
    const strategies = [...(((definition as { strategies?: LooseStrategy[] }).strategies ?? []))];
    const index = strategies.findIndex((strategy) => strategy.name === 'flexibleRollout' && strategy.disabled !== true);
    if (index === -1) {
      strategies.push({ name: 'flexibleRollout', parameters: { rollout: percent, stickiness: 'default', groupId: name } });
    } else {
      const current = strategies[index]!;
      // keep the parameter's type: Unleash writes "50", our own flags may say 50
      const rollout = typeof current.parameters?.rollout === 'string' ? String(percent) : percent;
      strategies[index] = { ...current, parameters: { ...current.parameters, rollout } };
    }
    return { ...definition, strategies };
  }, options);
}

type LooseVariant = { name: string; weight: number; weightType?: string; stickiness?: string };

/**
 * Sets the weights (out of 1000) of the named variants; a name the flag does not have yet is added,
 * sticky on `default`. Weights set here are fixed (`weightType: 'fix'`); variants not named keep theirs.
 * The schema refuses a result whose weights add up to more than 1000.
 */
export async function setVariantWeights(db: Queryable, scope: FlagScope, name: string, weights: Record<string, number>, options: ChangeOptions & { scheduleId?: number }): Promise<FlagWrite> {
  const entries = Object.entries(weights ?? {});
  if (entries.length === 0) throw new UsageError(`setting the variant weights of flag "${name}" needs at least one variant=weight`);
  const bad = entries.filter(([, weight]) => typeof weight !== 'number' || !Number.isInteger(weight) || weight < 0 || weight > 1000);
  if (bad.length > 0) {
    throw new FlagValidationError(
      `the variant weights of flag "${name}"`,
      bad.map(([variant, weight]) => ({ field: `weights.${variant}`, path: ['weights', variant], message: `expected a whole number from 0 to 1000, got ${String(weight)}` })),
    );
  }
  return modifyFlag(db, scope, name, 'variants', (definition) => {
    const variants = [...(((definition as { variants?: LooseVariant[] }).variants ?? []))];
    for (const [variant, weight] of entries) {
      const index = variants.findIndex((each) => each.name === variant);
      if (index === -1) variants.push({ name: variant, weight, weightType: 'fix', stickiness: 'default' });
      else variants[index] = { ...variants[index]!, weight, weightType: 'fix' };
    }
    return { ...definition, variants };
  }, options);
}

/** Archives a flag: it leaves the ruleset (SDKs see it as unknown) but keeps its history; a put restores it. */
export async function archiveFlag(db: Queryable, scope: FlagScope, name: string, options: ChangeOptions & { scheduleId?: number }): Promise<FlagWrite> {
  const doing = `archiving flag ${name} of ${scopeText(scope)}`;
  checkActor(options, doing);
  try {
    return await withTransaction(db, async (tx) => {
      await assertScope(tx, scope);
      const existing = await lockFlag(tx, scope, name);
      if (!existing) throw notFound(scope, name, false);
      if (existing.archived) return { flag: toStoredFlag(existing), change: null };
      checkExpectedVersion(scope, name, existing, options);
      const result = await query<FlagRow>(tx, doing, `update promote.flags set archived = true, version = version + 1, updated_by = $4, updated_at = now() where app = $1 and environment = $2 and name = $3 returning ${FLAG_COLUMNS}`, [scope.app, scope.environment, name, options.actor]);
      const flag = toStoredFlag(result.rows[0]!);
      const revision = await bumpRevision(tx, scope);
      const change = await recordChange(
        tx,
        { app: scope.app, environment: scope.environment, subject: 'flag', name, action: 'archived', before: existing.definition, after: null, diff: ['archived'], version: flag.version, scheduleId: options.scheduleId ?? null, revisions: { [scope.environment]: revision } },
        options,
      );
      return { flag, change };
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

/** Every change of a flag in one environment, newest first (default 100, at most 10 000). */
export async function flagHistory(db: Queryable, scope: FlagScope, name: string, options: { limit?: number } = {}): Promise<FlagChange[]> {
  const doing = `reading the history of flag ${name} of ${scopeText(scope)}`;
  try {
    await assertScope(db, scope);
    return await listChanges(db, { app: scope.app, environment: scope.environment, subject: 'flag', name, ...(options.limit !== undefined ? { limit: options.limit } : {}) });
  } catch (error) {
    rethrow(doing, error);
  }
}
