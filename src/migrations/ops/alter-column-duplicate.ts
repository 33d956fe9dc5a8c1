/**
 * What alter_column carries over from the old column to its duplicate, as pgroll's duplicator does:
 * the checks, foreign keys, unique constraints and indexes the column takes part in. Dropping the old
 * column on complete drops all of them with it, so each gets a copy on the new column under a
 * `_promote_dup_` name (NOT VALID, or built concurrently), and complete gives the copy the original's
 * name back once the original is gone. A primary key or exclusion constraint is refused instead.
 */
import { renameColumnReferences } from '../expression.js';
import { boundedName, dollarQuote, ident, literal, qualified } from '../sql.js';
import type { VirtualConstraint, VirtualIndex, VirtualTable } from '../virtual-schema.js';
import { constraintExists, guarded, relationExists } from './guards.js';
import { OperationError, type Step } from './types.js';

const DUPLICATE_PREFIX = '_promote_dup_';

export function duplicateName(name: string): string {
  return boundedName(`${DUPLICATE_PREFIX}${name}`);
}

export interface Duplicates {
  /** checks and foreign keys, added NOT VALID in the start's transaction steps */
  steps: Step[];
  /** indexes, built concurrently */
  indexSteps: Step[];
  /** the copies, for the model: complete finds them there to give them their names back */
  constraints: VirtualConstraint[];
  indexes: VirtualIndex[];
}

interface DuplicateInput {
  schemaName: string;
  table: VirtualTable;
  oldPhysical: string;
  newPhysical: string;
  /** a copy that no longer fits the new type is skipped, as pgroll does */
  typeChanges: boolean;
}

export async function planDuplicates({ schemaName, table, oldPhysical, newPhysical, typeChanges }: DuplicateInput): Promise<Duplicates> {
  const target = qualified(schemaName, table.physical);
  const result: Duplicates = { steps: [], indexSteps: [], constraints: [], indexes: [] };
  const renames = new Map([[oldPhysical, newPhysical]]);
  const involved = table.constraints.filter((constraint) => constraint.columns.includes(oldPhysical) && !constraint.name.startsWith('_promote_'));
  for (const constraint of involved) {
    const copy = duplicateName(constraint.name);
    const columns = constraint.columns.map((column) => (column === oldPhysical ? newPhysical : column));
    switch (constraint.type) {
      case 'not_null':
        continue;
      case 'primary_key':
      case 'exclude':
        throw new OperationError(
          `column "${oldPhysical}" is part of ${constraint.type === 'primary_key' ? 'the primary key' : 'the exclusion constraint'} "${constraint.name}", which alter_column cannot carry over to the column's new copy`,
        );
      case 'check': {
        const expression = await renameColumnReferences(checkExpression(constraint.definition), renames);
        const noInherit = /\bNO INHERIT\b/.test(constraint.definition) ? ' no inherit' : '';
        const sql = `alter table ${target} add constraint ${ident(copy)} check ${expression}${noInherit} not valid`;
        result.steps.push({ sql: typeChanges ? tolerant(sql, ['undefined_function', 'datatype_mismatch', 'invalid_text_representation', 'cannot_coerce']) : sql });
        break;
      }
      case 'foreign_key': {
        const references = constraint.definition.slice(constraint.definition.indexOf(' REFERENCES ')).replace(/ NOT VALID$/, '');
        const sql = `alter table ${target} add constraint ${ident(copy)} foreign key (${columns.map(ident).join(', ')})${references} not valid`;
        result.steps.push({ sql: typeChanges ? tolerant(sql, ['datatype_mismatch']) : sql });
        break;
      }
      case 'unique': {
        const index = table.indexes.find((each) => each.name === constraint.name);
        if (index === undefined) throw new OperationError(`the unique constraint "${constraint.name}" on column "${oldPhysical}" has no index of the same name to copy`);
        const sql = await duplicateIndexSql(index, copy, oldPhysical, newPhysical);
        if (sql === undefined) throw new OperationError(`the index "${index.name}" of unique constraint "${constraint.name}" does not name column "${oldPhysical}" where alter_column can rewrite it`);
        result.indexSteps.push({ sql, outsideTransaction: true });
        break;
      }
    }
    result.constraints.push({ ...constraint, name: copy, columns });
  }
  const backing = new Set(table.constraints.map((constraint) => constraint.name));
  for (const index of table.indexes) {
    if (backing.has(index.name) || index.name.startsWith('_promote_')) continue;
    const copy = duplicateName(index.name);
    const sql = await duplicateIndexSql(index, copy, oldPhysical, newPhysical);
    if (sql === undefined) continue;
    result.indexSteps.push({ sql, outsideTransaction: true });
    result.indexes.push({ name: copy, unique: index.unique, columns: index.columns.map((column) => (column === oldPhysical ? newPhysical : column)), definition: sql });
  }
  return result;
}

/**
 * Complete's steps, run after the old column is dropped: each copy takes its original's name. The
 * copies are found from the table as it was before the migration (a copy's name may be shortened
 * with a hash, so the original cannot be read back from it); a copy start skipped is not there.
 */
export function restoreDuplicatesSteps(schemaName: string, physicalTable: string, before: VirtualTable, oldPhysical: string): Step[] {
  const target = qualified(schemaName, physicalTable);
  const steps: Step[] = [];
  for (const constraint of before.constraints) {
    if (!constraint.columns.includes(oldPhysical) || constraint.name.startsWith('_promote_')) continue;
    const copy = duplicateName(constraint.name);
    if (constraint.type === 'unique') {
      const deferral = /\bDEFERRABLE\b/.test(constraint.definition) ? ` deferrable${/\bINITIALLY DEFERRED\b/.test(constraint.definition) ? ' initially deferred' : ''}` : '';
      steps.push({ sql: guarded(relationExists(schemaName, copy), [`alter table ${target} add constraint ${ident(constraint.name)} unique using index ${ident(copy)}${deferral}`]) });
    } else if (constraint.type === 'check' || constraint.type === 'foreign_key') {
      // a copy of a constraint that was itself NOT VALID may not hold either
      const validate = /\bNOT VALID$/.test(constraint.definition) ? [] : [`alter table ${target} validate constraint ${ident(copy)}`];
      steps.push({ sql: guarded(constraintExists(schemaName, physicalTable, copy), [...validate, `alter table ${target} rename constraint ${ident(copy)} to ${ident(constraint.name)}`]) });
    }
  }
  const backing = new Set(before.constraints.map((constraint) => constraint.name));
  for (const index of before.indexes) {
    if (backing.has(index.name) || index.name.startsWith('_promote_')) continue;
    steps.push({ sql: `alter index if exists ${qualified(schemaName, duplicateName(index.name))} rename to ${ident(index.name)}` });
  }
  return steps;
}

export function isDuplicateName(name: string): boolean {
  return name.startsWith(DUPLICATE_PREFIX);
}

/** `CHECK ((a > 0)) NO INHERIT NOT VALID` -> `((a > 0))` */
function checkExpression(definition: string): string {
  return definition
    .replace(/^CHECK /, '')
    .replace(/ NOT VALID$/, '')
    .replace(/ NO INHERIT$/, '');
}

/** A statement whose failure with one of these conditions is ignored (the copy does not fit the new type). */
function tolerant(statement: string, conditions: readonly string[]): string {
  return `do ${dollarQuote(`begin\n  execute ${literal(statement)};\nexception when ${conditions.join(' or ')} then null;\nend`)}`;
}

/**
 * The index's definition (as pg_get_indexdef prints it) rewritten to build the copy concurrently on
 * the new column: the key and INCLUDE columns and the predicate are rewritten. Undefined when the
 * index does not involve the column (nothing to rewrite).
 */
async function duplicateIndexSql(index: VirtualIndex, copy: string, oldPhysical: string, newPhysical: string): Promise<string | undefined> {
  const refuse = (): never => {
    throw new OperationError(`the index "${index.name}" (${index.definition}) on column "${oldPhysical}" cannot be carried over to the column's new copy; drop it in an earlier migration and create it again after this one`);
  };
  const head = /^CREATE (UNIQUE )?INDEX /.exec(index.definition) ?? refuse();
  const on = index.definition.indexOf(' ON ', head[0].length);
  const using = index.definition.indexOf(' USING ', on);
  const open = index.definition.indexOf('(', using);
  if (on < 0 || using < 0 || open < 0) refuse();
  const close = matchingParen(index.definition, open) ?? refuse();
  const renames = new Map([[oldPhysical, newPhysical]]);
  const elements: string[] = [];
  for (const element of splitTopLevel(index.definition.slice(open + 1, close))) elements.push(await rewriteElement(element, oldPhysical, newPhysical, renames).catch(refuse));
  let rest = index.definition.slice(close + 1);
  const include = /^ INCLUDE \(([^)]*)\)/.exec(rest);
  if (include !== null) {
    const columns = splitTopLevel(include[1] ?? '').map((column) => (isColumn(column, oldPhysical) ? ident(newPhysical) : column));
    rest = ` INCLUDE (${columns.join(', ')})${rest.slice(include[0].length)}`;
  }
  const where = rest.indexOf(' WHERE ');
  if (where >= 0) rest = `${rest.slice(0, where)} WHERE ${await renameColumnReferences(rest.slice(where + ' WHERE '.length), renames).catch(refuse)}`;
  const original = index.definition.slice(open + 1);
  const rewritten = `${elements.join(', ')})${rest}`;
  if (rewritten === original) return undefined;
  const prefix = `CREATE ${head[1] ?? ''}INDEX CONCURRENTLY IF NOT EXISTS ${ident(copy)}`;
  return `${prefix}${index.definition.slice(on, open + 1)}${elements.join(', ')})${rest}`;
}

async function rewriteElement(element: string, oldPhysical: string, newPhysical: string, renames: ReadonlyMap<string, string>): Promise<string> {
  for (const written of [oldPhysical, ident(oldPhysical)]) {
    if (element === written || element.startsWith(`${written} `)) return `${ident(newPhysical)}${element.slice(written.length)}`;
  }
  // an expression element, e.g. lower(name)
  return element.startsWith('(') || /^\w+\(/.test(element) ? await renameColumnReferences(element, renames) : element;
}

function isColumn(text: string, column: string): boolean {
  return text === column || text === ident(column);
}

function matchingParen(text: string, open: number): number | undefined {
  let depth = 0;
  let quoted: string | undefined;
  for (let index = open; index < text.length; index += 1) {
    const char = text[index];
    if (quoted !== undefined) {
      if (char === quoted) quoted = undefined;
    } else if (char === '"' || char === "'") quoted = char;
    else if (char === '(') depth += 1;
    else if (char === ')' && --depth === 0) return index;
  }
  return undefined;
}

function splitTopLevel(list: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let quoted: string | undefined;
  let start = 0;
  for (let index = 0; index < list.length; index += 1) {
    const char = list[index];
    if (quoted !== undefined) {
      if (char === quoted) quoted = undefined;
    } else if (char === '"' || char === "'") quoted = char;
    else if (char === '(') depth += 1;
    else if (char === ')') depth -= 1;
    else if (char === ',' && depth === 0) {
      parts.push(list.slice(start, index).trim());
      start = index + 1;
    }
  }
  parts.push(list.slice(start).trim());
  return parts;
}
