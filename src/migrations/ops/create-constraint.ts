/**
 * create_constraint: a constraint over existing columns, without blocking writers and without
 * breaking the old version, whose rows may not satisfy it. Every column it covers is duplicated
 * (duplicate-column.ts); `up` turns the old version's values into ones the constraint accepts, `down`
 * maps the new version's back. The constraint is made on the twins in a form that does not scan under
 * a lock: unique and primary keys as a unique index built concurrently, attached on complete; checks
 * and foreign keys NOT VALID, validated on complete. A primary key's columns become NOT NULL through
 * a NOT VALID check too, which lets the attach skip its scan of the table.
 */
import { renameColumnReferences } from '../expression.js';
import { newColumnName } from '../names.js';
import type { CreateConstraint, IndexParameters } from '../operations.js';
import { ident, qualified } from '../sql.js';
import { findColumn, requireColumn, requireTable, type VirtualSchema, type VirtualTable } from '../virtual-schema.js';
import { tableReferenceSql } from './columns.js';
import { completeDuplication, rollbackDuplication, startDuplication } from './duplicate-column.js';
import { constraintExists, guarded, relationExists } from './guards.js';
import { checkColumnSql, relationOnDisk, tableOnDisk } from './multi-column.js';
import { OperationError, type OperationHandler, type Step } from './types.js';
import { switchOf } from '../complete-schedule.js';

export const createConstraint: OperationHandler<'create_constraint'> = {
  async start(operation, { schema, versionSchema, db }) {
    const table = requireTable(schema, operation.table);
    const columns = operation.columns ?? [];
    checkRequest(operation, schema, table, columns);
    if (usesIndex(operation) && (await relationOnDisk(db, schema.name, operation.name))) {
      throw new OperationError(`the ${operation.type} constraint's index would be named "${operation.name}", and schema "${schema.name}" has a relation of that name already`);
    }
    const twins = columns.map(newColumnName);
    const duplicates = columns.map((name) => ({ name, up: operation.up[name], down: operation.down[name], ...(operation.type === 'primary_key' ? { notNull: true } : {}) }));
    const steps = await startDuplication({ schema, table, columns: duplicates, versionSchema, db });
    steps.push(await constraintStep(operation, schema, table.physical, columns));
    table.constraints.push({ name: operation.name, type: operation.type, columns: twins, definition: '' });
    const backfill = columns.length > 0 && (await tableOnDisk(db, schema.name, table.physical));
    return { steps, ...(backfill ? { backfill: [table.name] } : {}) };
  },

  complete(operation, { after }) {
    const columns = operation.columns ?? [];
    const { validate, replace } = completeDuplication(after, operation.table, columns);
    const target = qualified(after.name, operation.table);
    const steps: Step[] = [...validate];
    if (operation.type === 'check' || operation.type === 'foreign_key') {
      steps.push({ sql: guarded(constraintExists(after.name, operation.table, operation.name), [`alter table ${target} validate constraint ${ident(operation.name)}`]), beforeSwitch: true });
    }
    steps.push(...replace);
    if (usesIndex(operation)) {
      // after replace: a primary key needs its columns NOT NULL, which the validated checks allow without a scan
      const kind = operation.type === 'primary_key' ? 'primary key' : 'unique';
      steps.push(
        ...switchOf(operation.table, [
          {
            sql: guarded(`${relationExists(after.name, operation.name)} and not ${constraintExists(after.name, operation.table, operation.name)}`, [
              `alter table ${target} add constraint ${ident(operation.name)} ${kind} using index ${ident(operation.name)}`,
            ]),
          },
        ]),
      );
    }
    const table = after.tables.find((each) => each.physical === operation.table);
    const constraint = table?.constraints.find((each) => each.name === operation.name);
    if (constraint !== undefined) constraint.columns = [...columns];
    if (table !== undefined && operation.type === 'primary_key') table.primaryKey = [...columns];
    return { steps };
  },

  rollback(operation, { after }) {
    const target = qualified(after.name, operation.table);
    return [
      // concurrently, so before the table's switch
      ...(usesIndex(operation) ? [{ sql: `drop index concurrently if exists ${qualified(after.name, operation.name)}`, outsideTransaction: true, beforeSwitch: true }] : []),
      ...rollbackDuplication(after.name, operation.table, operation.columns ?? []),
      // a constraint over no column is on the table itself; one over columns went with their twins
      ...switchOf(operation.table, [{ sql: `alter table if exists ${target} drop constraint if exists ${ident(operation.name)}` }]),
    ];
  },
};

function usesIndex(operation: CreateConstraint): boolean {
  return operation.type === 'unique' || operation.type === 'primary_key';
}

function checkRequest(operation: CreateConstraint, schema: VirtualSchema, table: VirtualTable, columns: readonly string[]): void {
  if (table.constraints.some((constraint) => constraint.name === operation.name)) throw new OperationError(`constraint "${operation.name}" already exists on table "${operation.table}"`);
  for (const column of columns) requireColumn(table, column);
  if (new Set(columns).size !== columns.length) throw new OperationError(`columns names a column twice (${columns.join(', ')})`);
  checkColumnSql('up', operation.up, columns, true);
  checkColumnSql('down', operation.down, columns, true);
  if (usesIndex(operation) && columns.length === 0) throw new OperationError(`a ${operation.type} constraint needs "columns"`);
  if (operation.type === 'primary_key' && table.primaryKey.length > 0) {
    throw new OperationError(`table "${operation.table}" has a primary key already (${table.primaryKey.join(', ')})`);
  }
  if (operation.type === 'check' && (operation.check === undefined || operation.check.trim() === '')) throw new OperationError('a check constraint needs "check"');
  if (operation.type === 'foreign_key') {
    const references = operation.references;
    if (references === undefined) throw new OperationError('a foreign_key constraint needs "references"');
    const referenced = requireTable(schema, references.table);
    for (const column of references.columns) requireColumn(referenced, column);
    if (references.columns.length !== columns.length) {
      throw new OperationError(`the foreign key has ${columns.length} column${columns.length === 1 ? '' : 's'} (${columns.join(', ')}) but references ${references.columns.length} (${references.columns.join(', ')})`);
    }
  }
}

/** The constraint on the twins, in its non-blocking form. */
async function constraintStep(operation: CreateConstraint, schema: VirtualSchema, physicalTable: string, columns: readonly string[]): Promise<Step> {
  const target = qualified(schema.name, physicalTable);
  const twins = columns.map((column) => ident(newColumnName(column)));
  switch (operation.type) {
    case 'unique':
    case 'primary_key':
      return {
        sql: `create unique index concurrently if not exists ${ident(operation.name)} on ${target} (${twins.join(', ')})${indexParameters(operation.index_parameters, schema, physicalTable)}`,
        outsideTransaction: true,
      };
    case 'check': {
      const check = await renameColumnReferences(operation.check ?? '', new Map(columns.map((column) => [column, newColumnName(column)])));
      return { sql: `alter table ${target} add constraint ${ident(operation.name)} check (${check})${operation.no_inherit === true ? ' no inherit' : ''} not valid` };
    }
    case 'foreign_key': {
      const references = operation.references;
      if (references === undefined) throw new OperationError('a foreign_key constraint needs "references"');
      return { sql: `alter table ${target} add constraint ${ident(operation.name)} ${tableReferenceSql(columns.map(newColumnName), references, schema)} not valid` };
    }
  }
}

/** INCLUDE, WITH and TABLESPACE of CREATE INDEX (a constraint's form of them, in columns.ts, says USING INDEX TABLESPACE). */
function indexParameters(parameters: IndexParameters | undefined, schema: VirtualSchema, physicalTable: string): string {
  if (parameters === undefined) return '';
  const table = schema.tables.find((each) => each.physical === physicalTable);
  const physical = (column: string) => (table === undefined ? undefined : findColumn(table, column))?.physical ?? column;
  const parts: string[] = [];
  if (parameters.include_columns?.length) parts.push(`include (${parameters.include_columns.map((column) => ident(physical(column))).join(', ')})`);
  if (parameters.storage_parameters !== undefined && parameters.storage_parameters !== '') parts.push(`with (${parameters.storage_parameters})`);
  if (parameters.tablespace !== undefined && parameters.tablespace !== '') parts.push(`tablespace ${ident(parameters.tablespace)}`);
  return parts.length === 0 ? '' : ` ${parts.join(' ')}`;
}
