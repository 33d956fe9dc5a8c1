/**
 * Duplicating columns: the way an operation changes what a column accepts (its constraints, its
 * type, its nullability) without blocking writers. Each column gets a twin `_promote_new_<col>` with
 * the old column's type, default and comment (or the operation's), nullability as a NOT VALID check,
 * and copies of the checks, foreign keys, unique constraints and indexes that mention it, built so
 * nothing scans the table under a lock (NOT VALID, CONCURRENTLY) and named `_promote_dup_<name>`.
 * Triggers keep the pair in step (`up` old -> new for the old version's writes, `down` new -> old for
 * the new version's), and the new version's views read the twins. Complete validates the copies,
 * drops the old columns (their constraints go with them) and gives the twins the old names and the
 * copies the old constraint names; rollback drops the twins, and everything on them goes too.
 *
 * API, for alter_column, create_constraint, drop_constraint and drop_multicolumn_constraint:
 * - `startDuplication(...)` at start: steps, and the table's columns now point at their twins;
 * - `completeDuplication(...)` at complete: `validate` steps (run before the operation's own
 *   validations), `replace` steps (old columns out, twins renamed, NOT NULL set, copies renamed),
 *   and it points the columns in `after` back at their final names;
 * - `rollbackDuplication(...)`.
 * A column is duplicated only when no earlier operation of the same migration moved it or its table
 * (name = physical): then the old column, the table and the twin have names known from the operation
 * alone, and complete finds every copy from the table's constraints and indexes in the model.
 */
import { loadModule, scanSync } from 'libpg-query';
import type pg from 'pg';
import { wrapError } from '../../errors.js';
import { renameColumnReferences } from '../expression.js';
import { newColumnName, notNullCheckName } from '../names.js';
import { boundedName, dollarQuote, ident, literal, qualified } from '../sql.js';
import { createTriggerSteps, dropNeedsBackfillColumnStep, dropTriggerStep } from '../triggers.js';
import type { VirtualConstraint, VirtualIndex, VirtualSchema, VirtualTable } from '../virtual-schema.js';
import { columnExists, constraintExists, guarded, hasText, regclass, relationExists, renameIndexColumnsStep } from './guards.js';
import { OperationError, type Step } from './types.js';
import { beforeSwitch, switchOf } from '../complete-schedule.js';

export interface ColumnDuplicate {
  /** the column's name, which is also its physical name (see the header) */
  name: string;
  /** the new column's value from the old version's row (old names); empty: the old value */
  up?: string;
  /** the old column's value from the new version's row (new names); empty: the new value */
  down?: string;
  /** the twin's type; the old column's by default. A copy (check, foreign key, default) that no longer fits it is left out, as pgroll does */
  type?: string;
  /** whether the twin must be NOT NULL; the old column's nullability by default */
  notNull?: boolean;
  /** the twin's default (null: none); the old column's by default */
  default?: string | null;
  /** the twin's comment (null: none); the old column's by default */
  comment?: string | null;
}

export interface DuplicationStart {
  schema: VirtualSchema;
  table: VirtualTable;
  columns: readonly ColumnDuplicate[];
  /** constraints (or indexes) of the table not to copy: the one an operation drops */
  without?: readonly string[];
  versionSchema: string;
  /** for the catalog checks made while planning */
  db: pg.Pool;
}

const DUPLICATE_PREFIX = '_promote_dup_';

/** The name a copied constraint or index carries until complete gives it the original's name. */
export function duplicateName(name: string): string {
  return boundedName(`${DUPLICATE_PREFIX}${name}`);
}

/** Refuses what duplication cannot do; returns nothing, throws OperationError. */
export function checkDuplicable(table: VirtualTable, columns: readonly string[]): void {
  if (table.name !== table.physical) {
    throw new OperationError(`table "${table.name}" was renamed earlier in this migration; change its columns in a migration of its own`);
  }
  for (const name of columns) {
    const column = table.columns.find((each) => each.name === name);
    if (column === undefined) continue;
    if (column.physical !== column.name) throw new OperationError(`column "${name}" of table "${table.name}" was added, renamed or changed earlier in this migration; change it in a migration of its own`);
    if (column.generated) throw new OperationError(`column "${name}" of table "${table.name}" is an identity or generated column, which cannot be duplicated to change it`);
  }
  for (const constraint of table.constraints) {
    if (!constraint.columns.some((column) => columns.includes(column))) continue;
    if (constraint.type === 'primary_key') {
      throw new OperationError(`column "${constraint.columns.find((column) => columns.includes(column)) ?? ''}" is part of the primary key of table "${table.name}", which cannot be duplicated (the backfill walks that key)`);
    }
    if (constraint.type === 'exclude') throw new OperationError(`constraint "${constraint.name}" of table "${table.name}" is an exclusion constraint on a column that would be duplicated, which is not supported`);
  }
}

/** Dropping the old column on complete would need CASCADE and drop another table's foreign key. */
async function refuseInboundForeignKeys(db: pg.Pool, schema: string, table: VirtualTable, columns: readonly string[]): Promise<void> {
  let inbound: { name: string; table: string; column: string }[];
  try {
    const result = await db.query<{ name: string; table: string; column: string }>(
      `select k.conname as name, k.conrelid::regclass::text as table, a.attname as column from pg_constraint k join pg_attribute a on a.attrelid = k.confrelid and a.attnum = any(k.confkey)
        where k.contype = 'f' and k.confrelid = ${regclass(schema, table.physical)} and a.attname = any($1::text[])`,
      [columns],
    );
    inbound = result.rows;
  } catch (error) {
    throw wrapError(`looking for foreign keys that reference table "${table.name}"`, error);
  }
  if (inbound.length > 0) {
    const list = inbound.map((row) => `"${row.name}" of ${row.table}`).join(', ');
    throw new OperationError(`column "${inbound[0]?.column ?? ''}" of table "${table.name}" is referenced by foreign keys (${list}), which cannot be carried over to the column's new copy`);
  }
}

interface CopyPlan {
  checks: VirtualConstraint[];
  foreignKeys: VirtualConstraint[];
  uniques: VirtualConstraint[];
}

/**
 * The constraints copied to the twins: a pure function of the table, so complete finds what start
 * made (a copy start left out because it no longer fits a new type is simply not there).
 */
function copyPlan(table: VirtualTable, columns: readonly string[], without: readonly string[]): CopyPlan {
  const mentions = (constraint: VirtualConstraint) => !without.includes(constraint.name) && constraint.columns.some((column) => columns.includes(column)) && !isPromoteName(constraint.name);
  return {
    checks: table.constraints.filter((constraint) => constraint.type === 'check' && mentions(constraint)),
    foreignKeys: table.constraints.filter((constraint) => constraint.type === 'foreign_key' && mentions(constraint)),
    uniques: table.constraints.filter((constraint) => constraint.type === 'unique' && mentions(constraint)),
  };
}

/** Indexes that are not a constraint's: their copies are plain indexes, renamed on complete. */
function plainIndexes(table: VirtualTable, without: readonly string[]): VirtualIndex[] {
  const constraintNames = new Set(table.constraints.map((constraint) => constraint.name));
  return table.indexes.filter((index) => !constraintNames.has(index.name) && !without.includes(index.name) && !isPromoteName(index.name));
}

function isPromoteName(name: string): boolean {
  return name.startsWith('_promote_');
}

/** Start: the twins, their copies, the dual-write triggers; the table's columns now point at the twins. */
export async function startDuplication({ schema, table, columns, without = [], versionSchema, db }: DuplicationStart): Promise<Step[]> {
  const names = columns.map((column) => column.name);
  checkDuplicable(table, names);
  await refuseInboundForeignKeys(db, schema.name, table, names);
  const target = qualified(schema.name, table.physical);
  const renames = new Map(names.map((name) => [name, newColumnName(name)]));
  const twin = (column: string) => renames.get(column) ?? column;
  // a copy that does not fit a column's new type is left out, as pgroll does
  const retyped = columns.some((column) => column.type !== undefined);
  const oldShape: VirtualTable = { ...table, columns: table.columns.map((column) => ({ ...column })) };
  const steps: Step[] = [];
  for (const duplicate of columns) {
    const column = oldShape.columns.find((each) => each.name === duplicate.name);
    if (column === undefined) throw new OperationError(`column "${duplicate.name}" does not exist in table "${table.name}"`);
    const physical = twin(column.name);
    steps.push({ sql: addTwinSql(schema.name, table.physical, column.physical, physical, duplicate) });
    if (duplicate.notNull ?? !column.nullable) {
      steps.push({ sql: `alter table ${target} add constraint ${ident(notNullCheckName(column.name))} check (${ident(physical)} is not null) not valid` });
    }
  }
  const plan = copyPlan(table, names, without);
  for (const check of plan.checks) {
    const parts = /^CHECK \((.*)\)( NO INHERIT)?( NOT VALID)?$/s.exec(check.definition);
    if (parts === null) throw new OperationError(`cannot copy check constraint "${check.name}" (${check.definition}) to the duplicated columns`);
    const expression = await renameColumnReferences(parts[1] ?? '', renames);
    const sql = `alter table ${target} add constraint ${ident(duplicateName(check.name))} check (${expression})${parts[2] === undefined ? '' : ' no inherit'} not valid`;
    steps.push({ sql: retyped ? tolerant(sql, ['undefined_function', 'datatype_mismatch', 'invalid_text_representation', 'cannot_coerce']) : sql });
  }
  for (const foreignKey of plan.foreignKeys) {
    const references = /^FOREIGN KEY \([^)]*\) (REFERENCES .*?)( NOT VALID)?$/s.exec(foreignKey.definition)?.[1];
    if (references === undefined) throw new OperationError(`cannot copy foreign key "${foreignKey.name}" (${foreignKey.definition}) to the duplicated columns`);
    const sql = `alter table ${target} add constraint ${ident(duplicateName(foreignKey.name))} foreign key (${foreignKey.columns.map((column) => ident(twin(column))).join(', ')}) ${references} not valid`;
    steps.push({ sql: retyped ? tolerant(sql, ['datatype_mismatch']) : sql });
  }
  // indexes last: built concurrently, outside the transactions of the steps above
  const indexSteps: Step[] = [];
  for (const unique of plan.uniques) {
    const index = table.indexes.find((each) => each.name === unique.name);
    // the constraint's own index keeps its INCLUDE, NULLS NOT DISTINCT and storage parameters
    const text = index === undefined ? undefined : await indexOnTwins(index, table, names);
    const nulls = /NULLS NOT DISTINCT/.test(unique.definition) ? ' nulls not distinct' : '';
    const body = text?.renamed ?? ` (${unique.columns.map((column) => ident(twin(column))).join(', ')})${nulls}`;
    indexSteps.push({ sql: `create unique index concurrently if not exists ${ident(duplicateName(unique.name))} on ${target}${body}`, outsideTransaction: true });
  }
  for (const index of plainIndexes(table, without)) {
    const text = await indexOnTwins(index, table, names);
    if (text.renamed === text.original) continue;
    indexSteps.push({ sql: `create ${index.unique ? 'unique ' : ''}index concurrently if not exists ${ident(duplicateName(index.name))} on ${text.table}${text.renamed}`, outsideTransaction: true });
  }

  for (const column of table.columns) {
    const duplicate = columns.find((each) => each.name === column.name);
    if (duplicate === undefined) continue;
    column.physical = twin(column.name);
    if (duplicate.type !== undefined) column.type = duplicate.type;
    if (duplicate.notNull !== undefined) column.nullable = !duplicate.notNull;
    if (duplicate.default !== undefined) column.default = duplicate.default;
  }
  const newShape: VirtualTable = { ...table, columns: table.columns.map((column) => ({ ...column })) };
  for (const duplicate of columns) {
    const up = hasText(duplicate.up) ? duplicate.up : ident(duplicate.name);
    const down = hasText(duplicate.down) ? duplicate.down : ident(duplicate.name);
    steps.push(...createTriggerSteps({ schema, table: oldShape, target: twin(duplicate.name), expression: up, direction: 'up', versionSchema }));
    steps.push(...createTriggerSteps({ schema, table: newShape, target: duplicate.name, expression: down, direction: 'down', versionSchema }));
  }
  return [...steps, ...indexSteps];
}

export interface DuplicationComplete {
  /** VALIDATE of every NOT VALID copy: run before the old columns go, so a failure leaves them in place */
  validate: Step[];
  /** old columns dropped, twins renamed, NOT NULL set, copies renamed and attached */
  replace: Step[];
}

/**
 * Complete. `after` is the schema as the runner passes it; the columns of the table whose physical
 * name is `tableName` are pointed back at their final names, for the operations that complete later.
 */
export function completeDuplication(after: VirtualSchema, tableName: string, columns: readonly string[], without: readonly string[] = []): DuplicationComplete {
  const table = after.tables.find((each) => each.physical === tableName);
  if (table === undefined) throw new OperationError(`table "${tableName}" is not in the migration's schema`);
  const schemaName = after.name;
  const target = qualified(schemaName, tableName);
  const plan = copyPlan(table, columns, without);
  const validate: Step[] = [];
  const replace: Step[] = [];
  const validateIfExists = (name: string) => ({ sql: guarded(constraintExists(schemaName, tableName, name), [`alter table ${target} validate constraint ${ident(name)}`]) });
  for (const column of columns) validate.push(validateIfExists(notNullCheckName(column)));
  // a copy of a constraint that was itself NOT VALID may not hold either
  for (const constraint of [...plan.checks, ...plan.foreignKeys]) if (!/\bNOT VALID$/.test(constraint.definition)) validate.push(validateIfExists(duplicateName(constraint.name)));

  for (const column of columns) {
    replace.push(dropTriggerStep(schemaName, tableName, newColumnName(column)), dropTriggerStep(schemaName, tableName, column));
  }
  replace.push(dropNeedsBackfillColumnStep(schemaName, tableName));
  for (const column of columns) {
    const twin = newColumnName(column);
    // one transaction per column: run again after it, the twin is gone and the renamed column is left alone
    replace.push({ sql: replaceColumnSql(schemaName, tableName, column, twin) }, renameIndexColumnsStep(schemaName, tableName, twin, column));
    const notNull = notNullCheckName(column);
    // SET NOT NULL uses the validated check instead of scanning the table
    replace.push({
      sql: guarded(constraintExists(schemaName, tableName, notNull), [
        `alter table ${target} alter column ${ident(column)} set not null`,
        `alter table ${target} drop constraint ${ident(notNull)}`,
      ]),
    });
  }
  // a unique copy is a constraint already when an undone complete (undo.ts) renamed it back
  for (const constraint of [...plan.checks, ...plan.foreignKeys, ...plan.uniques]) {
    const copy = duplicateName(constraint.name);
    replace.push({ sql: guarded(constraintExists(schemaName, tableName, copy), [`alter table ${target} rename constraint ${ident(copy)} to ${ident(constraint.name)}`]) });
  }
  for (const unique of plan.uniques) {
    const copy = duplicateName(unique.name);
    const deferral = /\bDEFERRABLE\b/.test(unique.definition) ? ` deferrable${/\bINITIALLY DEFERRED\b/.test(unique.definition) ? ' initially deferred' : ''}` : '';
    replace.push({
      sql: guarded(`${relationExists(schemaName, copy)} and not ${constraintExists(schemaName, tableName, unique.name)}`, [
        `alter table ${target} add constraint ${ident(unique.name)} unique using index ${ident(copy)}${deferral}`,
      ]),
    });
  }
  for (const index of plainIndexes(table, without)) {
    const copy = duplicateName(index.name);
    replace.push({ sql: guarded(relationExists(schemaName, copy), [`alter index ${qualified(schemaName, copy)} rename to ${ident(index.name)}`]) });
  }
  for (const column of table.columns) {
    // found by its physical name: a later rename_column of the same migration may have renamed it
    const original = columns.find((name) => column.physical === newColumnName(name));
    if (original !== undefined) column.physical = original;
  }
  // validations before any switch (the SET NOT NULL above needs its check validated, or it scans under
  // the switch's lock); the rest is the table's switch
  return { validate: beforeSwitch(validate), replace: switchOf(tableName, replace) };
}

/** Rollback: the twins go, and with them every copy and index built on them. */
export function rollbackDuplication(schemaName: string, tableName: string, columns: readonly string[]): Step[] {
  const steps: Step[] = [];
  for (const column of columns) steps.push(dropTriggerStep(schemaName, tableName, newColumnName(column)), dropTriggerStep(schemaName, tableName, column));
  for (const column of columns) steps.push({ sql: `alter table if exists ${qualified(schemaName, tableName)} drop column if exists ${ident(newColumnName(column))}` });
  steps.push(dropNeedsBackfillColumnStep(schemaName, tableName));
  // the table's switch: the triggers go with the twins and bookkeeping columns they fill
  return switchOf(tableName, steps);
}

/** A statement whose failure with one of these conditions is ignored (the copy does not fit the new type). */
function tolerant(statement: string, conditions: readonly string[]): string {
  return `do ${dollarQuote(`begin\n  execute ${literal(statement)};\nexception when ${conditions.join(' or ')} then null;\nend`)}`;
}

/**
 * Drops the old column and renames the twin, in one transaction and only while the twin has its
 * temporary name (run again afterwards, `drop column <final>` would drop the new column). A serial's
 * sequence, owned by the old column, is handed to the twin first.
 */
function replaceColumnSql(schema: string, table: string, column: string, twin: string): string {
  const target = qualified(schema, table);
  const body = [
    'declare',
    // the old column may be kept aside under another name already (undo.ts), and this call fails on a missing column
    `  sequence text := case when ${columnExists(schema, table, column)} then pg_get_serial_sequence(${literal(target)}, ${literal(column)}) end;`,
    'begin',
    `  if ${columnExists(schema, table, twin)} then`,
    `    if sequence is not null then execute format('alter sequence %s owned by %s.%I', sequence, ${literal(target)}, ${literal(twin)}); end if;`,
    `    execute ${literal(`alter table ${target} drop column if exists ${ident(column)}`)};`,
    `    execute ${literal(`alter table ${target} rename column ${ident(twin)} to ${ident(column)}`)};`,
    '  end if;',
    'end',
  ];
  return `do ${dollarQuote(body.join('\n'))}`;
}

/**
 * Adds the twin with the old column's type, default and comment, read from the catalog when the step
 * runs (a table made earlier in the same migration is only on disk by then, and the model holds the
 * file's `serial` where the catalog has `integer` and the sequence's default), unless the operation
 * gives its own. The default is set after ADD COLUMN, which would otherwise evaluate it for every row
 * (a rewrite if it is volatile); the backfill fills the rows. An old default that does not fit a new
 * type is left out, as pgroll does.
 */
function addTwinSql(schema: string, table: string, from: string, to: string, duplicate: ColumnDuplicate): string {
  const target = literal(qualified(schema, table));
  const setDefault = `execute format('alter table %s alter column %I set default %s', ${target}, ${literal(to)}, source."default");`;
  const defaultLines =
    duplicate.default === undefined
      ? ['  if source."default" is not null then', '    begin', `      ${setDefault}`, '    exception when datatype_mismatch or cannot_coerce or invalid_text_representation then null;', '    end;', '  end if;']
      : duplicate.default === null
        ? []
        : [`  execute ${literal(`alter table ${qualified(schema, table)} alter column ${ident(to)} set default ${duplicate.default}`)};`];
  const commentLines =
    duplicate.comment === undefined
      ? ['  if source.comment is not null then', `    execute format('comment on column %s.%I is %L', ${target}, ${literal(to)}, source.comment);`, '  end if;']
      : duplicate.comment === null
        ? []
        : [`  execute format('comment on column %s.%I is %L', ${target}, ${literal(to)}, ${literal(duplicate.comment)});`];
  const body = [
    'declare',
    '  source record;',
    'begin',
    '  select format_type(a.atttypid, a.atttypmod) as type, pg_get_expr(d.adbin, d.adrelid) as "default", col_description(a.attrelid, a.attnum) as comment into source',
    '    from pg_attribute a left join pg_attrdef d on d.adrelid = a.attrelid and d.adnum = a.attnum',
    `   where a.attrelid = ${regclass(schema, table)} and a.attname = ${literal(from)} and not a.attisdropped;`,
    `  execute format('alter table %s add column if not exists %I %s', ${target}, ${literal(to)}, ${duplicate.type === undefined ? 'source.type' : literal(duplicate.type)});`,
    ...defaultLines,
    ...commentLines,
    'end',
  ];
  return `do ${dollarQuote(body.join('\n'))}`;
}

let loading: Promise<void> | undefined;

interface IndexText {
  /** the table, between ON and USING */
  table: string;
  /** from USING on, with the duplicated columns' names */
  renamed: string;
  original: string;
}

/** pg_get_indexdef leaves identifiers unquoted when they are plain names or unreserved keywords (like `name`). */
const UNRESERVED_KEYWORD = 1;

/**
 * An index's definition (pg_get_indexdef) over the twins: column names in the key, expressions,
 * INCLUDE and the predicate are rewritten token by token, except where a name is the access method
 * (after USING), a function (before `(`), a type (after `::`), a qualified name's part, an operator
 * class or ordering word (after another name), or a collation.
 */
async function indexOnTwins(index: VirtualIndex, table: VirtualTable, columns: readonly string[]): Promise<IndexText> {
  loading ??= loadModule();
  await loading;
  const { definition } = index;
  const tokens = scanSync(definition).tokens;
  const on = tokens.findIndex((token) => token.text.toUpperCase() === 'ON');
  const using = tokens.findIndex((token, position) => position > on && token.text.toUpperCase() === 'USING');
  const from = tokens[using]?.start;
  const tableStart = tokens[on + 1]?.start;
  if (on < 0 || using < 0 || from === undefined || tableStart === undefined) {
    throw new OperationError(`cannot copy index "${index.name}" of table "${table.name}" (${definition}) to the duplicated columns`);
  }
  const isName = (token: (typeof tokens)[number] | undefined) => token !== undefined && (token.tokenName === 'IDENT' || token.keywordKind === UNRESERVED_KEYWORD);
  let renamed = '';
  let cursor = from;
  for (let position = using + 2; position < tokens.length; position += 1) {
    const token = tokens[position];
    if (token === undefined || !isName(token)) continue;
    const name = token.text.startsWith('"') ? token.text.slice(1, -1).replaceAll('""', '"') : token.text;
    const before = tokens[position - 1];
    const skip = tokens[position + 1]?.text === '(' || ['::', '.', ')'].includes(before?.text ?? '') || isName(before) || before?.text.toUpperCase() === 'COLLATE';
    if (!columns.includes(name) || skip) continue;
    renamed += definition.slice(cursor, token.start) + ident(newColumnName(name));
    cursor = token.end;
  }
  renamed += definition.slice(cursor);
  return { table: definition.slice(tableStart, from), renamed, original: definition.slice(from) };
}
