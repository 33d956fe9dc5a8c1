/**
 * The triggers that keep two versions of a column in step while both versions write. A trigger
 * computes one physical column from the row as the other version sees it: the `up` direction fills
 * the new column when the old version writes, `down` fills the old column when the new version
 * writes. Which version is writing is decided by promote_migrate.writes_as (see state.ts).
 */
import { NEEDS_BACKFILL_COLUMN, NEW_VERSION_WROTE_COLUMN, STATE_SCHEMA, TRIGGER_BOOKKEEPING_COLUMNS, triggerName } from './names.js';
import type { Step } from './ops/types.js';
import { dollarQuote, ident, literal, qualified } from './sql.js';
import type { VirtualSchema, VirtualTable } from './virtual-schema.js';

export interface DualWriteTrigger {
  schema: VirtualSchema;
  /** the table as the writer whose values the expression reads sees it (its logical column names) */
  table: VirtualTable;
  /** the physical column the trigger sets */
  target: string;
  /** an SQL expression over the table's logical column names */
  expression: string;
  /** up: runs for writes of the old version; down: for writes of the new version */
  direction: 'up' | 'down';
  versionSchema: string;
}

export function needsBackfillColumnStep(schema: string, table: string): Step {
  return {
    sql: `alter table ${qualified(schema, table)} add column if not exists ${ident(NEEDS_BACKFILL_COLUMN)} boolean not null default true, add column if not exists ${ident(NEW_VERSION_WROTE_COLUMN)} boolean not null default false`,
  };
}

export function dropNeedsBackfillColumnStep(schema: string, table: string): Step {
  return { sql: `alter table if exists ${qualified(schema, table)} ${TRIGGER_BOOKKEEPING_COLUMNS.map((column) => `drop column if exists ${ident(column)}`).join(', ')}` };
}

export function createTriggerSteps(trigger: DualWriteTrigger): Step[] {
  const { schema, table } = trigger;
  const name = triggerName(table.physical, trigger.target);
  const variables = table.columns
    .map((column) => `  ${ident(column.name)} ${qualified(schema.name, table.physical)}.${ident(column.physical)}%type := new.${ident(column.physical)};`)
    .join('\n');
  const writer = `${STATE_SCHEMA}.writes_as(${literal(trigger.versionSchema)})`;
  const condition = trigger.direction === 'up' ? `not ${writer}` : writer;
  const body = [
    '#variable_conflict use_column',
    'declare',
    variables,
    'begin',
    `  if ${condition} then`,
    `    new.${ident(trigger.target)} := ${assignable(trigger.expression)};`,
    '  end if;',
    `  new.${ident(NEEDS_BACKFILL_COLUMN)} := false;`,
    `  new.${ident(NEW_VERSION_WROTE_COLUMN)} := ${writer};`,
    '  return new;',
    'end',
  ].join('\n');
  return [
    needsBackfillColumnStep(schema.name, table.physical),
    { sql: `create or replace function ${qualified(schema.name, name)}() returns trigger language plpgsql as ${dollarQuote(body)}` },
    {
      sql: `create or replace trigger ${ident(name)} before insert or update on ${qualified(schema.name, table.physical)} for each row execute function ${qualified(schema.name, name)}()`,
    },
  ];
}

/** Drops the trigger and its function; the table may be gone or renamed already. */
export function dropTriggerStep(schema: string, physicalTable: string, target: string): Step {
  return { sql: `drop function if exists ${qualified(schema, triggerName(physicalTable, target))}() cascade` };
}

/** pgroll's files may write an expression as `SELECT CASE … END`; as a scalar subquery it is an expression. */
function assignable(expression: string): string {
  return /^\s*select\b/i.test(expression) ? `(${expression})` : expression;
}
