/**
 * Helpers every rule file uses: `defineRule` for rules that judge each statement on its own, and the
 * small AST queries several rules share (the ALTER TABLE commands of a statement, every column
 * definition with its type), so each rule file stays a screenful that reads like its SQL.
 */
import type { AlterTableCmd, ColumnDef, Constraint, TypeName } from 'libpg-query';
import { as, columnType, constraints, type ColumnType } from '../ast.js';
import type { Rule, RuleContext, Statement } from '../types.js';

export function defineRule(meta: Omit<Rule, 'create'>, check: (statement: Statement, context: RuleContext) => void): Rule {
  return { ...meta, create: (context) => ({ statement: (statement) => check(statement, context) }) };
}

/** The commands of an `ALTER TABLE` (not ALTER INDEX, VIEW, ...), with the table's name. */
export function alterTable(statement: Statement): { table: string | undefined; cmds: AlterTableCmd[] } | undefined {
  const alter = as(statement.node, 'AlterTableStmt');
  if (!alter || (alter.objtype !== undefined && alter.objtype !== 'OBJECT_TABLE')) return undefined;
  const cmds = (alter.cmds ?? []).flatMap((node) => {
    const cmd = as(node, 'AlterTableCmd');
    return cmd ? [cmd] : [];
  });
  return { table: alter.relation?.relname, cmds };
}

/** `ALTER TABLE ... ADD [COLUMN]`: each added column with its constraints. */
export function addedColumns(statement: Statement): Array<{ table: string | undefined; def: ColumnDef; constraints: Constraint[]; cmd: AlterTableCmd }> {
  const alter = alterTable(statement);
  return (alter?.cmds ?? []).flatMap((cmd) => {
    const def = cmd.subtype === 'AT_AddColumn' ? as(cmd.def, 'ColumnDef') : undefined;
    return def ? [{ table: alter?.table, def, constraints: constraints(def), cmd }] : [];
  });
}

/** `ALTER TABLE ... ADD CONSTRAINT`: each constraint added. */
export function addedConstraints(statement: Statement): Array<{ table: string | undefined; constraint: Constraint }> {
  const alter = alterTable(statement);
  return (alter?.cmds ?? []).flatMap((cmd) => {
    const constraint = cmd.subtype === 'AT_AddConstraint' ? as(cmd.def, 'Constraint') : undefined;
    return constraint ? [{ table: alter?.table, constraint }] : [];
  });
}

/** Every column type a statement declares: CREATE TABLE columns, ADD COLUMN, ALTER COLUMN ... TYPE. */
export function declaredTypes(statement: Statement): Array<{ typeName: TypeName; column: string | undefined }> {
  const found: Array<{ typeName: TypeName; column: string | undefined }> = [];
  const push = (def: ColumnDef | undefined, column?: string) => {
    if (def?.typeName) found.push({ typeName: def.typeName, column: column ?? def.colname });
  };
  for (const element of as(statement.node, 'CreateStmt')?.tableElts ?? []) push(as(element, 'ColumnDef'));
  for (const cmd of alterTable(statement)?.cmds ?? []) {
    if (cmd.subtype === 'AT_AddColumn') push(as(cmd.def, 'ColumnDef'));
    if (cmd.subtype === 'AT_AlterColumnType') push(as(cmd.def, 'ColumnDef'), cmd.name);
  }
  return found;
}

/** A rule about column types: `problem` says what is wrong with a type, or undefined when nothing is. */
export function defineTypeRule(meta: Omit<Rule, 'create'>, problem: (type: ColumnType) => string | undefined): Rule {
  return defineRule(meta, (statement, context) => {
    for (const { typeName, column } of declaredTypes(statement)) {
      const type = columnType(typeName);
      const text = type && problem(type);
      if (text) context.report({ message: `${column ?? 'column'} ${type.display}: ${text}`, location: typeName.location });
    }
  });
}
