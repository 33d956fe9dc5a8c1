/**
 * Small typed helpers over libpg-query's AST (a JSON tree where every node is `{ Kind: body }`), so
 * rules read like the SQL they check: `as(node, 'AlterTableStmt')`, `columnType(def.typeName)`.
 * Protobuf leaves out zero values: a missing boolean is false and a missing number is 0.
 */
import type { ColumnDef, Constraint, DefElem, Node, RangeVar, TypeName } from 'libpg-query';

type KeysOfUnion<T> = T extends unknown ? keyof T : never;
export type NodeKind = KeysOfUnion<Node>;
export type NodeOf<K extends NodeKind> = Extract<Node, Record<K, unknown>> extends infer U ? (U extends Record<K, infer V> ? V : never) : never;

export function nodeKind(node: Node): string {
  return Object.keys(node)[0] ?? 'Unknown';
}

/** The body of `node` when it is of `kind`, else undefined. */
export function as<K extends NodeKind>(node: Node | undefined, kind: K): NodeOf<K> | undefined {
  if (!node || typeof node !== 'object' || !(kind in node)) return undefined;
  return (node as unknown as Record<K, NodeOf<K>>)[kind];
}

/** The `sval`s of a list of String nodes: a qualified name, a column list. */
export function strings(list: readonly Node[] | undefined): string[] {
  return (list ?? []).flatMap((item) => {
    const value = as(item, 'String')?.sval;
    return value === undefined ? [] : [value];
  });
}

/** The last part of a qualified name (`public.users` -> `users`). */
export function lastName(list: readonly Node[] | undefined): string | undefined {
  return strings(list).at(-1);
}

export function tableName(relation: RangeVar | undefined): string | undefined {
  return relation?.relname;
}

export function constraints(def: ColumnDef | undefined): Constraint[] {
  return (def?.constraints ?? []).flatMap((node) => {
    const constraint = as(node, 'Constraint');
    return constraint ? [constraint] : [];
  });
}

/** A number, string or boolean constant (`A_Const`), else undefined. */
export function constant(node: Node | undefined): number | string | boolean | undefined {
  const value = as(node, 'A_Const');
  if (!value || value.isnull) return undefined;
  if (value.ival) return value.ival.ival ?? 0;
  if (value.sval) return value.sval.sval ?? '';
  if (value.fval) return Number(value.fval.fval);
  if (value.boolval) return value.boolval.boolval ?? false;
  return undefined;
}

export function option(options: readonly Node[] | undefined, name: string): DefElem | undefined {
  return (options ?? []).map((item) => as(item, 'DefElem')).find((item) => item?.defname === name);
}

export interface ColumnType {
  /** the type's name without `pg_catalog`: int4, varchar, timestamptz, numeric, citext, ... */
  name: string;
  /** constant modifiers: varchar(20) -> [20], numeric(10, 2) -> [10, 2] */
  typmods: number[];
  array: boolean;
  /** how a person writes it: `integer`, `varchar(20)`, `timestamp[]` */
  display: string;
}

const DISPLAY_NAMES: Record<string, string> = {
  int2: 'smallint',
  int4: 'integer',
  int8: 'bigint',
  bpchar: 'char',
  float4: 'real',
  float8: 'double precision',
  bool: 'boolean',
  timestamptz: 'timestamptz',
  varbit: 'bit varying',
};

export function columnType(typeName: TypeName | undefined): ColumnType | undefined {
  const names = strings(typeName?.names);
  const name = names.at(-1);
  if (!typeName || !name) return undefined;
  const typmods = (typeName.typmods ?? []).map((node) => {
    const value = constant(node);
    return typeof value === 'number' ? value : Number.NaN;
  });
  const array = (typeName.arrayBounds ?? []).length > 0;
  const shownMods = name === 'interval' ? typmods.slice(1) : typmods;
  const display = `${DISPLAY_NAMES[name] ?? name}${shownMods.length ? `(${shownMods.join(', ')})` : ''}${array ? '[]' : ''}`;
  return { name, typmods, array, display };
}

/**
 * Visits every node under `root` (iteratively: expressions can nest deeper than the call stack).
 * Returning false from `visit` skips that node's children.
 */
export function walk(root: unknown, visit: (kind: string, body: Record<string, unknown>) => boolean | void): void {
  const stack: unknown[] = [root];
  while (stack.length > 0) {
    const value = stack.pop();
    if (Array.isArray(value)) {
      for (let index = value.length - 1; index >= 0; index--) stack.push(value[index]);
      continue;
    }
    if (!value || typeof value !== 'object') continue;
    const keys = Object.keys(value);
    const only = keys.length === 1 ? keys[0] : undefined;
    const inner = only === undefined ? undefined : (value as Record<string, unknown>)[only];
    if (only && /^[A-Z]/.test(only) && inner && typeof inner === 'object' && !Array.isArray(inner)) {
      if (visit(only, inner as Record<string, unknown>) === false) continue;
      stack.push(inner);
      continue;
    }
    for (const key of keys.reverse()) stack.push((value as Record<string, unknown>)[key]);
  }
}
