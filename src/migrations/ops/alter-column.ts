/**
 * alter_column, as pgroll does it: whatever changes (type, nullability, default, comment, unique,
 * check, references), the column is duplicated into `_promote_new_<column>` with the change applied,
 * in forms that do not scan the table or block writers (NOT NULL and checks NOT VALID, unique as an
 * index built concurrently). The old version keeps writing the old column and an `up` trigger fills
 * the new one; the new version writes the new one and a `down` trigger fills the old one; the backfill
 * runs `up` over the existing rows. Complete validates, drops the old column and renames the new one;
 * rollback drops the new one. The duplication itself (the copy's constraints and indexes, triggers,
 * complete and rollback) is the one the constraint operations share, in duplicate-column.ts.
 */
import type pg from 'pg';
import { renameColumnReferences } from '../expression.js';
import { newColumnName } from '../names.js';
import type { AlterColumn, ForeignKeyReference } from '../operations.js';
import { ident, qualified } from '../sql.js';
import { findColumn, findTable, requireColumn, requireTable, type VirtualColumn, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { checkSql, tableReferenceSql } from './columns.js';
import { completeDuplication, rollbackDuplication, startDuplication } from './duplicate-column.js';
import { constraintExists, guarded, relationExists } from './guards.js';
import { OperationError, type OperationHandler, type Step } from './types.js';
import { switchOf } from '../complete-schedule.js';

export const alterColumn: OperationHandler<'alter_column'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const column = requireColumn(table, operation.column);
    await refuseUnsupported(operation, schema, table, column, db);
    const physical = newColumnName(operation.column);
    const target = qualified(schema.name, table.physical);
    const type = operation.type ?? column.type;
    // the old default is kept unless the operation replaces it, and only if it still fits the new type
    const keptDefault = column.default !== null && (operation.type === undefined || (await defaultFits(db, schema.name, type, column.default))) ? column.default : null;
    const steps = await startDuplication({
      schema,
      table,
      columns: [
        {
          name: operation.column,
          up: operation.up,
          down: operation.down,
          ...(operation.type === undefined ? {} : { type: operation.type }),
          ...(operation.nullable === undefined ? {} : { notNull: !operation.nullable }),
          default: operation.default === undefined ? keptDefault : operation.default,
          ...(operation.comment === undefined ? {} : { comment: operation.comment }),
        },
      ],
      versionSchema,
      db,
    });
    if (operation.check !== undefined) {
      const constraint = await renameColumnReferences(operation.check.constraint, new Map([[operation.column, physical]]));
      steps.push({ sql: `alter table ${target} add ${checkSql({ ...operation.check, constraint }, true)}` });
    }
    if (operation.references !== undefined) steps.push({ sql: `alter table ${target} add ${foreignKeySql(operation.references, schema, physical)}` });
    if (operation.unique !== undefined) {
      steps.push({ sql: `create unique index concurrently if not exists ${ident(operation.unique.name)} on ${target} (${ident(physical)})`, outsideTransaction: true });
    }
    recordConstraints(table, operation, physical);
    return { steps, backfill: [table.name] };
  },

  complete(operation, { after }) {
    // start refuses a table renamed before it, so its name then was also its physical name; a
    // rename_table later in the migration changes the logical name at once and the physical one after this
    const physicalTable = operation.table;
    const target = qualified(after.name, physicalTable);
    const { validate, replace } = completeDuplication(after, physicalTable, [operation.column]);
    const steps: Step[] = [...validate];
    if (operation.check !== undefined) steps.push(validateStep(after.name, physicalTable, operation.check.name));
    if (operation.references !== undefined) steps.push(validateStep(after.name, physicalTable, operation.references.name));
    steps.push(...replace);
    if (operation.unique !== undefined) {
      const name = operation.unique.name;
      steps.push(...switchOf(physicalTable, [
        { sql: guarded(`${relationExists(after.name, name)} and not ${constraintExists(after.name, physicalTable, name)}`, [`alter table ${target} add constraint ${ident(name)} unique using index ${ident(name)}`]) },
      ]));
    }
    // the operation's own constraints were on the new column, which now has the final name
    const physical = newColumnName(operation.column);
    const table = after.tables.find((each) => each.physical === physicalTable);
    for (const each of [...(table?.constraints ?? []), ...(table?.indexes ?? [])]) each.columns = each.columns.map((name) => (name === physical ? operation.column : name));
    return { steps };
  },

  rollback(operation, { after }) {
    // the new column takes its constraints and indexes with it
    return rollbackDuplication(after.name, operation.table, [operation.column]);
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
}

function foreignKeySql(reference: ForeignKeyReference, schema: VirtualSchema, physical: string): string {
  const { name, table, column, deferrable, initially_deferred: deferred, ...rest } = reference;
  const clause = tableReferenceSql([physical], { ...rest, table, columns: [column] }, schema);
  return `constraint ${ident(name)} ${clause}${deferrable === true ? ' deferrable' : ''}${deferred === true ? ' initially deferred' : ''} not valid`;
}

function validateStep(schema: string, table: string, name: string): Step {
  return { sql: guarded(constraintExists(schema, table, name), [`alter table ${qualified(schema, table)} validate constraint ${ident(name)}`]), beforeSwitch: true };
}

/** The constraints start adds, in the model, so later operations of the migration see them. */
function recordConstraints(table: VirtualTable, operation: AlterColumn, physical: string): void {
  if (operation.check !== undefined) table.constraints.push({ name: operation.check.name, type: 'check', columns: [physical], definition: `CHECK (${operation.check.constraint}) NOT VALID` });
  if (operation.references !== undefined) table.constraints.push({ name: operation.references.name, type: 'foreign_key', columns: [physical], definition: '' });
  if (operation.unique !== undefined) table.indexes.push({ name: operation.unique.name, unique: true, columns: [physical], definition: '' });
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
