/**
 * The checks that are queries over one database: a rule as a query that must return no rows, no NULLs
 * in required columns, and references that find their rows. Each reads in a read-only transaction.
 */
import type { IntegrityCheckSpec } from '../../spec/schema-integrity.js';
import { columnName, readOnly, tableName } from './read-only.js';
import { EVIDENCE_ROWS, type CheckResult } from './types.js';

type Spec<T extends IntegrityCheckSpec['type']> = Extract<IntegrityCheckSpec, { type: T }>;
type Outcome = Pick<CheckResult, 'passed' | 'summary' | 'evidence'>;

export async function runSqlCheck(name: string, check: Spec<'sql'>, url: string): Promise<Outcome> {
  // a trailing semicolon is natural to write and would break the subquery
  const query = check.query.trim().replace(/;\s*$/, '');
  return readOnly(url, check.timeout, `integrity check ${name} (its query)`, async (client) => {
    const result = await client.query<Record<string, unknown>>(`select * from (${query}\n) as offending limit ${EVIDENCE_ROWS + 1}`);
    const rows = result.rows.slice(0, EVIDENCE_ROWS);
    const count = result.rows.length > EVIDENCE_ROWS ? `more than ${EVIDENCE_ROWS}` : String(result.rows.length);
    const rule = check.description ?? 'its query';
    return result.rows.length === 0
      ? { passed: true, summary: `${rule}: no offending rows`, evidence: { rows: [] } }
      : { passed: false, summary: `${rule}: ${count} offending row(s)`, evidence: { rows } };
  });
}

export async function runNotNullCheck(name: string, check: Spec<'notNull'>, url: string): Promise<Outcome> {
  const counts = check.columns.map((column, index) => `count(*) filter (where ${columnName(column)} is null) as c${index}`).join(', ');
  return readOnly(url, check.timeout, `integrity check ${name} (NULLs in ${check.table})`, async (client) => {
    const row = (await client.query<Record<string, string>>(`select count(*) as total, ${counts} from ${tableName(check.table)}`)).rows[0]!;
    const nulls = Object.fromEntries(check.columns.map((column, index) => [column, Number(row[`c${index}`])]));
    const offending = Object.entries(nulls).filter(([, count]) => count > 0);
    const rows = Number(row.total);
    return offending.length === 0
      ? { passed: true, summary: `${check.table}: no NULL in ${check.columns.join(', ')} (${rows} rows)`, evidence: { rows, nulls } }
      : { passed: false, summary: `${check.table}: ${offending.map(([column, count]) => `${count} NULL ${column}`).join(', ')} of ${rows} rows`, evidence: { rows, nulls } };
  });
}

export async function runReferencesCheck(name: string, check: Spec<'references'>, url: string): Promise<Outcome> {
  const own = check.columns.map(columnName);
  const their = check.references.columns.map(columnName);
  // MATCH SIMPLE, as a foreign key: a reference with a NULL part refers to nothing and is not checked
  const orphans = `from ${tableName(check.table)} as t
    where ${own.map((column) => `t.${column} is not null`).join(' and ')}
      and not exists (select 1 from ${tableName(check.references.table)} as r where ${own.map((column, index) => `r.${their[index]} = t.${column}`).join(' and ')})`;
  const target = `${check.references.table}(${check.references.columns.join(', ')})`;
  return readOnly(url, check.timeout, `integrity check ${name} (references from ${check.table} to ${target})`, async (client) => {
    const count = Number((await client.query<{ count: string }>(`select count(*) as count ${orphans}`)).rows[0]!.count);
    if (count === 0) return { passed: true, summary: `every ${check.table}(${check.columns.join(', ')}) finds its ${target}`, evidence: { orphans: 0 } };
    const sample = (await client.query<Record<string, unknown>>(`select distinct ${own.map((column) => `t.${column}`).join(', ')} ${orphans} limit ${EVIDENCE_ROWS}`)).rows;
    return { passed: false, summary: `${count} row(s) of ${check.table} refer to no ${target}`, evidence: { orphans: count, missing: sample } };
  });
}
