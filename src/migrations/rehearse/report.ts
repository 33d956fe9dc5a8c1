/** The text report of a rehearsal: one line per statement with the locks it held and what they block. */
import { formatTable } from '../../cli/output.js';
import type { Rehearsal, TracedStatement } from './rehearse.js';
import { TRIGGER_BOOKKEEPING_COLUMNS } from '../names.js';
import { LOCK_MODES } from './trace.js';

const STATEMENT_WIDTH = 88;

export function formatRehearsal(rehearsal: Rehearsal): string {
  const lines: string[] = [];
  const sample = rehearsal.rows > 0 ? `up to ${rehearsal.rows} rows per table` : 'schema only, no rows';
  lines.push(`rehearsed ${rehearsal.migration} on a scratch copy of schema ${rehearsal.schema} (${rehearsal.copy.tables} tables, ${sample}); lock budget ${rehearsal.budgetMs} ms`);
  for (const note of rehearsal.copy.notes) lines.push(`  note: ${note}`);
  if (rehearsal.copy.orphansDropped > 0) lines.push(`  note: ${rehearsal.copy.orphansDropped} sampled rows left out: their foreign key's parent row was not sampled`);
  lines.push('');
  lines.push(
    formatTable(rehearsal.statements, [
      { header: 'PHASE', value: (statement) => statement.phase },
      { header: 'STATEMENT', value: (statement) => shorten(statement.sql, rehearsal.schema, statement.switchOf) },
      { header: 'LOCKS', value: (statement) => describeLocks(statement, rehearsal.schema) },
      { header: 'HELD', value: (statement) => `${formatMs(statement.heldMs)} ms`, align: 'right' },
      { header: 'VERDICT', value: (statement) => verdict(statement, rehearsal.budgetMs) },
    ]).trimEnd(),
  );
  for (const table of rehearsal.backfill) {
    lines.push(`backfill ${table.table}: ${table.rows} rows in ${formatMs(table.ms)} ms, in short batches that lock rows, not the table`);
  }
  lines.push('');
  if (rehearsal.rows === 0) {
    lines.push('held times are those of empty tables: rehearse with --rows <n> for times that mean something');
  } else if (rehearsal.overBudget > 0) {
    lines.push(`${rehearsal.overBudget} statement(s) would block the app longer than the ${rehearsal.budgetMs} ms lock budget`);
  } else {
    lines.push(`no statement blocks the app longer than the ${rehearsal.budgetMs} ms lock budget`);
  }
  return `${lines.join('\n')}\n`;
}

export function verdict(statement: TracedStatement, budgetMs: number): string {
  if (statement.outsideTransaction && !statement.sampled) return 'ok (too brief to sample)';
  if (statement.blocks === 'nothing') return 'ok';
  const text = `blocks ${statement.blocks} for ${formatMs(statement.heldMs)} ms`;
  return statement.overBudget ? `${text}: OVER the ${budgetMs} ms budget` : text;
}

/** The strongest mode per relation the app can see; relations the statement made are left out. */
function describeLocks(statement: TracedStatement, schema: string): string {
  if (statement.outsideTransaction && !statement.sampled) return '(not sampled)';
  const strongest = new Map<string, string>();
  for (const lock of statement.locks) {
    if (lock.created) continue;
    const name = `${lock.kind === 'table' ? '' : `${lock.kind} `}${lock.relation.startsWith(`${schema}.`) ? lock.relation.slice(schema.length + 1) : lock.relation}`;
    const current = strongest.get(name);
    if (current === undefined || rank(lock.mode) > rank(current)) strongest.set(name, lock.mode);
  }
  if (strongest.size === 0) return '-';
  return [...strongest]
    .sort(([, a], [, b]) => rank(b) - rank(a))
    .map(([name, mode]) => `${mode} on ${name}`)
    .join(', ');
}

function rank(mode: string): number {
  return LOCK_MODES.indexOf(mode as (typeof LOCK_MODES)[number]);
}

/**
 * One line a person can read: a guarded DO block shows the statements it executes, plain identifiers
 * lose their quotes and the app's schema its prefix. The JSON keeps the SQL as it ran.
 */
export function shorten(sql: string, schema: string, switchOf?: string): string {
  const text = switchOf === undefined ? readable(sql, schema) : describeSwitch(sql, schema, switchOf);
  return text.length <= STATEMENT_WIDTH ? text : `${text.slice(0, STATEMENT_WIDTH - 1)}…`;
}

function readable(sql: string, schema: string): string {
  let text = sql;
  if (/^\s*do\s/i.test(sql)) {
    const shown = executedIn(sql);
    if (shown.length > 0) text = `do: ${mergeAlters(shown).join('; ')}`;
  }
  return flatten(text, schema);
}

/** The statements a DO block executes, as it writes them. */
function executedIn(sql: string): string[] {
  const executed = [...sql.matchAll(/execute\s+'((?:[^']|'')*)'/gi)].map((match) => (match[1] ?? '').replace(/''/g, "'"));
  const formatted = [...sql.matchAll(/execute\s+format\(\s*'((?:[^']|'')*)'/gi)].map((match) => (match[1] ?? '').replace(/''/g, "'"));
  return executed.length > 0 ? executed : formatted;
}

function flatten(text: string, schema: string): string {
  return text
    .replace(/\s+/g, ' ')
    .trim()
    .replace(/"([a-z_][a-z0-9_$]*)"/g, '$1')
    .replace(/ if (not )?exists/gi, '')
    .replaceAll(`${schema}.`, '');
}

/**
 * A table's switch (several statements in one transaction) as what it does to the table, e.g.
 * `switch orders: rename _promote_new_total_cents to total_cents; drop column total; drop triggers of
 * total_cents, total; drop bookkeeping columns`: the changes to the app's columns first, then the
 * triggers, named by the column they fill (a twin's by its final name), and Promote's bookkeeping
 * columns as one action; each action once (two operations drop the same bookkeeping). The JSON keeps
 * the SQL as it ran.
 */
function describeSwitch(sql: string, schema: string, table: string): string {
  const triggers: string[] = [];
  const actions: string[] = [];
  let keepsBooks = false;
  const tablePrefix = new RegExp(`^alter table ${escapeRegExp(table)} `, 'i');
  const add = (list: string[], item: string) => {
    if (item !== '' && !list.includes(item)) list.push(item);
  };
  for (const statement of splitStatements(sql)) {
    const trigger = /^drop function (?:if exists )?\S*?"?_promote_trg_(.*?)"?\(\) cascade$/is.exec(statement.trim());
    if (trigger !== null) {
      add(triggers, triggerTarget(trigger[1] ?? '', table).replace(/^_promote_new_/, ''));
      continue;
    }
    for (const text of /^\s*do\s/i.test(statement) ? executedIn(statement) : [statement]) {
      const flat = flatten(text, schema).replace(tablePrefix, '');
      for (const action of flat.split(/, (?=(?:drop|add|alter|rename|validate) )/)) {
        const bookkeeping = TRIGGER_BOOKKEEPING_COLUMNS.some((column) => action === `drop column ${column}`);
        if (bookkeeping) keepsBooks = true;
        else add(actions, action.replace(/^rename column (\S+) to /, 'rename $1 to '));
      }
    }
  }
  // what the app sees change first: the report's column is narrow
  const all = [...actions, ...(triggers.length === 0 ? [] : [`drop trigger${triggers.length > 1 ? 's' : ''} of ${triggers.join(', ')}`]), ...(keepsBooks ? ['drop bookkeeping columns'] : [])];
  return `switch ${table}: ${all.join('; ')}`;
}

/** `_promote_trg_<table>_<target>`: the target column, when the table is the switch's. */
function triggerTarget(rest: string, table: string): string {
  return rest.startsWith(`${table}_`) ? rest.slice(table.length + 1) : rest;
}

/** The statements of a switch, as togetherStep joined them: split at `;` + newline outside quotes and dollar quotes. */
function splitStatements(sql: string): string[] {
  const statements: string[] = [];
  let start = 0;
  let position = 0;
  while (position < sql.length) {
    const char = sql[position];
    if (char === "'") {
      const end = sql.indexOf("'", position + 1);
      position = end < 0 ? sql.length : end + 1;
      continue;
    }
    if (char === '$') {
      const tag = /^\$[A-Za-z0-9_]*\$/.exec(sql.slice(position))?.[0];
      if (tag !== undefined) {
        const end = sql.indexOf(tag, position + tag.length);
        position = end < 0 ? sql.length : end + tag.length;
        continue;
      }
    }
    if (char === ';' && sql[position + 1] === '\n') {
      statements.push(sql.slice(start, position));
      start = position + 2;
      position = start;
      continue;
    }
    position += 1;
  }
  statements.push(sql.slice(start));
  return statements.map((each) => each.trim()).filter((each) => each !== '');
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** `alter table t drop column a; alter table t rename column b to a` → `alter table t drop column a, rename column b to a` */
function mergeAlters(statements: string[]): string[] {
  const merged: string[] = [];
  for (const sql of statements) {
    const target = /^alter table \S+ /i.exec(sql)?.[0];
    const last = merged.at(-1);
    if (target !== undefined && last?.startsWith(target) === true) merged[merged.length - 1] = `${last}, ${sql.slice(target.length)}`;
    else merged.push(sql);
  }
  return merged;
}

function formatMs(ms: number): string {
  return ms < 10 ? ms.toFixed(1) : String(Math.round(ms));
}
