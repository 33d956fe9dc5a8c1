/**
 * Copies one schema of the app's database into a scratch database: extensions, enum types,
 * sequences, tables, constraints and indexes, and with `rows` a sample of each table's rows. The app
 * database is only read, in one read-only snapshot. Rows go in before the constraints and indexes
 * (faster, and a foreign key can then drop the sampled rows whose parent was not sampled); foreign
 * keys come last, when every table they name exists.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../../errors.js';
import { ident, literal, qualified } from '../sql.js';
import { readCatalog, type Catalog, type ColumnInfo, type ConstraintInfo, type SequenceInfo } from './catalog.js';

export interface CopyOptions {
  schema: string;
  /** rows copied per table at most (0: the schema only) */
  rows: number;
}

export interface CopyReport {
  tables: number;
  rows: Record<string, number>;
  /** sampled rows left out because a foreign key's parent row was not sampled */
  orphansDropped: number;
  /** what the copy left out, for the report */
  notes: string[];
}

export async function copySchema(source: pg.Pool, target: pg.Pool, options: CopyOptions): Promise<CopyReport> {
  const { schema, rows } = options;
  const reader = await source.connect().catch((error: unknown) => {
    throw wrapError('connecting to the app database to read its schema', error);
  });
  try {
    await reader.query('begin transaction isolation level repeatable read read only');
    const catalog = await readCatalog(reader, schema).catch((error: unknown) => {
      throw wrapError(`reading the catalog of schema "${schema}"`, error);
    });
    refuseWhatCannotBeCopied(catalog);
    const notes = await createObjects(target, catalog);
    const copied: Record<string, number> = {};
    if (rows > 0) for (const table of catalog.tables) copied[table.name] = await copyRows(reader, target, catalog, table.name, rows);
    await reader.query('rollback');
    await runAll(target, constraintStatements(catalog, (constraint) => constraint.type !== 'f'));
    await runAll(target, catalog.indexes.map((index) => index.definition));
    const foreignKeys = catalog.constraints.filter((constraint) => constraint.type === 'f' && constraint.referencedSchema === schema);
    const orphansDropped = rows > 0 ? await dropOrphans(target, schema, foreignKeys) : 0;
    await runAll(target, constraintStatements(catalog, (constraint) => foreignKeys.includes(constraint)));
    await runAll(target, finishingStatements(catalog));
    for (const foreign of catalog.constraints.filter((constraint) => constraint.type === 'f' && constraint.referencedSchema !== schema)) {
      notes.push(`foreign key ${foreign.name} on ${foreign.table} left out: it references ${foreign.referencedSchema ?? '?'}.${foreign.referencedTable ?? '?'}, outside the schema`);
    }
    for (const skipped of catalog.skipped) notes.push(`${skipped.kind} ${skipped.name} not copied`);
    return { tables: catalog.tables.length, rows: copied, orphansDropped, notes };
  } finally {
    await reader.query('rollback').catch(() => undefined);
    reader.release();
  }
}

function refuseWhatCannotBeCopied(catalog: Catalog): void {
  const partitioned = catalog.tables.filter((table) => table.kind === 'p' || table.partition);
  if (partitioned.length > 0) {
    throw new PromoteError(`rehearse cannot copy partitioned tables yet (${partitioned.map((table) => table.name).join(', ')} in schema "${catalog.schema}")`);
  }
  const [first, ...others] = catalog.unsupportedTypes;
  if (first !== undefined) {
    throw new PromoteError(
      `rehearse copies enum types only, and column ${first.table}.${first.column} has ${first.kind} ${first.type}${others.length > 0 ? ` (and ${others.length} more such columns)` : ''}`,
    );
  }
}

/** Schemas, extensions, enums, sequences and tables with their columns and NOT NULL constraints. */
async function createObjects(target: pg.Pool, catalog: Catalog): Promise<string[]> {
  const notes: string[] = [];
  const schemas = new Set([catalog.schema, ...catalog.enums.map((type) => type.schema)]);
  await runAll(target, [...schemas].map((name) => `create schema if not exists ${ident(name)}`));
  const available = new Set((await target.query<{ name: string }>('select name from pg_available_extensions')).rows.map((row) => row.name));
  for (const extension of catalog.extensions) {
    if (!available.has(extension.name)) {
      notes.push(`extension ${extension.name} is not available on the scratch server: left out`);
      continue;
    }
    await runAll(target, [`create schema if not exists ${ident(extension.schema)}`, `create extension if not exists ${ident(extension.name)} with schema ${ident(extension.schema)}`]);
  }
  await runAll(target, catalog.enums.map((type) => `create type ${qualified(type.schema, type.name)} as enum (${type.labels.map(literal).join(', ')})`));
  await runAll(target, catalog.sequences.map((sequence) => `create sequence ${qualified(sequence.schema, sequence.name)} as ${sequence.type} ${sequenceOptions(sequence)}`));
  await runAll(target, catalog.tables.map((table) => createTable(catalog, table.name, table.unlogged)));
  return notes;
}

function createTable(catalog: Catalog, table: string, unlogged: boolean): string {
  const columns = catalog.columns.filter((column) => column.table === table);
  // named NOT NULL constraints (PostgreSQL 18) keep their names; valid ones go inline, so a primary key reuses them
  const notNulls = catalog.constraints.filter((constraint) => constraint.table === table && constraint.type === 'n' && constraint.validated);
  const named = new Set(notNulls.flatMap((constraint) => constraint.columns));
  const lines = [
    ...columns.map((column) => columnDefinition(column, column.notNull && !named.has(column.name))),
    ...notNulls.map((constraint) => `constraint ${ident(constraint.name)} ${constraint.definition}`),
  ];
  return `create ${unlogged ? 'unlogged ' : ''}table ${qualified(catalog.schema, table)} (\n  ${lines.join(',\n  ')}\n)`;
}

function columnDefinition(column: ColumnInfo, inlineNotNull: boolean): string {
  let sql = `${ident(column.name)} ${column.type}`;
  if (column.collation !== null) sql += ` collate ${column.collation}`;
  if (column.generated !== '' && column.expression !== null) {
    sql += ` generated always as (${column.expression}) ${column.generated === 'v' ? 'virtual' : 'stored'}`;
  } else if (column.identity !== '') {
    const options = column.identitySequence === null ? '' : ` (sequence name ${qualified(column.identitySequence.schema, column.identitySequence.name)} ${sequenceOptions(column.identitySequence)})`;
    sql += ` generated ${column.identity === 'a' ? 'always' : 'by default'} as identity${options}`;
  } else if (column.expression !== null) {
    sql += ` default ${column.expression}`;
  }
  return inlineNotNull ? `${sql} not null` : sql;
}

function sequenceOptions(sequence: SequenceInfo): string {
  return `start with ${sequence.start} increment by ${sequence.increment} minvalue ${sequence.min} maxvalue ${sequence.max} cache ${sequence.cache} ${sequence.cycle ? 'cycle' : 'no cycle'}`;
}

const CONSTRAINT_ORDER = ['n', 'p', 'u', 'c', 'x', 'f'];

function constraintStatements(catalog: Catalog, which: (constraint: ConstraintInfo) => boolean): string[] {
  return catalog.constraints
    .filter((constraint) => !(constraint.type === 'n' && constraint.validated) && which(constraint))
    .sort((a, b) => CONSTRAINT_ORDER.indexOf(a.type) - CONSTRAINT_ORDER.indexOf(b.type))
    .map((constraint) => `alter table ${qualified(catalog.schema, constraint.table)} add constraint ${ident(constraint.name)} ${constraint.definition}`);
}

/** Sequence positions, serial ownership, replica identity and comments. */
function finishingStatements(catalog: Catalog): string[] {
  const statements: string[] = [];
  const sequences = [...catalog.sequences, ...catalog.columns.flatMap((column) => (column.identitySequence === null ? [] : [column.identitySequence]))];
  for (const sequence of sequences) {
    if (sequence.lastValue !== null) statements.push(`select setval(${literal(qualified(sequence.schema, sequence.name))}, ${sequence.lastValue}, true)`);
    if (sequence.ownedBy !== null && sequence.schema === catalog.schema) {
      statements.push(`alter sequence ${qualified(sequence.schema, sequence.name)} owned by ${qualified(catalog.schema, sequence.ownedBy.table)}.${ident(sequence.ownedBy.column)}`);
    }
  }
  for (const table of catalog.tables) {
    const name = qualified(catalog.schema, table.name);
    if (table.replicaIdentity === 'f') statements.push(`alter table ${name} replica identity full`);
    if (table.replicaIdentity === 'n') statements.push(`alter table ${name} replica identity nothing`);
    if (table.replicaIdentity === 'i' && table.replicaIndex !== null) statements.push(`alter table ${name} replica identity using index ${ident(table.replicaIndex)}`);
    if (table.comment !== null) statements.push(`comment on table ${name} is ${literal(table.comment)}`);
  }
  for (const column of catalog.columns) {
    if (column.comment !== null) statements.push(`comment on column ${qualified(catalog.schema, column.table)}.${ident(column.name)} is ${literal(column.comment)}`);
  }
  return statements;
}

/** Up to `limit` rows of a table, through JSON: no COPY client needed, and every type has a text form. */
async function copyRows(reader: pg.PoolClient, target: pg.Pool, catalog: Catalog, table: string, limit: number): Promise<number> {
  const columns = catalog.columns.filter((column) => column.table === table && column.generated === '').map((column) => ident(column.name));
  if (columns.length === 0) return 0;
  const name = qualified(catalog.schema, table);
  try {
    const sample = await reader.query<{ rows: string; count: number }>(
      `select coalesce(json_agg(t), '[]')::text as rows, count(*)::int as count from (select ${columns.join(', ')} from ${name} limit $1) t`,
      [limit],
    );
    const { rows, count } = sample.rows[0] ?? { rows: '[]', count: 0 };
    if (count > 0) {
      await target.query(`insert into ${name} (${columns.join(', ')}) overriding system value select ${columns.join(', ')} from json_populate_recordset(null::${name}, $1::json)`, [rows]);
    }
    return count;
  } catch (error) {
    throw wrapError(`copying sampled rows of table ${catalog.schema}.${table}`, error);
  }
}

/**
 * A sample need not hold a child row's parent: such rows are deleted before the foreign keys are
 * added, again until none is left, since a deleted row can be the parent of another.
 */
async function dropOrphans(target: pg.Pool, schema: string, foreignKeys: ConstraintInfo[]): Promise<number> {
  let dropped = 0;
  for (;;) {
    let round = 0;
    for (const key of foreignKeys) {
      const present = key.columns.map((column) => `c.${ident(column)} is not null`).join(' and ');
      const matches = key.columns.map((column, index) => `p.${ident(key.referencedColumns[index] ?? column)} = c.${ident(column)}`).join(' and ');
      const result = await target.query(
        `delete from ${qualified(schema, key.table)} c where ${present} and not exists (select 1 from ${qualified(schema, key.referencedTable ?? key.table)} p where ${matches})`,
      );
      round += result.rowCount ?? 0;
    }
    dropped += round;
    if (round === 0) return dropped;
  }
}

async function runAll(target: pg.Pool, statements: string[]): Promise<void> {
  for (const sql of statements) {
    try {
      await target.query(sql);
    } catch (error) {
      throw wrapError(`copying the schema to the scratch database, running: ${sql}`, error);
    }
  }
}
