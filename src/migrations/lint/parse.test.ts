/** The parser wrapper: statement boundaries, positions in bytes/characters/lines, comments, and failures that never throw. */
import { describe, expect, it } from 'vitest';
import { parseSql } from './parse.js';
import { SourceText } from './source.js';

describe('parseSql', () => {
  it('splits statements and keeps the comments before each one', async () => {
    const parsed = await parseSql("-- first\nselect 1;\n/* a /* nested */ b */ select 2 ;  -- tail\n");
    expect(parsed.ok).toBe(true);
    if (!parsed.ok) return;
    expect(parsed.statements.map((statement) => [statement.kind, statement.text])).toEqual([
      ['SelectStmt', 'select 1'],
      ['SelectStmt', 'select 2'],
    ]);
    expect(parsed.comments.map((comment) => [comment.body.trim(), comment.before])).toEqual([
      ['first', 0],
      ['a /* nested */ b', 1],
      ['tail', 2],
    ]);
  });

  it('maps positions through multi-byte text', async () => {
    const parsed = await parseSql("select 'héllo€'; drop table x;");
    if (!parsed.ok) throw new Error(parsed.message);
    const drop = parsed.statements[1];
    expect(drop?.text).toBe('drop table x');
    expect(parsed.source.position(drop?.start ?? 0)).toEqual({ line: 1, column: 18 });
    expect(drop?.byteStart).toBe(20);
  });

  it('reports a syntax error at the character Postgres stopped at, past multi-byte text', async () => {
    const parsed = await parseSql("select 'é';\n/* 😀 */ selec 2");
    expect(parsed.ok).toBe(false);
    if (parsed.ok) return;
    expect(parsed.message).toMatch(/syntax error at or near "selec"/);
    expect(parsed.source.position(parsed.index)).toEqual({ line: 2, column: 10 });
  });

  it('never throws: NUL, lone surrogates, empty and comment-only text', async () => {
    const nul = await parseSql('select 1;\0 drop table x');
    expect(nul).toMatchObject({ ok: false, index: 9 });
    expect(await parseSql('select 1 as "\ud800x"')).toMatchObject({ ok: true });
    expect(await parseSql('')).toMatchObject({ ok: true, statements: [] });
    expect(await parseSql('-- nothing here')).toMatchObject({ ok: true, statements: [] });
  });
});

describe('SourceText', () => {
  it('counts lines across \\n, \\r\\n and \\r', () => {
    const source = new SourceText('a\r\nb\rc\nd');
    expect([0, 3, 5, 7].map((index) => source.position(index))).toEqual([
      { line: 1, column: 1 },
      { line: 2, column: 1 },
      { line: 3, column: 1 },
      { line: 4, column: 1 },
    ]);
  });

  it('converts bytes and characters to UTF-16 indexes', () => {
    const source = new SourceText('é😀x');
    expect(source.indexOfByte(2)).toBe(1);
    expect(source.indexOfByte(6)).toBe(3);
    expect(source.indexOfCharacter(2)).toBe(3);
  });
});
