/**
 * The integrity gate before contract: for every column the migration changed (a duplicate column
 * fed by `up` and `down`), each row's two values must agree: the new value is `up` of the old one for
 * a row the old version (or the backfill) wrote last, and the old value is `down` of the new one for
 * a row the new version wrote last (the triggers record which). A difference means a write the
 * triggers translated wrongly, or one they missed; contract would make it permanent by dropping the
 * old column, so it is refused, naming the rows.
 *
 * Both columns live in the same table, so rows are compared directly, in key-ordered chunks:
 * exact (no checksum that two differences could cancel) and bounded per statement. Columns whose `up`
 * calls a volatile function (random(), clock_timestamp()) cannot be recomputed and are reported
 * as not checked.
 */
import { loadModule, parseSync } from 'libpg-query';
import type pg from 'pg';
import { wrapError } from '../errors.js';
import { renameColumnReferences } from './expression.js';
import { NEW_VERSION_WROTE_COLUMN } from './names.js';
import { strings, walk } from './lint/ast.js';
import type { Operation } from './operations.js';
import { ident, qualified } from './sql.js';
import type { MigrationRun } from './state.js';
import type { VirtualTable } from './virtual-schema.js';

export interface GateColumn {
  table: string;
  column: string;
  /** rows compared */
  rows: number;
  /** keys of differing rows (the first ones), as text */
  differing: string[][];
  differingCount: number;
}

export interface GateReport {
  checked: GateColumn[];
  skipped: { table: string; column: string; reason: string }[];
  ok: boolean;
}

const CHUNK_ROWS = 10_000;
const KEYS_SHOWN = 20;

export async function integrityGate(pool: pg.Pool, run: MigrationRun): Promise<GateReport> {
  const report: GateReport = { checked: [], skipped: [], ok: true };
  for (const change of changedColumns(run)) {
    const volatile = await volatileCall(pool, change.up);
    const volatileDown = volatile === undefined ? await volatileCall(pool, change.down) : undefined;
    if (volatile !== undefined || volatileDown !== undefined) {
      const which = volatile !== undefined ? `up expression calls ${volatile}` : `down expression calls ${volatileDown ?? ''}`;
      report.skipped.push({ table: change.table.name, column: change.column, reason: `its ${which}, which is volatile` });
      continue;
    }
    const checked = await compareColumn(pool, run.schema, change);
    report.checked.push(checked);
    if (checked.differingCount > 0) report.ok = false;
  }
  return report;
}

interface ChangedColumn {
  table: VirtualTable;
  column: string;
  oldPhysical: string;
  newPhysical: string;
  newType: string;
  oldType: string;
  /** over the old shape's logical names */
  up: string;
  /** over the new shape's logical names */
  down: string;
  before: VirtualTable;
}

/** Columns whose physical home moved between before and after start, with the `up` that fed them. */
function changedColumns(run: MigrationRun): ChangedColumn[] {
  const changes: ChangedColumn[] = [];
  for (const table of run.after.tables) {
    if (table.removed === true) continue;
    const before = run.before.tables.find((each) => each.physical === table.physical);
    if (before === undefined || before.primaryKey.length === 0) continue;
    for (const column of table.columns) {
      const old = before.columns.find((each) => each.physical !== column.physical && sameColumn(run, before, each.name, table.name, column.name));
      if (old === undefined) continue;
      changes.push({
        table,
        column: column.name,
        oldPhysical: old.physical,
        newPhysical: column.physical,
        newType: column.type,
        oldType: old.type,
        up: expressionFor('up', run.operations, table.name, before, old.name) ?? ident(old.name),
        down: expressionFor('down', run.operations, table.name, before, old.name) ?? ident(column.name),
        before,
      });
    }
  }
  return changes;
}

/** Whether `oldName` of the old table is `newName` of the new one (a rename in the same migration counts). */
function sameColumn(run: MigrationRun, before: VirtualTable, oldName: string, table: string, newName: string): boolean {
  let name = oldName;
  for (const operation of run.operations) {
    if (operation.kind === 'rename_column' && (operation.table === before.name || operation.table === table) && operation.from === name) name = operation.to;
  }
  return name === newName;
}

/** The `up` or `down` SQL an operation gave the column (by its name before the migration). */
function expressionFor(direction: 'up' | 'down', operations: readonly Operation[], table: string, before: VirtualTable, column: string): string | undefined {
  const oldTable = before.name;
  const constraintColumns = (name: string) => before.constraints.find((constraint) => constraint.name === name)?.columns.map((physical) => before.columns.find((each) => each.physical === physical)?.name ?? physical);
  const on = (name: string) => name === table || name === oldTable;
  const given = (text: string | undefined) => (text !== undefined && text.trim() !== '' ? text : undefined);
  for (const operation of operations) {
    switch (operation.kind) {
      case 'alter_column':
        if (on(operation.table) && operation.column === column) return given(operation[direction]);
        break;
      case 'create_constraint':
      case 'drop_multicolumn_constraint': {
        const text = given(operation[direction]?.[column]);
        if (on(operation.table) && text !== undefined) return text;
        break;
      }
      case 'drop_constraint':
        if (on(operation.table) && (constraintColumns(operation.name) ?? []).includes(column)) return given(operation[direction]);
        break;
      default:
        break;
    }
  }
  return undefined;
}

async function compareColumn(pool: pg.Pool, schema: string, change: ChangedColumn): Promise<GateColumn> {
  const keyPhysical = change.before.primaryKey.map((name) => change.before.columns.find((each) => each.name === name)?.physical ?? name);
  const upSql = await renameColumnReferences(asExpression(change.up), new Map(change.before.columns.map((column) => [column.name, column.physical])));
  const downSql = await renameColumnReferences(asExpression(change.down), new Map(change.table.columns.map((column) => [column.name, column.physical])));
  const keyList = keyPhysical.map(ident).join(', ');
  const keyText = keyPhysical.map((name) => `${ident(name)}::text`).join(', ');
  const table = qualified(schema, change.table.physical);
  const result: GateColumn = { table: change.table.name, column: change.column, rows: 0, differing: [], differingCount: 0 };
  let cursor: string[] | undefined;
  try {
    // down runs only in the new version's writes, so a file's down can be wrong while no such write
    // happened (pgroll's own example 35 names a column that does not exist): plan it only when needed
    const newVersionWrote = (await pool.query<{ wrote: boolean }>(`select exists (select from ${table} where ${ident(NEW_VERSION_WROTE_COLUMN)}) as wrote`)).rows[0]?.wrote === true;
    const upDiffers = `((${upSql})::${change.newType}) is distinct from ${ident(change.newPhysical)}`;
    const differs = newVersionWrote
      ? `case when ${ident(NEW_VERSION_WROTE_COLUMN)} then ((${downSql})::${change.oldType}) is distinct from ${ident(change.oldPhysical)} else ${upDiffers} end`
      : upDiffers;
    for (;;) {
      const after = cursor === undefined ? '' : `where (${keyList}) > (${cursor.map((_value, index) => `$${index + 1}`).join(', ')})`;
      const chunk = await pool.query<{ keys: string[]; differs: boolean }>(
        `select array[${keyText}] as keys, ${differs} as differs from ${table} ${after} order by ${keyList} limit ${CHUNK_ROWS}`,
        cursor ?? [],
      );
      if (chunk.rows.length === 0) return result;
      result.rows += chunk.rows.length;
      for (const row of chunk.rows) {
        if (!row.differs) continue;
        result.differingCount += 1;
        if (result.differing.length < KEYS_SHOWN) result.differing.push(row.keys);
      }
      cursor = chunk.rows.at(-1)?.keys;
    }
  } catch (error) {
    throw wrapError(`comparing ${change.table.name}.${change.column} with its up expression over every row`, error);
  }
}

let loading: Promise<void> | undefined;

/** The first function the expression calls that the database declares volatile, if any. */
async function volatileCall(pool: pg.Pool, expression: string): Promise<string | undefined> {
  loading ??= loadModule();
  await loading;
  const names = new Set<string>();
  walk(parseSync(`select ${asExpression(expression)}`), (kind, body) => {
    if (kind === 'FuncCall') names.add(strings(body.funcname as never).at(-1) ?? '');
  });
  if (names.size === 0) return undefined;
  const result = await pool.query<{ name: string }>(`select proname as name from pg_proc where proname = any($1) and provolatile = 'v' limit 1`, [[...names]]);
  return result.rows[0] === undefined ? undefined : `${result.rows[0].name}()`;
}


/** pgroll's files may write `up` as `SELECT CASE … END`: as a scalar subquery it is an expression. */
function asExpression(up: string): string {
  return /^\s*select\b/i.test(up) ? `(${up})` : up;
}

export function describeDifferences(report: GateReport): string {
  return report.checked
    .filter((column) => column.differingCount > 0)
    .map((column) => `${column.table}.${column.column}: in ${column.differingCount} of ${column.rows} row(s) the old and the new value disagree (new <> up(old), or old <> down(new) where the new version wrote last), keys ${column.differing.map((key) => `(${key.join(', ')})`).join(' ')}${column.differingCount > column.differing.length ? ' …' : ''}`)
    .join('; ');
}
