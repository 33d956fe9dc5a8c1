/**
 * Small SQL builders the operations share to make their complete and rollback steps idempotent: a
 * step that already ran must be harmless when an interrupted phase runs again.
 */
import { dollarQuote, ident, literal, qualified } from '../sql.js';
import type { Step } from './types.js';

export function hasText(text: string | undefined): text is string {
  return text !== undefined && text.trim() !== '';
}

/** `alter table … rename column`, skipped when the column has been renamed already (a complete run again). */
export function renameColumnIfExists(schema: string, table: string, from: string, to: string): Step {
  if (from === to) return { sql: 'select 1' };
  const exists = `exists (select from pg_attribute where attrelid = ${regclass(schema, table)} and attname = ${literal(from)} and not attisdropped)`;
  return { sql: guarded(exists, [`alter table ${qualified(schema, table)} rename column ${ident(from)} to ${ident(to)}`]) };
}

export function regclass(schema: string, table: string): string {
  return `to_regclass(${literal(qualified(schema, table))})`;
}

/** Statements that run only when the condition holds, in one DO block. */
export function guarded(condition: string, statements: readonly string[]): string {
  return `do ${dollarQuote(`begin\n  if ${condition} then\n${statements.map((statement) => `    execute ${literal(statement)};`).join('\n')}\n  end if;\nend`)}`;
}

/** True when the table (which may be gone) has a constraint of this name. */
export function constraintExists(schema: string, table: string, name: string): string {
  return `exists (select from pg_constraint where conrelid = ${regclass(schema, table)} and conname = ${literal(name)})`;
}

/** True when the relation (table, index) exists. */
export function relationExists(schema: string, name: string): string {
  return `to_regclass(${literal(qualified(schema, name))}) is not null`;
}

/** True when the table (which may be gone) has a live column of this name. */
export function columnExists(schema: string, table: string, column: string): string {
  return `exists (select from pg_attribute where attrelid = ${regclass(schema, table)} and attname = ${literal(column)} and not attisdropped)`;
}

/**
 * An index names its columns after the table's columns when it is built, and keeps those names when
 * a column is renamed: an index built on a temporary column (`_promote_new_x`) would go on showing
 * it. Its columns take the column's final name too (ALTER TABLE on an index renames them).
 */
export function renameIndexColumnsStep(schema: string, table: string, from: string, to: string): Step {
  const body = [
    'declare',
    '  found record;',
    'begin',
    '  for found in select a.attrelid::regclass::text as index from pg_index x join pg_attribute a on a.attrelid = x.indexrelid',
    `     where x.indrelid = ${regclass(schema, table)} and a.attname = ${literal(from)}`,
    `       and not exists (select from pg_attribute b where b.attrelid = x.indexrelid and b.attname = ${literal(to)}) loop`,
    `    execute format('alter table %s rename column %I to %I', found.index, ${literal(from)}, ${literal(to)});`,
    '  end loop;',
    'end',
  ];
  return { sql: `do ${dollarQuote(body.join('\n'))}` };
}
