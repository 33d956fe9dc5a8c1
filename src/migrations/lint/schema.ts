/**
 * A model of the schema the migrations build, fed statement by statement and carried from one file
 * to the next. A plain SQL `ALTER COLUMN ... TYPE` does not say what the type was; strong_migrations
 * asks the database, we read the earlier migrations. Tables are keyed by name without schema, which
 * is right for the usual single-schema app and errs towards "unknown" otherwise.
 */
import type { Constraint, Node } from 'libpg-query';
import { as, columnType, constraints, lastName, option, strings, walk, type ColumnType } from './ast.js';

export interface ColumnInfo {
  type: ColumnType | undefined;
}

export interface CheckInfo {
  /** the column when the check is `column IS NOT NULL` (or a NOT NULL constraint) */
  notNullColumn: string | undefined;
  validated: boolean;
}

export interface TableInfo {
  columns: Map<string, ColumnInfo>;
  checks: Map<string, CheckInfo>;
  /** columns covered by a primary key or unique constraint */
  constrained: Set<string>;
}

export type Volatility = 'immutable' | 'stable' | 'volatile';

export class SchemaModel {
  readonly tables = new Map<string, TableInfo>();
  readonly indexes = new Map<string, { table: string; columns: string[] }>();
  /** functions created by the migrations, with their declared volatility */
  readonly functions = new Map<string, Volatility>();
  /** tables where a constraint we never saw added was validated (added by a migration we have not read) */
  readonly validatedUnknownCheck = new Set<string>();
  private anonymousIndexes = 0;

  column(table: string | undefined, column: string | undefined): ColumnInfo | undefined {
    return table === undefined || column === undefined ? undefined : this.tables.get(table)?.columns.get(column);
  }

  /** Whether any index we know of covers the column; undefined when the table is unknown to us. */
  isIndexed(table: string, column: string): boolean | undefined {
    const info = this.tables.get(table);
    if (!info) return undefined;
    if (info.constrained.has(column)) return true;
    return [...this.indexes.values()].some((index) => index.table === table && index.columns.includes(column));
  }

  apply(node: Node): void {
    const create = as(node, 'CreateStmt');
    if (create?.relation?.relname) {
      const name = create.relation.relname;
      if (create.if_not_exists && this.tables.has(name)) return;
      const table = emptyTable();
      this.tables.set(name, table);
      for (const element of create.tableElts ?? []) {
        const def = as(element, 'ColumnDef');
        if (def?.colname) this.addColumn(table, def.colname, def.typeName, constraints(def));
        const constraint = as(element, 'Constraint');
        if (constraint) this.addConstraint(table, constraint);
      }
      return;
    }
    const alter = as(node, 'AlterTableStmt');
    if (alter) return this.applyAlter(alter.relation?.relname, alter.cmds ?? []);
    const index = as(node, 'IndexStmt');
    if (index?.relation?.relname) {
      const columns: string[] = [];
      walk(index.indexParams, (kind, body) => {
        if (kind === 'IndexElem' && typeof body.name === 'string') columns.push(body.name);
        if (kind === 'ColumnRef') columns.push(...strings(body.fields as Node[] | undefined));
      });
      this.indexes.set(index.idxname ?? `#${++this.anonymousIndexes}`, { table: index.relation.relname, columns });
      return;
    }
    const rename = as(node, 'RenameStmt');
    if (rename?.newname) return this.applyRename(rename.renameType, rename.relation?.relname ?? lastName(as(rename.object, 'List')?.items), rename.subname, rename.newname);
    const drop = as(node, 'DropStmt');
    if (drop) {
      for (const object of drop.objects ?? []) {
        const name = lastName(as(object, 'List')?.items);
        if (!name) continue;
        if (drop.removeType === 'OBJECT_TABLE') this.tables.delete(name);
        if (drop.removeType === 'OBJECT_INDEX') this.indexes.delete(name);
      }
      return;
    }
    const fn = as(node, 'CreateFunctionStmt');
    const fnName = lastName(fn?.funcname);
    if (fn && fnName) {
      const declared = as(option(fn.options, 'volatility')?.arg, 'String')?.sval;
      this.functions.set(fnName, declared === 'immutable' || declared === 'stable' ? declared : 'volatile');
    }
  }

  private applyAlter(name: string | undefined, cmds: Node[]): void {
    if (!name) return;
    const table = this.tables.get(name);
    for (const item of cmds) {
      const cmd = as(item, 'AlterTableCmd');
      if (!table) {
        if (cmd?.subtype === 'AT_ValidateConstraint') this.validatedUnknownCheck.add(name);
        continue;
      }
      const def = as(cmd?.def, 'ColumnDef');
      const column = cmd?.name;
      switch (cmd?.subtype) {
        case 'AT_AddColumn':
          if (def?.colname && !(cmd.missing_ok && table.columns.has(def.colname))) this.addColumn(table, def.colname, def.typeName, constraints(def));
          break;
        case 'AT_DropColumn':
          if (column) table.columns.delete(column);
          break;
        case 'AT_AlterColumnType':
          if (column && def) table.columns.set(column, { type: columnType(def.typeName) });
          break;
        case 'AT_AddConstraint': {
          const constraint = as(cmd.def, 'Constraint');
          if (constraint) this.addConstraint(table, constraint);
          break;
        }
        case 'AT_ValidateConstraint': {
          const check = column === undefined ? undefined : table.checks.get(column);
          if (check) check.validated = true;
          else this.validatedUnknownCheck.add(name);
          break;
        }
        case 'AT_DropConstraint':
          if (column) table.checks.delete(column);
          break;
      }
    }
  }

  private applyRename(type: string | undefined, object: string | undefined, from: string | undefined, to: string): void {
    if (!object) return;
    const table = this.tables.get(object);
    if (type === 'OBJECT_TABLE' && table) {
      this.tables.delete(object);
      this.tables.set(to, table);
      for (const index of this.indexes.values()) if (index.table === object) index.table = to;
    } else if (type === 'OBJECT_COLUMN' && table && from) {
      const column = table.columns.get(from);
      table.columns.delete(from);
      if (column) table.columns.set(to, column);
    } else if (type === 'OBJECT_INDEX') {
      const index = this.indexes.get(object);
      this.indexes.delete(object);
      if (index) this.indexes.set(to, index);
    }
  }

  private addColumn(table: TableInfo, name: string, typeName: Parameters<typeof columnType>[0], list: Constraint[]): void {
    table.columns.set(name, { type: columnType(typeName) });
    if (list.some((each) => each.contype === 'CONSTR_PRIMARY' || each.contype === 'CONSTR_UNIQUE')) table.constrained.add(name);
  }

  private addConstraint(table: TableInfo, constraint: Constraint): void {
    if (constraint.contype === 'CONSTR_PRIMARY' || constraint.contype === 'CONSTR_UNIQUE') {
      const keys = constraint.indexname ? (this.indexes.get(constraint.indexname)?.columns ?? []) : strings(constraint.keys);
      for (const key of keys) table.constrained.add(key);
      if (constraint.indexname) this.indexes.delete(constraint.indexname);
      return;
    }
    if (!constraint.conname) return;
    if (constraint.contype === 'CONSTR_CHECK' || constraint.contype === 'CONSTR_NOTNULL') {
      const notNull = constraint.contype === 'CONSTR_NOTNULL' ? strings(constraint.keys)[0] : notNullColumn(constraint.raw_expr);
      table.checks.set(constraint.conname, { notNullColumn: notNull, validated: !constraint.skip_validation });
    }
  }
}

/** `column IS NOT NULL` -> column. */
function notNullColumn(expr: Node | undefined): string | undefined {
  const test = as(expr, 'NullTest');
  if (test?.nulltesttype !== 'IS_NOT_NULL') return undefined;
  return lastName(as(test.arg, 'ColumnRef')?.fields);
}

function emptyTable(): TableInfo {
  return { columns: new Map(), checks: new Map(), constrained: new Set() };
}
