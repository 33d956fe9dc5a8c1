/**
 * Whether a DEFAULT expression is volatile, i.e. evaluated per row. Since Postgres 11, ADD COLUMN with
 * a non-volatile default stores the value once in the catalog; a volatile one (random(),
 * gen_random_uuid(), nextval(), clock_timestamp(), any function of the app's own unless declared
 * IMMUTABLE or STABLE) still rewrites the whole table under an ACCESS EXCLUSIVE lock.
 */
import type { Node } from 'libpg-query';
import { strings, walk } from './ast.js';
import { NON_VOLATILE_BUILTINS } from './non-volatile-functions.js';
import type { SchemaModel } from './schema.js';

/** The first volatile call in the expression (`random()`, `a subquery`), or undefined when there is none. */
export function volatilePart(expression: Node | undefined, schema: SchemaModel): string | undefined {
  let found: string | undefined;
  walk(expression, (kind, body) => {
    if (found) return false;
    if (kind === 'SubLink') found = 'a subquery';
    if (kind === 'FuncCall') {
      const name = strings(body.funcname as Node[] | undefined);
      if (!isNonVolatileFunction(name, schema)) found = `${name.join('.')}()`;
    }
    return undefined;
  });
  return found;
}

function isNonVolatileFunction(qualified: string[], schema: SchemaModel): boolean {
  const name = qualified.at(-1);
  if (!name) return false;
  const declared = schema.functions.get(name);
  if (declared) return declared !== 'volatile';
  const builtin = qualified.length === 1 || qualified[0] === 'pg_catalog';
  return builtin && NON_VOLATILE_BUILTINS.has(name);
}
