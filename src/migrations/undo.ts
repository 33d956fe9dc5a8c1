/**
 * The undoable contract. pgroll cannot roll a migration back once it is complete: complete drops the
 * old columns and tables. Promote can, for a window after complete (promote.yaml
 * `migrations.undoWindow`, 24h by default; `0s` is the plain contract).
 *
 * On complete, what the contract would destroy is kept aside instead:
 * - an old column complete would drop (drop_column; the old side of a column duplicated by
 *   alter_column, create_constraint, drop_constraint, drop_multicolumn_constraint) is renamed
 *   `_promote_removed_<col>` just before the operation's own complete steps, whose `drop column if
 *   exists` then finds nothing. Its NOT NULL, the constraints and the indexes on it are dropped first,
 *   so no write of the new version (now the only one) is ever refused because of it, and the copies
 *   complete renames can take their names. What they were is in the run's `before` schema.
 * - a table drop_table drops is renamed `_promote_removed_<table>`.
 * - a `down` trigger keeps each kept column up to date from every write (every write is the new
 *   version's now), so an old-version app that comes back sees the rows written after complete.
 * The run is `undoable` until `undo_until`. The old version schema's views are dropped as by the plain
 * contract (an old app must not write into kept columns no trigger carries up); the run's `before`
 * schema says what they showed.
 *
 * `undo` while the window is open is the reverse of complete, back to the run's `started` state: the
 * new columns take their temporary names again (their constraints and indexes their `_promote_dup_`
 * names), the kept columns and tables their old names, the old constraints, NOT NULL and indexes are
 * rebuilt in forms that do not block writers (NOT VALID then VALIDATE, CONCURRENTLY), the up/down
 * triggers of start are made again and the old version schema's views too. Then rollback (or complete
 * again) finishes the job as for any started run. `finalize` drops what was kept: `promote migrate
 * finalize`, or the next migration's start (a new migration ends the window of the one before: undo is
 * for the latest migration only, and the next start must not plan against kept columns).
 *
 * Everything kept is a pure function of the run's operations and its `before` schema, like the rest of
 * a migration's names, so no list of kept objects is stored. Every step is guarded (runs again after a
 * crash with no effect), and the phases `undoing` and `finalizing` are recorded before they act, so an
 * interrupted undo or finalize is finished by running it again.
 *
 * A run that keeps something may also hold operations whose complete drops nothing, which undo
 * reverses without keeping anything: add_column (the column takes its temporary name again, its NOT
 * NULL becomes start's NOT VALID check, its unique constraint start's unique index, rebuilt
 * CONCURRENTLY, and start's up trigger is made again over the table as start saw it), rename_column
 * and rename_table (the physical name goes back; the new version's views follow by identity),
 * drop_index (rebuilt CONCURRENTLY from its definition in `before`, with the old constraints once
 * every name is back), create_table and create_index (there in the started state too).
 *
 * Any other run is the plain contract (its `undoUntil` stays null) and complete says why: one with
 * another operation (raw_sql, rename_constraint, set_replica_identity...), one that keeps nothing
 * (its complete drops no column or table), a dropped column that is part of the primary key, a column
 * touched by two operations of the run, a renamed table that another operation changes, a table
 * made by the run that an operation other than create_index changes, an add_column after an operation other than add_column, drop_column,
 * rename_column or create_index on its table. Rows the old version wrote before complete are not
 * marked again after an undo, so a second complete's integrity gate checks them all with `up`.
 */
import { postgresObjectName } from './ops/add-column.js';
import { isNullable, virtualColumn } from './ops/columns.js';
import { hasText, columnExists, constraintExists, guarded, relationExists, regclass, renameIndexColumnsStep } from './ops/guards.js';
import { droppedColumns } from './ops/drop-constraint.js';
import { duplicateName } from './ops/duplicate-column.js';
import type { AddColumn, Operation } from './operations.js';
import { newColumnName, notNullCheckName, removedColumnName, triggerName, uniqueIndexName } from './names.js';
import type { Step } from './ops/types.js';
import { boundedName, dollarQuote, ident, literal, qualified } from './sql.js';
import type { MigrationRun } from './state.js';
import { createTriggerSteps, dropTriggerStep } from './triggers.js';
import { createVersionSchemaSteps } from './views.js';
import { requireColumn, requireTable, type VirtualSchema, type VirtualTable } from './virtual-schema.js';

/** A column complete would drop. */
export interface KeptColumn {
  /** physical table (also its name: a table the run renames is changed by no other operation) */
  table: string;
  /** the old column's name */
  column: string;
  /** duplicated: the new column, `_promote_new_<col>` while both versions live and `<col>` after complete */
  duplicated: boolean;
  /** the old column's value from the new version's row (new names); none: left null */
  down?: string;
  /** duplicated: the new column's value from the old version's row (old names) */
  up?: string;
}

export interface KeptObjects {
  /** in operation order, with the operation's index */
  columns: (KeptColumn & { operation: number })[];
  tables: { table: string; operation: number }[];
  /** what complete changed without dropping it, which undo puts back as start left it */
  reversed: Reversal[];
}

/** A change of complete that keeps nothing aside but that undo reverses (in `reversed`, operation order). */
export type Reversal = { operation: number } & (
  | { kind: 'add_column'; table: string; add: AddColumn; shape: VirtualTable }
  | { kind: 'rename_column'; table: string; from: string; to: string }
  | { kind: 'rename_table'; from: string; to: string }
  | { kind: 'drop_index'; definition: string }
);

export function removedTableName(table: string): string {
  return boundedName(`_promote_removed_${table}`);
}

/** Why complete of this run cannot keep the removed shape aside, or undefined when it can. */
export function undoRefusal(run: Pick<MigrationRun, 'operations' | 'before'>): string | undefined {
  try {
    keptObjects(run);
    return undefined;
  } catch (error) {
    return error instanceof Error ? error.message : String(error);
  }
}

/** What complete keeps aside, from the operations and the schema before the run; throws when it cannot. */
export function keptObjects({ operations, before }: Pick<MigrationRun, 'operations' | 'before'>): KeptObjects {
  const kept: KeptObjects = { columns: [], tables: [], reversed: [] };
  const seen = new Set<string>();
  const touch = (operation: number, table: VirtualTable, column?: string) => {
    const key = column === undefined ? table.physical : `${table.physical}.${column}`;
    if (seen.has(key) || seen.has(table.physical)) throw new Error(`operations[${operation}]: ${column === undefined ? `table "${table.name}"` : `column "${key}"`} is changed by two operations of the migration, which undo cannot take apart`);
    seen.add(key);
  };
  const keepColumn = (operation: number, table: VirtualTable, column: KeptColumn) => {
    const key = `${column.table}.${column.column}`;
    if (seen.has(key) || seen.has(column.table)) throw new Error(`operations[${operation}]: column "${key}" is changed by two operations of the migration, which undo cannot take apart`);
    seen.add(key);
    if (table.primaryKey.includes(column.column)) throw new Error(`operations[${operation}]: column "${key}" is part of the primary key, which cannot be kept aside`);
    kept.columns.push({ ...column, operation });
  };
  for (const [index, operation] of operations.entries()) {
    const where = `operations[${index}].${operation.kind}`;
    switch (operation.kind) {
      case 'drop_column': {
        const table = tableOf(before, operation.table, where);
        keepColumn(index, table, { table: table.physical, column: requireColumn(table, operation.column).physical, duplicated: false, ...(hasText(operation.down) ? { down: operation.down } : {}) });
        break;
      }
      case 'drop_table': {
        const table = tableOf(before, operation.name, where);
        if ([...seen].some((key) => key === table.physical || key.startsWith(`${table.physical}.`))) throw new Error(`${where}: table "${table.name}" is changed by another operation of the migration too`);
        seen.add(table.physical);
        kept.tables.push({ table: table.physical, operation: index });
        break;
      }
      case 'add_column': {
        const table = tableOf(before, operation.table, where);
        touch(index, table, operation.column.name);
        kept.reversed.push({ kind: 'add_column', operation: index, table: table.physical, add: operation, shape: shapeAtStart(operations, index, table) });
        break;
      }
      case 'rename_column': {
        const table = tableOf(before, operation.table, where);
        const from = requireColumn(table, operation.from).physical;
        touch(index, table, from);
        kept.reversed.push({ kind: 'rename_column', operation: index, table: table.physical, from, to: operation.to });
        break;
      }
      case 'rename_table': {
        // every later operation names the table by its new name, which before does not know
        const table = tableOf(before, operation.from, where);
        if ([...seen].some((key) => key.startsWith(`${table.physical}.`))) throw new Error(`${where}: table "${table.name}" is changed by another operation of the migration too`);
        touch(index, table);
        kept.reversed.push({ kind: 'rename_table', operation: index, from: table.physical, to: operation.to });
        break;
      }
      case 'drop_index': {
        const table = before.tables.find((each) => each.indexes.some((found) => found.name === operation.name));
        const dropped = table?.indexes.find((found) => found.name === operation.name);
        if (table === undefined || dropped === undefined) throw new Error(`${where}: index "${operation.name}" was not there before the migration`);
        if (seen.has(table.physical)) throw new Error(`${where}: table "${table.name}" is changed by another operation of the migration too`);
        kept.reversed.push({ kind: 'drop_index', operation: index, definition: dropped.definition });
        break;
      }
      // they exist in the started state too: nothing to put back
      case 'create_table':
      case 'create_index':
        break;
      default:
        for (const column of duplicatedColumns(operation, before, where)) keepColumn(index, tableOf(before, column.table, where), column);
    }
  }
  if (kept.columns.length === 0 && kept.tables.length === 0) throw new Error('its complete drops no column or table, so there is nothing to keep aside');
  return kept;
}

/**
 * The table as the new version saw it when start planned operation `index` (what its `up` reads):
 * before, with the earlier operations of the run on it replayed (only the ones undo accepts).
 */
function shapeAtStart(operations: readonly Operation[], index: number, table: VirtualTable): VirtualTable {
  let columns = table.columns.map((column) => ({ ...column }));
  let name = table.name;
  for (const operation of operations.slice(0, index)) {
    if (operation.kind === 'rename_table' && operation.from === name) name = operation.to;
    if (!('table' in operation) || operation.table !== name) continue;
    if (operation.kind === 'add_column') columns.push(virtualColumn(operation.column, newColumnName(operation.column.name)));
    else if (operation.kind === 'drop_column') columns = columns.filter((column) => column.name !== operation.column);
    else if (operation.kind === 'rename_column') columns = columns.map((column) => (column.name === operation.from ? { ...column, name: operation.to } : column));
    else if (operation.kind !== 'create_index') throw new Error(`operations[${index}].add_column: an earlier ${operation.kind} changes table "${name}" too, which undo cannot take apart`);
  }
  return { ...table, columns };
}

function tableOf(before: VirtualSchema, name: string, where: string): VirtualTable {
  const table = before.tables.find((each) => each.name === name);
  if (table === undefined) throw new Error(`${where}: table "${name}" was not there before the migration (made or renamed by it)`);
  return table;
}

function duplicatedColumns(operation: Operation, before: VirtualSchema, where: string): KeptColumn[] {
  const column = (table: string, name: string, up: string | undefined, down: string | undefined): KeptColumn => ({
    table,
    column: name,
    duplicated: true,
    ...(hasText(up) ? { up } : {}),
    ...(hasText(down) ? { down } : {}),
  });
  switch (operation.kind) {
    case 'alter_column':
      return [column(operation.table, operation.column, operation.up, operation.down)];
    case 'create_constraint':
      return (operation.columns ?? []).map((name) => column(operation.table, name, operation.up[name], operation.down[name]));
    case 'drop_constraint':
      return droppedColumns(before, operation.table, operation.name).map((name) => column(operation.table, name, operation.up, operation.down));
    case 'drop_multicolumn_constraint':
      return droppedColumns(before, operation.table, operation.name).map((name) => column(operation.table, name, operation.up?.[name], operation.down[name]));
    default:
      throw new Error(`${where}: complete of ${operation.kind} cannot be undone yet`);
  }
}

/** Complete, before operation `index`'s own steps: what they would drop is put aside. */
export function keepAsideSteps(schema: string, kept: KeptObjects, index: number): Step[] {
  const steps: Step[] = [];
  // in the table's switch with the operation's own steps (complete-schedule.ts): the app never sees the
  // column renamed aside while a trigger still sets it by its old name
  for (const column of kept.columns.filter((each) => each.operation === index)) steps.push({ sql: keepColumnSql(schema, column), switchOf: column.table });
  for (const { table } of kept.tables.filter((each) => each.operation === index)) {
    const removed = removedTableName(table);
    steps.push({ sql: guarded(`${relationExists(schema, table)} and not ${relationExists(schema, removed)}`, [`alter table ${qualified(schema, table)} rename to ${ident(removed)}`]), switchOf: table });
  }
  return steps;
}

/**
 * One transaction per column: the constraints, indexes and NOT NULL on the old column go, a serial's
 * sequence passes to the new column (finalize would drop it with the kept one), and it is renamed aside.
 */
function keepColumnSql(schema: string, column: KeptColumn): string {
  const target = qualified(schema, column.table);
  const removed = removedColumnName(column.column);
  const attnum = `(select attnum from pg_attribute where attrelid = ${regclass(schema, column.table)} and attname = ${literal(column.column)} and not attisdropped)`;
  const body = [
    'declare',
    '  found record;',
    `  sequence text := pg_get_serial_sequence(${literal(target)}, ${literal(column.column)});`,
    `  position int2 := ${attnum};`,
    'begin',
    ...(column.duplicated
      ? [`  if sequence is not null then execute format('alter sequence %s owned by %s.%I', sequence, ${literal(target)}, ${literal(newColumnName(column.column))}); end if;`]
      : []),
    `  for found in select conname from pg_constraint where conrelid = ${regclass(schema, column.table)} and contype not in ('n', 'p') and position = any(conkey) loop`,
    `    execute format('alter table %s drop constraint %I', ${literal(target)}, found.conname);`,
    '  end loop;',
    `  for found in select x.indexrelid::regclass::text as name from pg_index x where x.indrelid = ${regclass(schema, column.table)}`,
    '      and not exists (select from pg_constraint k where k.conindid = x.indexrelid and k.conrelid = x.indrelid)',
    `      and (position = any(x.indkey::int2[]) or exists (select from pg_depend d where d.classid = 'pg_class'::regclass and d.objid = x.indexrelid and d.refobjid = x.indrelid and d.refobjsubid = position)) loop`,
    `    execute format('drop index %s', found.name);`,
    '  end loop;',
    `  execute ${literal(`alter table ${target} alter column ${ident(column.column)} drop not null`)};`,
    `  execute ${literal(`alter table ${target} rename column ${ident(column.column)} to ${ident(removed)}`)};`,
    'end',
  ];
  // guarded outside the block: pg_get_serial_sequence fails on a column that is gone
  return guarded(`${columnExists(schema, column.table, column.column)} and not ${columnExists(schema, column.table, removed)}`, [`do ${dollarQuote(body.join('\n'))}`]);
}

/**
 * Complete, after every operation: a trigger per kept column computes it with `down` from each write,
 * over the table as complete left it (`after`, with final names). No `down`: the column is left as
 * it was (NULL for new rows), as the new version's writes left it while both versions lived.
 */
export function windowTriggerSteps(after: VirtualSchema, kept: KeptObjects): Step[] {
  const steps: Step[] = [];
  for (const column of kept.columns) {
    const expression = column.down ?? (column.duplicated ? ident(column.column) : undefined);
    if (expression === undefined) continue;
    const table = after.tables.find((each) => each.physical === column.table);
    if (table === undefined) continue;
    const target = removedColumnName(column.column);
    const name = triggerName(column.table, target);
    const variables = table.columns.map((each) => `  ${ident(each.name)} ${qualified(after.name, table.physical)}.${ident(each.physical)}%type := new.${ident(each.physical)};`);
    const body = ['#variable_conflict use_column', 'declare', ...variables, 'begin', `  new.${ident(target)} := ${assignable(expression)};`, '  return new;', 'end'].join('\n');
    // in the table's switch (complete-schedule.ts): no write between the old trigger and this one goes unseen
    steps.push(
      { sql: `create or replace function ${qualified(after.name, name)}() returns trigger language plpgsql as ${dollarQuote(body)}`, switchOf: column.table },
      { sql: `create or replace trigger ${ident(name)} before insert or update on ${qualified(after.name, table.physical)} for each row execute function ${qualified(after.name, name)}()`, switchOf: column.table },
    );
  }
  return steps;
}

/**
 * Undo: back to the run's started state, operation by operation in reverse order, then the old
 * version schema's views (`oldVersionSchema`: the previous run's; none when the old app used the
 * schema itself).
 */
export function undoSteps(run: Pick<MigrationRun, 'operations' | 'before' | 'after' | 'versionSchema'>, oldVersionSchema: string | undefined): Step[] {
  const kept = keptObjects(run);
  const schema = run.before.name;
  const steps: Step[] = [];
  // rebuilt from their definitions before the run, once every name is back to what it was then
  const restores: Step[] = [];
  for (let index = run.operations.length - 1; index >= 0; index -= 1) {
    for (const { table } of kept.tables.filter((each) => each.operation === index)) {
      const removed = removedTableName(table);
      steps.push({ sql: guarded(`${relationExists(schema, removed)} and not ${relationExists(schema, table)}`, [`alter table ${qualified(schema, removed)} rename to ${ident(table)}`]) });
    }
    const columns = kept.columns.filter((each) => each.operation === index);
    for (const column of columns) {
      steps.push(dropTriggerStep(schema, column.table, removedColumnName(column.column)));
      steps.push({ sql: column.duplicated ? swapBackSql(schema, run.before, column) : restoreNameSql(schema, column) });
      if (column.duplicated) steps.push(...twinNotNullSteps(schema, run.after, column));
    }
    restores.push(...restoreConstraintSteps(schema, run.before, columns));
    for (const reversal of kept.reversed.filter((each) => each.operation === index)) {
      if (reversal.kind === 'drop_index') restores.push({ sql: concurrentIndexSql(reversal.definition), outsideTransaction: true });
      else steps.push(...reversalSteps(schema, reversal));
    }
  }
  steps.push(...restores);
  // over the started shape, which exists once every operation is undone
  for (const column of kept.columns) steps.push(...startTriggerSteps(run, column));
  for (const reversal of kept.reversed) {
    if (reversal.kind !== 'add_column' || !hasText(reversal.add.up)) continue;
    steps.push(...createTriggerSteps({ schema: run.after, table: reversal.shape, target: newColumnName(reversal.add.column.name), expression: reversal.add.up, direction: 'up', versionSchema: run.versionSchema }));
  }
  if (oldVersionSchema !== undefined && oldVersionSchema !== run.versionSchema) steps.push(...createVersionSchemaSteps(run.before, oldVersionSchema));
  return steps;
}

/** What complete changed without dropping it, as start left it (the up trigger of add_column comes last). */
function reversalSteps(schema: string, reversal: Exclude<Reversal, { kind: 'drop_index' }>): Step[] {
  switch (reversal.kind) {
    case 'rename_table':
      return [{ sql: guarded(`${relationExists(schema, reversal.to)} and not ${relationExists(schema, reversal.from)}`, [`alter table ${qualified(schema, reversal.to)} rename to ${ident(reversal.from)}`]) }];
    case 'rename_column':
      return [
        {
          sql: guarded(`${columnExists(schema, reversal.table, reversal.to)} and not ${columnExists(schema, reversal.table, reversal.from)}`, [
            `alter table ${qualified(schema, reversal.table)} rename column ${ident(reversal.to)} to ${ident(reversal.from)}`,
          ]),
        },
      ];
    case 'add_column':
      return addedColumnSteps(schema, reversal.table, reversal.add);
  }
}

/**
 * The added column takes its temporary name again; a NOT NULL becomes the NOT VALID check of start (a
 * primary key column keeps it); a unique constraint becomes start's unique index again (built
 * CONCURRENTLY before the constraint and its index go). Its default, checks and references stay as
 * complete left them: they hold for every row already.
 */
function addedColumnSteps(schema: string, table: string, add: AddColumn): Step[] {
  const { column } = add;
  const target = qualified(schema, table);
  const temporary = newColumnName(column.name);
  const steps: Step[] = [
    { sql: guarded(`${columnExists(schema, table, column.name)} and not ${columnExists(schema, table, temporary)}`, [`alter table ${target} rename column ${ident(column.name)} to ${ident(temporary)}`]) },
    renameIndexColumnsStep(schema, table, column.name, temporary),
  ];
  if (!isNullable(column) && column.pk !== true) {
    const check = notNullCheckName(column.name);
    steps.push({
      sql: guarded(`${columnExists(schema, table, temporary)} and not ${constraintExists(schema, table, check)}`, [
        `alter table ${target} alter column ${ident(temporary)} drop not null`,
        `alter table ${target} add constraint ${ident(check)} check (${ident(temporary)} is not null) not valid`,
      ]),
    });
  }
  if (column.unique === true) {
    const index = uniqueIndexName(table, column.name);
    // complete named the constraint as PostgreSQL would, or after start's index when that was taken
    const parked = boundedName(`_promote_undo_${index}`);
    const names = [postgresObjectName(table, column.name, 'key'), parked].map(literal).join(', ');
    const attnum = `(select attnum from pg_attribute where attrelid = ${regclass(schema, table)} and attname = ${literal(temporary)} and not attisdropped)`;
    const body = [
      'declare',
      '  found record;',
      'begin',
      // the constraint goes with its index only once start's index is built and valid
      `  if not exists (select from pg_index where indexrelid = ${regclass(schema, index)} and indisvalid) then`,
      `    raise exception 'unique index % is not valid (its build was interrupted): drop it, then run undo again', ${literal(index)};`,
      '  end if;',
      `  for found in select conname from pg_constraint where conrelid = ${regclass(schema, table)} and contype = 'u' and conname in (${names}) and conkey = array[${attnum}] loop`,
      `    execute format('alter table %s drop constraint %I', ${literal(target)}, found.conname);`,
      '  end loop;',
      'end',
    ];
    steps.push(
      { sql: guarded(`${constraintExists(schema, table, index)} and not ${constraintExists(schema, table, parked)}`, [`alter table ${target} rename constraint ${ident(index)} to ${ident(parked)}`]) },
      { sql: `create unique index concurrently if not exists ${ident(index)} on ${target} (${ident(temporary)})`, outsideTransaction: true },
      { sql: `do ${dollarQuote(body.join('\n'))}` },
    );
  }
  return steps;
}

function concurrentIndexSql(definition: string): string {
  return definition.replace(/^CREATE (UNIQUE )?INDEX /i, 'CREATE $1INDEX CONCURRENTLY IF NOT EXISTS ');
}

function restoreNameSql(schema: string, column: KeptColumn): string {
  const removed = removedColumnName(column.column);
  return guarded(`${columnExists(schema, column.table, removed)} and not ${columnExists(schema, column.table, column.column)}`, [
    `alter table ${qualified(schema, column.table)} rename column ${ident(removed)} to ${ident(column.column)}`,
  ]);
}

/**
 * The new column takes its temporary name again, and the constraints and indexes complete renamed from
 * their `_promote_dup_` copies take those names back (the old ones are rebuilt under their own names);
 * its NOT NULL is dropped (a check stands for it while both versions live, as after start); a serial's
 * sequence goes back to the old column. One transaction, guarded by the kept column being there.
 */
function swapBackSql(schema: string, before: VirtualSchema, column: KeptColumn): string {
  const target = qualified(schema, column.table);
  const twin = newColumnName(column.column);
  const table = requireTable(before, column.table);
  const constraintNames = new Set(table.constraints.map((each) => each.name));
  const statements: string[] = [];
  for (const constraint of mentioning(table, [column.column]).constraints) {
    const copy = duplicateName(constraint.name);
    statements.push(`if ${constraintExists(schema, column.table, constraint.name)} and not ${constraintExists(schema, column.table, copy)} then execute ${literal(`alter table ${target} rename constraint ${ident(constraint.name)} to ${ident(copy)}`)}; end if;`);
  }
  for (const index of mentioning(table, [column.column]).indexes.filter((each) => !constraintNames.has(each.name))) {
    const copy = duplicateName(index.name);
    statements.push(`if ${relationExists(schema, index.name)} and not ${relationExists(schema, copy)} then execute ${literal(`alter index ${qualified(schema, index.name)} rename to ${ident(copy)}`)}; end if;`);
  }
  const body = [
    'declare',
    `  sequence text := pg_get_serial_sequence(${literal(target)}, ${literal(column.column)});`,
    'begin',
    ...statements.map((statement) => `  ${statement}`),
    `  execute ${literal(`alter table ${target} alter column ${ident(column.column)} drop not null`)};`,
    `  execute ${literal(`alter table ${target} rename column ${ident(column.column)} to ${ident(twin)}`)};`,
    `  execute ${literal(`alter table ${target} rename column ${ident(removedColumnName(column.column))} to ${ident(column.column)}`)};`,
    `  if sequence is not null then execute format('alter sequence %s owned by %s.%I', sequence, ${literal(target)}, ${literal(column.column)}); end if;`,
    'end',
  ];
  return guarded(`${columnExists(schema, column.table, removedColumnName(column.column))} and ${columnExists(schema, column.table, column.column)}`, [
    `do ${dollarQuote(body.join('\n'))}`,
  ]);
}

/** A NOT NULL twin has the NOT VALID check of start again (complete validates it as before). */
function twinNotNullSteps(schema: string, after: VirtualSchema, column: KeptColumn): Step[] {
  const model = after.tables.find((each) => each.physical === column.table)?.columns.find((each) => each.physical === newColumnName(column.column));
  if (model === undefined || model.nullable) return [];
  const check = notNullCheckName(column.column);
  return [
    {
      sql: guarded(`not ${constraintExists(schema, column.table, check)}`, [
        `alter table ${qualified(schema, column.table)} add constraint ${ident(check)} check (${ident(newColumnName(column.column))} is not null) not valid`,
      ]),
    },
  ];
}

/** The constraints and indexes of the table before the run that mention any of the columns. */
function mentioning(table: VirtualTable, columns: readonly string[]): { constraints: VirtualTable['constraints']; indexes: VirtualTable['indexes'] } {
  const mentions = (names: readonly string[], definition: string) =>
    names.some((name) => columns.includes(name)) || columns.some((column) => new RegExp(`[(,\\s]"?${escapeRegExp(column)}"?[),\\s]`).test(definition.replace(/^.*? USING /s, ' ')));
  return {
    constraints: table.constraints.filter((each) => each.type !== 'not_null' && each.type !== 'primary_key' && !each.name.startsWith('_promote_') && each.columns.some((name) => columns.includes(name))),
    indexes: table.indexes.filter((each) => !each.name.startsWith('_promote_') && mentions(each.columns, each.definition)),
  };
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * The old columns' NOT NULL, checks, foreign keys, unique constraints and indexes, from the schema
 * before the run, rebuilt without blocking writers: NOT VALID then VALIDATE, indexes CONCURRENTLY and
 * attached. A value the new version wrote that an old constraint refuses stops the undo here, naming it.
 */
function restoreConstraintSteps(schema: string, before: VirtualSchema, columns: readonly KeptColumn[]): Step[] {
  const steps: Step[] = [];
  const byTable = new Map<string, string[]>();
  for (const column of columns) byTable.set(column.table, [...(byTable.get(column.table) ?? []), column.column]);
  for (const [tableName, names] of byTable) {
    const table = requireTable(before, tableName);
    const target = qualified(schema, tableName);
    for (const name of names) {
      if (requireColumn(table, name).nullable) continue;
      const check = boundedName(`_promote_restore_not_null_${name}`);
      const notNull = `exists (select from pg_attribute where attrelid = ${regclass(schema, tableName)} and attname = ${literal(name)} and attnotnull)`;
      steps.push(
        { sql: guarded(`not ${notNull} and not ${constraintExists(schema, tableName, check)}`, [`alter table ${target} add constraint ${ident(check)} check (${ident(name)} is not null) not valid`]) },
        { sql: guarded(constraintExists(schema, tableName, check), [`alter table ${target} validate constraint ${ident(check)}`]) },
        { sql: guarded(constraintExists(schema, tableName, check), [`alter table ${target} alter column ${ident(name)} set not null`, `alter table ${target} drop constraint ${ident(check)}`]) },
      );
    }
    const { constraints, indexes } = mentioning(table, names);
    const indexSteps: Step[] = [];
    for (const constraint of constraints) {
      if (constraint.type === 'check' || constraint.type === 'foreign_key') {
        const wasValid = !/\bNOT VALID$/.test(constraint.definition);
        const definition = constraint.definition.replace(/\s+NOT VALID$/, '');
        steps.push({ sql: guarded(`not ${constraintExists(schema, tableName, constraint.name)}`, [`alter table ${target} add constraint ${ident(constraint.name)} ${definition} not valid`]) });
        if (wasValid) steps.push({ sql: `alter table ${target} validate constraint ${ident(constraint.name)}` });
      }
    }
    for (const index of indexes) {
      indexSteps.push({ sql: concurrentIndexSql(index.definition), outsideTransaction: true });
      const unique = constraints.find((each) => each.type === 'unique' && each.name === index.name);
      if (unique === undefined) continue;
      const deferral = /\bDEFERRABLE\b/.test(unique.definition) ? ` deferrable${/\bINITIALLY DEFERRED\b/.test(unique.definition) ? ' initially deferred' : ''}` : '';
      indexSteps.push({
        sql: guarded(`${relationExists(schema, index.name)} and not ${constraintExists(schema, tableName, index.name)}`, [`alter table ${target} add constraint ${ident(index.name)} unique using index ${ident(index.name)}${deferral}`]),
      });
    }
    steps.push(...indexSteps);
  }
  return steps;
}

/** The dual-write triggers start made for the column (createTriggerSteps is idempotent). */
function startTriggerSteps(run: Pick<MigrationRun, 'before' | 'after' | 'versionSchema'>, column: KeptColumn): Step[] {
  const newShape = run.after.tables.find((each) => each.physical === column.table);
  if (newShape === undefined) return [];
  if (!column.duplicated) {
    return column.down === undefined ? [] : createTriggerSteps({ schema: run.after, table: newShape, target: column.column, expression: column.down, direction: 'down', versionSchema: run.versionSchema });
  }
  const oldShape = requireTable(run.before, column.table);
  return [
    ...createTriggerSteps({ schema: run.after, table: oldShape, target: newColumnName(column.column), expression: column.up ?? ident(column.column), direction: 'up', versionSchema: run.versionSchema }),
    ...createTriggerSteps({ schema: run.after, table: newShape, target: column.column, expression: column.down ?? ident(column.column), direction: 'down', versionSchema: run.versionSchema }),
  ];
}

/** Finalize: what was kept goes, as the plain contract would have dropped it. */
export function finalizeSteps(run: Pick<MigrationRun, 'operations' | 'before'>): Step[] {
  const kept = keptObjects(run);
  const schema = run.before.name;
  const steps: Step[] = [];
  for (const column of kept.columns) {
    const removed = removedColumnName(column.column);
    steps.push(dropTriggerStep(schema, column.table, removed), { sql: `alter table if exists ${qualified(schema, column.table)} drop column if exists ${ident(removed)}` });
  }
  for (const { table } of kept.tables) steps.push({ sql: `drop table if exists ${qualified(schema, removedTableName(table))}` });
  return steps;
}

function assignable(expression: string): string {
  return /^\s*select\b/i.test(expression) ? `(${expression})` : expression;
}
