/**
 * Quoting and naming for the SQL the migration runner writes. Every identifier that reaches a
 * statement goes through `ident`, every value through `literal`: migration files name tables and
 * columns, and a name with a quote in it must not change what a statement does.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';

export function ident(name: string): string {
  return pg.escapeIdentifier(name);
}

export function literal(text: string): string {
  return pg.escapeLiteral(text);
}

export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`;
}

/** PostgreSQL truncates identifiers to 63 bytes; a name that would be cut keeps a hash of the whole instead. */
const MAX_IDENTIFIER_BYTES = 63;

export function boundedName(name: string): string {
  if (Buffer.byteLength(name, 'utf8') <= MAX_IDENTIFIER_BYTES) return name;
  const hash = createHash('sha256').update(name).digest('hex').slice(0, 10);
  let head = name;
  while (Buffer.byteLength(`${head}_${hash}`, 'utf8') > MAX_IDENTIFIER_BYTES) head = head.slice(0, -1);
  return `${head}_${hash}`;
}

/** The text as a dollar-quoted literal whose tag does not occur in it (function bodies hold the user's SQL). */
export function dollarQuote(body: string): string {
  let tag = '$promote$';
  for (let index = 0; body.includes(tag); index += 1) tag = `$promote${index}$`;
  return `${tag}\n${body}\n${tag}`;
}
