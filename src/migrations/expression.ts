/**
 * Rewrites the column names an SQL expression refers to, with PostgreSQL's own parser: a check
 * written against a column's final name must hold on the temporary column that carries it during
 * the migration. A text search would also rewrite string literals and other tables' columns.
 */
import { loadModule, parseSync } from 'libpg-query';
import { walk } from './lint/ast.js';
import { ident } from './sql.js';

let loading: Promise<void> | undefined;

const PREFIX = 'select ';

/** The expression with every unqualified reference to a column in `renames` replaced by its new name. */
export async function renameColumnReferences(expression: string, renames: ReadonlyMap<string, string>): Promise<string> {
  loading ??= loadModule();
  await loading;
  const text = `${PREFIX}${expression}`;
  let tree: unknown;
  try {
    tree = parseSync(text);
  } catch (error) {
    throw new Error(`cannot parse the expression ${expression}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const bytes = Buffer.from(text, 'utf8');
  const edits: { start: number; end: number; name: string }[] = [];
  walk(tree, (kind, body) => {
    if (kind !== 'ColumnRef') return;
    const fields = body.fields as { String?: { sval: string } }[] | undefined;
    const location = body.location as number | undefined;
    if (fields?.length !== 1 || location === undefined) return;
    const name = fields[0]?.String?.sval;
    const renamed = name === undefined ? undefined : renames.get(name);
    if (renamed === undefined || name === undefined) return;
    const written = bytes.subarray(location).toString('utf8');
    const length = written.startsWith('"') ? Buffer.byteLength(ident(name), 'utf8') : Buffer.byteLength(name, 'utf8');
    edits.push({ start: location, end: location + length, name: ident(renamed) });
  });
  edits.sort((a, b) => b.start - a.start);
  let result = bytes;
  for (const edit of edits) result = Buffer.concat([result.subarray(0, edit.start), Buffer.from(edit.name, 'utf8'), result.subarray(edit.end)]);
  return result.toString('utf8').slice(PREFIX.length);
}
