/**
 * add_column: the column is added under a temporary name, hidden from the old version, with its
 * constraints in a form that does not scan the table (NOT NULL as a NOT VALID check, unique as an
 * index built concurrently, checks and references NOT VALID). Existing rows, and rows the old version
 * writes, get the `up` value from a trigger and the backfill. Complete validates the constraints and
 * renames the column (validations before the table's switch, the rest in it: complete-schedule.ts);
 * rollback drops it.
 */
import { newColumnName, notNullCheckName, uniqueIndexName } from '../names.js';
import { renameColumnReferences } from '../expression.js';
import type { ForeignKeyReference } from '../operations.js';
import { ident, literal, qualified } from '../sql.js';
import { createTriggerSteps, dropNeedsBackfillColumnStep, dropTriggerStep } from '../triggers.js';
import { findColumn, physicalAtStart, requireColumn, requireTable, type VirtualSchema } from '../virtual-schema.js';
import { checkSql, columnSql, commentSql, isNullable, tableReferenceSql, virtualColumn } from './columns.js';
import { defaultIsCheap } from './fast-default.js';
import { constraintExists, guarded, hasText, relationExists, renameColumnIfExists, renameIndexColumnsStep } from './guards.js';
import { OperationError, type OperationHandler, type Step } from './types.js';
import { switchOf } from '../complete-schedule.js';

export const addColumn: OperationHandler<'add_column'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const { column } = operation;
    if (findColumn(table, column.name) !== undefined) throw new OperationError(`column "${column.name}" already exists in table "${operation.table}"`);
    const physical = newColumnName(column.name);
    const target = qualified(schema.name, table.physical);
    const cheapDefault = column.default === undefined || (await defaultIsCheap(db, column.type, column.default));
    if (column.default !== undefined && !cheapDefault && hasText(operation.up) && operation.up !== column.default) {
      throw new OperationError(
        `the default ${column.default} of column "${column.name}" is volatile, so existing rows get their value from "up" instead; "up" must then be the same expression (it is ${operation.up})`,
      );
    }
    const notNullByCheck = !isNullable(column) && column.pk !== true && (column.default === undefined || !cheapDefault);
    const definition = columnSql(column, schema, {
      physicalName: physical,
      skipNotNull: notNullByCheck,
      skipDefault: !cheapDefault,
      skipCheck: true,
      skipUnique: true,
      skipReferences: true,
    });
    const steps: Step[] = [{ sql: `alter table ${target} add column ${definition}` }];
    if (column.comment !== undefined) steps.push({ sql: commentSql('column', `${target}.${ident(physical)}`, column.comment) });
    if (column.check !== undefined) {
      const constraint = await renameColumnReferences(column.check.constraint, new Map([[column.name, physical]]));
      steps.push({ sql: `alter table ${target} add ${checkSql({ ...column.check, constraint }, true)}` });
    }
    if (column.references !== undefined) steps.push({ sql: `alter table ${target} add ${foreignKeySql(column.references, schema, physical)}` });
    if (column.unique === true) {
      steps.push({ sql: `create unique index concurrently if not exists ${ident(uniqueIndexName(table.physical, column.name))} on ${target} (${ident(physical)})`, outsideTransaction: true });
    }
    const up = hasText(operation.up) ? operation.up : !cheapDefault ? column.default : undefined;
    let backfill: string[] | undefined;
    if (up !== undefined) {
      steps.push(...createTriggerSteps({ schema, table: { ...table, columns: [...table.columns] }, target: physical, expression: up, direction: 'up', versionSchema }));
      backfill = [table.name];
    }
    // only once the trigger fills the column: before, the old version's writes (which know nothing of
    // it) would break the check; a NULL passes the other NOT VALID constraints above
    if (notNullByCheck) steps.push({ sql: `alter table ${target} add constraint ${ident(notNullCheckName(column.name))} check (${ident(physical)} is not null) not valid` });
    table.columns.push(virtualColumn(column, physical));
    return { steps, ...(backfill === undefined ? {} : { backfill }) };
  },

  complete(operation, { after }) {
    const table = requireTable(after, operation.table);
    const { column } = operation;
    const physical = requireColumn(table, column.name).physical;
    const target = qualified(after.name, table.physical);
    // start named the trigger and the index after the table as it was then (a rename_table earlier in
    // the migration has renamed it since); the validations run before any switch, under that name too
    const startTable = physicalAtStart(table);
    const startTarget = qualified(after.name, startTable);
    const validate = (name: string): Step => ({
      sql: guarded(constraintExists(after.name, startTable, name), [`alter table ${startTarget} validate constraint ${ident(name)}`]),
      beforeSwitch: true,
    });
    const notNullCheck = notNullCheckName(column.name);
    // a constraint refers to its column by number, so it is validated under the temporary name
    const before: Step[] = [validate(notNullCheck)];
    if (column.check !== undefined) before.push(validate(column.check.name));
    if (column.references !== undefined) before.push(validate(column.references.name));
    const steps: Step[] = [dropTriggerStep(after.name, startTable, physical), dropNeedsBackfillColumnStep(after.name, table.physical)];
    steps.push(renameColumnIfExists(after.name, table.physical, physical, column.name), renameIndexColumnsStep(after.name, table.physical, physical, column.name));
    // a NOT NULL added with the column (PostgreSQL 18 makes it a constraint) was named after the
    // temporary column: it takes the name PostgreSQL gives the final column's
    const temporaryNotNull = postgresObjectName(startTable, physical, 'not_null');
    const finalNotNull = postgresObjectName(table.physical, column.name, 'not_null');
    if (temporaryNotNull !== finalNotNull) {
      steps.push({
        sql: guarded(`${constraintExists(after.name, table.physical, temporaryNotNull)} and not ${constraintExists(after.name, table.physical, finalNotNull)}`, [
          `alter table ${target} rename constraint ${ident(temporaryNotNull)} to ${ident(finalNotNull)}`,
        ]),
      });
    }
    // SET NOT NULL finds the check validated (above) and does not scan the table
    steps.push({
      sql: guarded(constraintExists(after.name, table.physical, notNullCheck), [
        `alter table ${target} alter column ${ident(column.name)} set not null`,
        `alter table ${target} drop constraint ${ident(notNullCheck)}`,
      ]),
    });
    if (column.default !== undefined) steps.push({ sql: `alter table ${target} alter column ${ident(column.name)} set default ${column.default}` });
    if (column.unique === true) {
      // the constraint takes the name PostgreSQL gives a column's unique constraint (the index is
      // renamed with it); should that name be taken, the index's own
      const index = uniqueIndexName(startTable, column.name);
      const name = postgresObjectName(table.physical, column.name, 'key');
      for (const [constraint, free] of [[name, `to_regclass(${literal(qualified(after.name, name))}) is null`], [index, 'true']] as const) {
        steps.push({
          sql: guarded(`${relationExists(after.name, index)} and not ${constraintExists(after.name, table.physical, index)} and ${free}`, [
            `alter table ${target} add constraint ${ident(constraint)} unique using index ${ident(index)}`,
          ]),
        });
      }
    }
    // later operations of the migration complete against the column's final name
    requireColumn(table, column.name).physical = column.name;
    // the rest is catalog changes only: the table's switch
    return { steps: [...before, ...switchOf(startTable, steps)] };
  },

  rollback(operation, { after }) {
    const table = requireTable(after, operation.table);
    const physical = newColumnName(operation.column.name);
    return [
      // concurrently, so before the switch: in it, it would split the trigger's drop from the column's
      { sql: `drop index concurrently if exists ${qualified(after.name, uniqueIndexName(physicalAtStart(table), operation.column.name))}`, outsideTransaction: true, beforeSwitch: true },
      // the table's switch (complete-schedule.ts): the old version's writes meet the up trigger with its
      // columns (and the NOT NULL check on them), or neither
      ...switchOf(physicalAtStart(table), [
        dropTriggerStep(after.name, physicalAtStart(table), physical),
        { sql: `alter table if exists ${qualified(after.name, table.physical)} drop column if exists ${ident(physical)}` },
        dropNeedsBackfillColumnStep(after.name, table.physical),
      ]),
    ];
  },
};

/** A column's `references` as a table constraint on its temporary column, NOT VALID until complete. */
function foreignKeySql(reference: ForeignKeyReference, schema: VirtualSchema, physical: string): string {
  const { name, table, column, ...rest } = reference;
  const clause = tableReferenceSql([physical], { ...rest, table, columns: [column] }, schema);
  const deferral = `${reference.deferrable === true ? ' deferrable' : ''}${reference.initially_deferred === true ? ' initially deferred' : ''}`;
  return `constraint ${ident(name)} ${clause}${deferral} not valid`;
}

/**
 * The name PostgreSQL chooses for a constraint of a table's column (`<table>_<column>_<label>`, as its
 * makeObjectName does): the longer of the two names is shortened until the whole fits in 63 bytes.
 */
export function postgresObjectName(table: string, column: string, label: string): string {
  const available = 63 - 1 - (label.length + 1);
  let tableBytes = Buffer.byteLength(table, 'utf8');
  let columnBytes = Buffer.byteLength(column, 'utf8');
  while (tableBytes + columnBytes > available) {
    if (tableBytes > columnBytes) tableBytes -= 1;
    else columnBytes -= 1;
  }
  return `${clipBytes(table, tableBytes)}_${clipBytes(column, columnBytes)}_${label}`;
}

/** The longest prefix of whole characters within the byte count (pg_mbcliplen). */
function clipBytes(text: string, bytes: number): string {
  let result = '';
  for (const char of text) {
    if (Buffer.byteLength(result + char, 'utf8') > bytes) break;
    result += char;
  }
  return result;
}
