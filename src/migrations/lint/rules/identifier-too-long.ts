/**
 * identifier-too-long: Postgres silently truncates names longer than 63 bytes, so the object exists
 * under a name nobody wrote, and two long names can collide after truncation. The parser has already
 * truncated the names in the AST, so a declared name of exactly 63 bytes is looked up in the
 * statement's text to see whether more of it was written.
 */
import { as, walk } from '../ast.js';
import { defineRule } from './define.js';

const MAX_BYTES = 63;
/** fields that declare a new name (references to existing objects are truncated the same way, harmlessly) */
const DECLARING = ['colname', 'idxname', 'conname', 'newname', 'trigname', 'policy_name'];

export const identifierTooLong = defineRule(
  {
    name: 'identifier-too-long',
    severity: 'warning',
    summary: 'Names longer than 63 bytes are silently truncated.',
    help: 'Shorten the name to at most 63 bytes.',
  },
  (statement, context) => {
    const reported = new Set<string>();
    const check = (name: unknown, location: unknown) => {
      if (typeof name !== 'string' || reported.has(name)) return;
      const written = writtenName(name, statement.text);
      if (!written) return;
      reported.add(name);
      context.report({ message: `"${written}" is ${Buffer.byteLength(written)} bytes long: Postgres truncates it to "${name}".`, location: typeof location === 'number' ? location : undefined });
    };
    const node = statement.node;
    const created = as(node, 'CreateStmt')?.relation ?? as(node, 'ViewStmt')?.view ?? as(node, 'CreateTableAsStmt')?.into?.rel ?? as(node, 'CreateSeqStmt')?.sequence;
    check(created?.relname, created?.location);
    walk(node, (_kind, body) => {
      for (const key of DECLARING) if (key in body) check(body[key], body.location);
    });
  },
);

/** The longer name the author wrote, when `name` (as parsed) is a truncation of it. */
function writtenName(name: string, text: string): string | undefined {
  if (Buffer.byteLength(name) !== MAX_BYTES) return undefined;
  const lower = text.toLowerCase();
  for (let at = lower.indexOf(name.toLowerCase()); at >= 0; at = lower.indexOf(name.toLowerCase(), at + 1)) {
    const rest = /^[\p{L}\p{N}_$]+/u.exec(text.slice(at + name.length));
    if (rest) return text.slice(at, at + name.length) + rest[0];
  }
  return undefined;
}
