import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { withPgrollConformance } from '../../test/helpers/conformance.js';
import { PromoteError } from '../errors.js';
import { canonicalMigrationContent, chainHash, checkChain, GENESIS_CHAIN_HASH, migrationChecksum, type ChainLink } from './checksum.js';
import { parseMigration, type Migration } from './file.js';

function load(text: string, file = 'm/01_x.yaml'): Migration {
  const result = parseMigration(text, file);
  if (!result.ok) throw new Error(result.problems.map((problem) => problem.message).join('\n'));
  return result.migration;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

const block = `# add a column
operations:
  - add_column:
      table: products
      up: UPPER(name)
      column:
        name: description
        type: varchar(255)
        nullable: true
`;

describe('migration checksum', () => {
  it('is the sha256 of the canonical JSON of the operations', () => {
    const migration = load(block);
    const content = '{"operations":[{"add_column":{"column":{"name":"description","nullable":true,"type":"varchar(255)"},"table":"products","up":"UPPER(name)"}}]}';
    expect(canonicalMigrationContent(migration)).toBe(content);
    expect(migrationChecksum(migration)).toBe(sha256(content));
  });

  it('does not change when the file is reformatted, reordered, commented or written as JSON', () => {
    const flow = `operations: [{add_column: {column: {type: "varchar(255)", nullable: yes, name: 'description'}, up: "UPPER(name)", table: products}}]  # same\n`;
    const json = JSON.stringify({ operations: [{ add_column: { table: 'products', column: { name: 'description', type: 'varchar(255)', nullable: true }, up: 'UPPER(name)' } }] });
    const expected = migrationChecksum(load(block));
    expect(migrationChecksum(load(flow))).toBe(expected);
    expect(migrationChecksum(load(json, 'other/01_x.json'))).toBe(expected);
    // the name and a `name:` field are not content: the chain covers the name
    expect(migrationChecksum(load(`name: ignored\n${block}`, 'm/99_renamed.yml'))).toBe(expected);
  });

  it('changes with any change of meaning, version_schema included', () => {
    const expected = migrationChecksum(load(block));
    expect(migrationChecksum(load(block.replace('UPPER(name)', 'LOWER(name)')))).not.toBe(expected);
    expect(migrationChecksum(load(block.replace('nullable: true', 'nullable: true\n        unique: false')))).not.toBe(expected);
    expect(migrationChecksum(load(`version_schema: v2\n${block}`))).not.toBe(expected);
  });

  it('is the same for a migration built in code as for its file', () => {
    const built: Pick<Migration, 'operations' | 'versionSchema'> = {
      versionSchema: undefined,
      operations: [{ kind: 'add_column', table: 'products', up: 'UPPER(name)', column: { name: 'description', type: 'varchar(255)', nullable: true } }],
    };
    expect(migrationChecksum(built)).toBe(migrationChecksum(load(block)));
  });

  withPgrollConformance(({ names, texts }) => {
    it('differs between every pgroll example (read from ../shared/conformance/pgroll)', () => {
      const checksums = names.map((name) => migrationChecksum(load(texts.get(name)!, name)));
      expect(new Set(checksums).size).toBe(names.length);
    });
  });
});

describe('history chain', () => {
  const a = sha256('a');
  const b = sha256('b');

  it('hashes the previous hash, the name and the checksum, concatenated', () => {
    expect(chainHash(GENESIS_CHAIN_HASH, '01_create', a)).toBe(sha256(`${GENESIS_CHAIN_HASH}01_create${a}`));
    expect(chainHash(GENESIS_CHAIN_HASH, '01_create', a)).not.toBe(chainHash(GENESIS_CHAIN_HASH, '01_create', b));
  });

  it('refuses hashes that are not sha256 hex, which would make the concatenation ambiguous', () => {
    expect(() => chainHash('abc', 'x', a)).toThrow(PromoteError);
    expect(() => chainHash(GENESIS_CHAIN_HASH, 'x', a.toUpperCase())).toThrow(/checksum of "x" as 64 lowercase hex digits/);
    expect(() => chainHash(GENESIS_CHAIN_HASH, '', a)).toThrow(/needs the migration name/);
  });

  function chain(entries: [string, string][]): ChainLink[] {
    const links: ChainLink[] = [];
    let previous = GENESIS_CHAIN_HASH;
    for (const [name, checksum] of entries) {
      const hash = chainHash(previous, name, checksum);
      links.push({ name, checksum, previousHash: previous, chainHash: hash });
      previous = hash;
    }
    return links;
  }

  it('checks a chain and names its first broken link', () => {
    const links = chain([
      ['01_a', a],
      ['02_b', b],
      ['03_c', a],
    ]);
    expect(checkChain(links)).toEqual({ ok: true, head: links[2]!.chainHash });
    expect(checkChain([])).toEqual({ ok: true, head: GENESIS_CHAIN_HASH });

    const edited = links.map((link, index) => (index === 1 ? { ...link, checksum: a } : link));
    expect(checkChain(edited)).toMatchObject({ ok: false, index: 1, name: '02_b', reason: expect.stringMatching(/does not match its name and checksum .*: the entry was edited$/) as unknown });

    const removed = [links[0]!, links[2]!];
    expect(checkChain(removed)).toMatchObject({ ok: false, index: 1, name: '03_c', reason: expect.stringMatching(/removed, inserted or reordered$/) as unknown });
    expect(checkChain([links[1]!, links[0]!, links[2]!])).toMatchObject({ ok: false, index: 0, name: '02_b' });
  });
});
