/**
 * A version schema: one view per table, showing each column under the name this version uses and
 * reading it from wherever it lives on disk. Simple views are updatable, so a client whose
 * search_path (or promote.version) names the version schema reads and writes its own shape.
 */
import type { Step } from './ops/types.js';
import { ident, qualified } from './sql.js';
import type { VirtualSchema, VirtualTable } from './virtual-schema.js';

export function createVersionSchemaSteps(schema: VirtualSchema, versionSchema: string): Step[] {
  const steps: Step[] = [{ sql: `create schema if not exists ${ident(versionSchema)}` }];
  for (const table of schema.tables) {
    if (table.removed === true) continue;
    steps.push({ sql: viewSql(schema.name, table, versionSchema) });
  }
  return steps;
}

export function dropVersionSchemaStep(versionSchema: string): Step {
  return { sql: `drop schema if exists ${ident(versionSchema)} cascade` };
}

function viewSql(schemaName: string, table: VirtualTable, versionSchema: string): string {
  const view = qualified(versionSchema, table.name);
  const columns = table.columns.map((column) => `${ident(column.physical)} as ${ident(column.name)}`).join(', ');
  // A view has no defaults of its own: a column whose default only the new version has (its physical
  // column gets it on complete) must still get it when the new version inserts through the view.
  const defaults = table.columns
    .filter((column) => column.default !== null && !column.generated)
    .map((column) => `alter view ${view} alter column ${ident(column.name)} set default ${column.default};`);
  const select = table.columns.length === 0 ? 'select' : `select ${columns}`;
  return [
    `drop view if exists ${view};`,
    `create view ${view} with (security_invoker = true) as ${select} from ${qualified(schemaName, table.physical)};`,
    ...defaults,
  ].join('\n');
}
