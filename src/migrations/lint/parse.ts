/**
 * Parses a SQL file with the real PostgreSQL parser and splits it into statements with their
 * positions and the comments before each one.
 *
 * The parser is the `libpg-query` package (18.x): Postgres 18's own grammar compiled to WebAssembly,
 * so `npm ci` needs no compiler or install script and parsing needs no server and no network, with
 * the AST typed by `@pgsql/types`. `pgsql-parser` wraps the same parser with a deparser we do not
 * need; the older native builds need a C toolchain. Its quirks, handled here: AST locations count
 * UTF-8 bytes, error positions count characters, text stops at a NUL, and lone surrogates corrupt
 * the encoding.
 *
 * Parsing never throws: a syntax error, a NUL character or a failure inside the parser comes back as
 * a `ParseFailure` with the index where Postgres stopped, which the engine reports as `syntax-error`.
 */
import { loadModule, parseSync, type Node, type RawStmt } from 'libpg-query';
import { nodeKind } from './ast.js';
import { SourceText, wellFormed } from './source.js';
import type { Statement } from './types.js';

export interface Comment {
  /** the text between `--` and the line end, or between the block comment's delimiters */
  body: string;
  start: number;
  /** index of the statement this comment precedes; the statement count for comments after the last one */
  before: number;
}

export interface ParsedFile {
  ok: true;
  source: SourceText;
  statements: Statement[];
  comments: Comment[];
}

export interface ParseFailure {
  ok: false;
  source: SourceText;
  message: string;
  index: number;
}

let loading: Promise<void> | undefined;

export async function parseSql(rawText: string): Promise<ParsedFile | ParseFailure> {
  const source = new SourceText(wellFormed(rawText));
  const text = source.text;
  const nul = text.indexOf('\0');
  if (nul >= 0) return { ok: false, source, message: 'NUL character: PostgreSQL does not accept it in SQL text', index: nul };
  if (text === '') return { ok: true, source, statements: [], comments: [] };
  let raw: RawStmt[];
  try {
    loading ??= loadModule();
    await loading;
    raw = parseSync(text).stmts ?? [];
  } catch (error) {
    return failure(source, error);
  }
  const statements: Statement[] = [];
  const comments: Comment[] = [];
  let previousEnd = 0;
  for (const [index, stmt] of raw.entries()) {
    const node = stmt.stmt;
    const byteStart = stmt.stmt_location ?? 0;
    const parserStart = source.indexOfByte(byteStart);
    const end = stmt.stmt_len ? source.indexOfByte(byteStart + stmt.stmt_len) : text.length;
    const gap = scanGap(text, Math.min(previousEnd, parserStart), end, index, comments);
    const start = gap >= parserStart && gap <= end ? gap : parserStart;
    const statementText = text.slice(start, end).trimEnd();
    previousEnd = start + statementText.length;
    if (!node) continue;
    statements.push({ index: statements.length, node, kind: nodeKind(node), text: statementText, start, end: previousEnd, byteStart: source.byteOfIndex(start) });
  }
  scanGap(text, previousEnd, text.length, statements.length, comments);
  return { ok: true, source, statements, comments };
}

function failure(source: SourceText, error: unknown): ParseFailure {
  const details = (error as { sqlDetails?: { cursorPosition?: number } } | undefined)?.sqlDetails;
  const message = error instanceof Error ? error.message : String(error);
  const at = typeof details?.cursorPosition === 'number' ? source.indexOfCharacter(details.cursorPosition) : 0;
  return { ok: false, source, message: details ? message : `the parser failed: ${message}`, index: at };
}

/**
 * Walks the text between two statements (whitespace, semicolons, comments), collecting comments, and
 * returns where the next statement's first token is.
 */
function scanGap(text: string, from: number, limit: number, before: number, comments: Comment[]): number {
  let at = from;
  while (at < limit) {
    const char = text[at];
    if (char === ';' || /\s/.test(char ?? '')) {
      at++;
    } else if (text.startsWith('--', at)) {
      const lineEnd = text.slice(at).search(/[\r\n]/);
      const end = lineEnd < 0 ? text.length : at + lineEnd;
      comments.push({ body: text.slice(at + 2, end), start: at, before });
      at = end;
    } else if (text.startsWith('/*', at)) {
      const end = blockCommentEnd(text, at);
      comments.push({ body: text.slice(at + 2, Math.max(at + 2, end - 2)), start: at, before });
      at = end;
    } else {
      break;
    }
  }
  return at;
}

/** Postgres block comments nest: `/* a /* b *\/ c *\/` is one comment. */
function blockCommentEnd(text: string, start: number): number {
  let depth = 0;
  let at = start;
  while (at < text.length) {
    if (text.startsWith('/*', at)) {
      depth++;
      at += 2;
    } else if (text.startsWith('*/', at)) {
      depth--;
      at += 2;
      if (depth === 0) return at;
    } else {
      at++;
    }
  }
  return text.length;
}

export type { Node };
