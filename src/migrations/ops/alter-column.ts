/**
 * alter_column, as pgroll does it: whatever changes (type, nullability, default, comment, unique,
 * check, references), the column is duplicated into `_promote_new_<column>` with the change applied,
 * in forms that do not scan the table or block writers (NOT NULL and checks NOT VALID, unique as an
 * index built concurrently). The old version keeps writing the old column and an `up` trigger fills
 * the new one; the new version writes the new one and a `down` trigger fills the old one; the backfill
 * runs `up` over the existing rows. Complete validates, drops the old column and renames the new one;
 * rollback drops the new one.
 */
import type pg from 'pg';
import { renameColumnReferences } from '../expression.js';
import { newColumnName, notNullCheckName } from '../names.js';
import type { AlterColumn, ForeignKeyReference } from '../operations.js';
import { dollarQuote, ident, literal, qualified } from '../sql.js';
import { createTriggerSteps, dropNeedsBackfillColumnStep, dropTriggerStep } from '../triggers.js';
import { findColumn, findTable, requireColumn, requireTable, type VirtualColumn, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { isDuplicateName, planDuplicates, restoreDuplicatesSteps } from './alter-column-duplicate.js';
import { checkSql, commentSql, tableReferenceSql } from './columns.js';
import { constraintExists, guarded, hasText, regclass, relationExists } from './guards.js';
import { OperationError, type OperationHandler, type Step } from './types.js';

export const alterColumn: OperationHandler<'alter_column'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const column = requireColumn(table, operation.column);
    await refuseUnsupported(operation, schema, table, column, db);
    const oldPhysical = column.physical;
    const physical = newColumnName(operation.column);
    const target = qualified(schema.name, table.physical);
    const type = operation.type ?? column.type;
    const nullable = operation.nullable ?? column.nullable;
    // the old default is kept unless the operation replaces it, and only if it still fits the new type
    const keptDefault = column.default !== null && (operation.type === undefined || (await defaultFits(db, schema.name, type, column.default))) ? column.default : null;
    const columnDefault = operation.default === undefined ? keptDefault : operation.default;
    const comment = operation.comment === undefined ? await columnComment(db, schema.name, table.physical, oldPhysical) : operation.comment;

    const steps: Step[] = [{ sql: `alter table ${target} add column ${ident(physical)} ${type}` }];
    if (columnDefault !== null) steps.push({ sql: `alter table ${target} alter column ${ident(physical)} set default ${columnDefault}` });
    if (comment !== null) steps.push({ sql: commentSql('column', `${target}.${ident(physical)}`, comment) });
    if (!nullable) steps.push({ sql: `alter table ${target} add constraint ${ident(notNullCheckName(operation.column))} check (${ident(physical)} is not null) not valid` });
    const duplicates = await planDuplicates({ schemaName: schema.name, table, oldPhysical, newPhysical: physical, typeChanges: operation.type !== undefined });
    steps.push(...duplicates.steps);
    if (operation.check !== undefined) {
      const constraint = await renameColumnReferences(operation.check.constraint, new Map([[operation.column, physical]]));
      steps.push({ sql: `alter table ${target} add ${checkSql({ ...operation.check, constraint }, true)}` });
    }
    if (operation.references !== undefined) steps.push({ sql: `alter table ${target} add ${foreignKeySql(operation.references, schema, physical)}` });

    steps.push(...createTriggerSteps({ schema, table: snapshot(table), target: physical, expression: orIdentity(operation.up, operation.column), direction: 'up', versionSchema }));
    const replacement: VirtualColumn = { name: column.name, physical, type, nullable, default: columnDefault, generated: false };
    table.columns = table.columns.map((each) => (each === column ? replacement : each));
    steps.push(...createTriggerSteps({ schema, table: snapshot(table), target: oldPhysical, expression: orIdentity(operation.down, operation.column), direction: 'down', versionSchema }));

    steps.push(...duplicates.indexSteps);
    if (operation.unique !== undefined) {
      steps.push({ sql: `create unique index concurrently if not exists ${ident(operation.unique.name)} on ${target} (${ident(physical)})`, outsideTransaction: true });
    }
    recordConstraints(table, operation, physical, duplicates);
    return { steps, backfill: [table.name] };
  },

  complete(operation, { before, after }) {
    const table = requireTable(after, operation.table);
    const physical = newColumnName(operation.column);
    // found by its physical name: a later rename_column of the same migration may have renamed it
    const column = table.columns.find((each) => each.physical === physical) ?? requireColumn(table, operation.column);
    const target = qualified(after.name, table.physical);
    const final = operation.column;
    const notNullCheck = notNullCheckName(operation.column);
    const steps: Step[] = [
      dropTriggerStep(after.name, table.physical, physical),
      dropTriggerStep(after.name, table.physical, operation.column),
      dropNeedsBackfillColumnStep(after.name, table.physical),
    ];
    if (operation.check !== undefined) steps.push(validateStep(after.name, table.physical, operation.check.name));
    if (operation.references !== undefined) steps.push(validateStep(after.name, table.physical, operation.references.name));
    steps.push(moveSequenceStep(after.name, table.physical, final, physical));
    // one step, guarded by the new column still having its temporary name: run again after the
    // rename, `drop column <final>` would drop the new column
    steps.push({ sql: guarded(columnExists(after.name, table.physical, physical), [`alter table ${target} drop column if exists ${ident(final)}`, `alter table ${target} rename column ${ident(physical)} to ${ident(final)}`]) });
    // SET NOT NULL uses the validated check instead of scanning the table
    steps.push({
      sql: guarded(constraintExists(after.name, table.physical, notNullCheck), [
        `alter table ${target} validate constraint ${ident(notNullCheck)}`,
        `alter table ${target} alter column ${ident(final)} set not null`,
        `alter table ${target} drop constraint ${ident(notNullCheck)}`,
      ]),
    });
    steps.push(...restoreDuplicatesSteps(after.name, table.physical, requireTable(before, operation.table), final));
    if (operation.unique !== undefined) {
      const name = operation.unique.name;
      steps.push({
        sql: guarded(`${relationExists(after.name, name)} and not ${constraintExists(after.name, table.physical, name)}`, [`alter table ${target} add constraint ${ident(name)} unique using index ${ident(name)}`]),
      });
    }
    settleModel(table, column, physical, final);
    return { steps };
  },

  rollback(operation, { after }) {
    const table = findTable(after, operation.table);
    const physicalTable = table?.physical ?? operation.table;
    const physical = newColumnName(operation.column);
    // the new column takes its constraints and indexes with it
    return [
      dropTriggerStep(after.name, physicalTable, physical),
      dropTriggerStep(after.name, physicalTable, operation.column),
      { sql: `alter table if exists ${qualified(after.name, physicalTable)} drop column if exists ${ident(physical)}` },
      dropNeedsBackfillColumnStep(after.name, physicalTable),
    ];
  },
};

/** What pgroll refuses, and what this implementation does not carry over, said before anything runs. */
async function refuseUnsupported(operation: AlterColumn, schema: VirtualSchema, table: VirtualTable, column: VirtualColumn, db: pg.Pool): Promise<void> {
  const where = `column "${operation.column}" of table "${operation.table}"`;
  if (column.physical !== column.name) {
    throw new OperationError(`${where} was added, renamed or altered by an earlier operation of this migration; alter it in a later migration`);
  }
  if (column.generated) throw new OperationError(`${where} is an identity or generated column, which alter_column cannot duplicate`);
  if (table.primaryKey.includes(column.name)) throw new OperationError(`${where} is part of the primary key, which alter_column cannot duplicate`);
  if (operation.nullable === false && !column.nullable) throw new OperationError(`nullable: ${where} is already NOT NULL`);
  if (operation.nullable === true && column.nullable) throw new OperationError(`nullable: ${where} is already nullable`);
  const names: [string, string | undefined][] = [
    ['check.name', operation.check?.name],
    ['references.name', operation.references?.name],
    ['unique.name', operation.unique?.name],
  ];
  for (const [field, name] of names) {
    if (name !== undefined && table.constraints.some((constraint) => constraint.name === name)) throw new OperationError(`${field}: constraint "${name}" already exists on table "${operation.table}"`);
  }
  if (operation.unique !== undefined) {
    const taken = await db.query(`select ${relationExists(schema.name, operation.unique.name)} as taken`);
    if ((taken.rows[0] as { taken: boolean }).taken) throw new OperationError(`unique.name: a table or index named "${operation.unique.name}" already exists in schema "${schema.name}"`);
  }
  if (operation.references !== undefined) {
    const referenced = findTable(schema, operation.references.table);
    if (referenced === undefined) throw new OperationError(`references: table "${operation.references.table}" does not exist in schema "${schema.name}"`);
    if (findColumn(referenced, operation.references.column) === undefined) {
      throw new OperationError(`references: column "${operation.references.column}" does not exist in table "${operation.references.table}"`);
    }
  }
  // dropping the old column on complete would need CASCADE and drop the other table's key
  const inbound = await db.query<{ name: string; table: string }>(
    `select k.conname as name, k.conrelid::regclass::text as table from pg_constraint k join pg_attribute a on a.attrelid = k.confrelid and a.attnum = any(k.confkey)
      where k.contype = 'f' and k.confrelid = ${regclass(schema.name, table.physical)} and a.attname = $1`,
    [column.physical],
  );
  if (inbound.rows.length > 0) {
    const list = inbound.rows.map((row) => `"${row.name}" of ${row.table}`).join(', ');
    throw new OperationError(`${where} is referenced by foreign keys (${list}), which alter_column cannot carry over to the column's new copy`);
  }
}

function orIdentity(expression: string | undefined, column: string): string {
  return hasText(expression) ? expression : ident(column);
}

/** The table as one version sees it now; later changes to the model do not change the trigger's. */
function snapshot(table: VirtualTable): VirtualTable {
  return { ...table, columns: [...table.columns] };
}

function foreignKeySql(reference: ForeignKeyReference, schema: VirtualSchema, physical: string): string {
  const { name, table, column, deferrable, initially_deferred: deferred, ...rest } = reference;
  const clause = tableReferenceSql([physical], { ...rest, table, columns: [column] }, schema);
  return `constraint ${ident(name)} ${clause}${deferrable === true ? ' deferrable' : ''}${deferred === true ? ' initially deferred' : ''} not valid`;
}

function validateStep(schema: string, table: string, name: string): Step {
  return { sql: guarded(constraintExists(schema, table, name), [`alter table ${qualified(schema, table)} validate constraint ${ident(name)}`]) };
}

/** A serial column's sequence is owned by the old column, and would be dropped with it. */
function moveSequenceStep(schema: string, table: string, from: string, to: string): Step {
  const column = `${qualified(schema, table)}.${ident(to)}`;
  const body = [
    'declare',
    `  owned text := pg_get_serial_sequence(${literal(qualified(schema, table))}, ${literal(from)});`,
    'begin',
    `  if owned is not null and ${columnExists(schema, table, to)} then`,
    `    execute format('alter sequence %s owned by %s', owned, ${literal(column)});`,
    '  end if;',
    'end',
  ].join('\n');
  return { sql: `do ${dollarQuote(body)}` };
}

function columnExists(schema: string, table: string, column: string): string {
  return `exists (select from pg_attribute where attrelid = ${regclass(schema, table)} and attname = ${literal(column)} and not attisdropped)`;
}

/** The constraints start adds, in the model, so later operations of the migration see them. */
function recordConstraints(table: VirtualTable, operation: AlterColumn, physical: string, duplicates: { constraints: VirtualTable['constraints']; indexes: VirtualTable['indexes'] }): void {
  table.constraints.push(...duplicates.constraints);
  table.indexes.push(...duplicates.indexes);
  if (operation.check !== undefined) table.constraints.push({ name: operation.check.name, type: 'check', columns: [physical], definition: `CHECK (${operation.check.constraint}) NOT VALID` });
  if (operation.references !== undefined) table.constraints.push({ name: operation.references.name, type: 'foreign_key', columns: [physical], definition: '' });
  if (operation.unique !== undefined) table.indexes.push({ name: operation.unique.name, unique: true, columns: [physical], definition: '' });
}

/**
 * After complete the column has its final physical name, which is the old column's: the old column's
 * constraints and indexes are back under their names, so the model's entries for them hold again,
 * and the copies' entries go.
 */
function settleModel(table: VirtualTable, column: VirtualColumn, physical: string, final: string): void {
  const settle = <T extends { name: string; columns: string[] }>(objects: T[]): T[] =>
    objects.filter((each) => !isDuplicateName(each.name)).map((each) => ({ ...each, columns: each.columns.map((name) => (name === physical ? final : name)) }));
  table.constraints = settle(table.constraints);
  table.indexes = settle(table.indexes);
  column.physical = final;
}

/** Whether the old default can stay on a column of the new type (pgroll drops it when it cannot). */
async function defaultFits(db: pg.Pool, schema: string, type: string, expression: string): Promise<boolean> {
  const client = await db.connect();
  try {
    await client.query('begin');
    try {
      await client.query(`set local search_path = ${ident(schema)}, pg_catalog`);
      await client.query(`create temporary table _promote_default_probe (probe ${type} default ${expression}) on commit drop`);
      return true;
    } catch {
      return false;
    } finally {
      await client.query('rollback');
    }
  } finally {
    client.release();
  }
}

async function columnComment(db: pg.Pool, schema: string, table: string, column: string): Promise<string | null> {
  const result = await db.query<{ comment: string | null }>(
    `select col_description(attrelid, attnum) as comment from pg_attribute where attrelid = ${regclass(schema, table)} and attname = $1`,
    [column],
  );
  return result.rows[0]?.comment ?? null;
}
