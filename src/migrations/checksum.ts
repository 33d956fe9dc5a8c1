/**
 * What identifies a migration's content, and the chain that orders the history of applied migrations.
 * The checksum covers the parsed operations as canonical JSON, not the file's bytes, so reformatting
 * a file (YAML to JSON, comments, quoting, key order) keeps it, while any change of meaning changes it:
 * a migration edited after it was applied is caught, as Flyway does. Each history entry's hash covers
 * the previous one's, so an entry removed, reordered or rewritten breaks the chain from there on.
 */
import { createHash } from 'node:crypto';
import { PromoteError } from '../errors.js';
import { canonicalJson } from '../store/canonical-json.js';
import type { Migration } from './file.js';
import { toEntry } from './operations.js';

/** The "previous hash" of the first entry of a chain. */
export const GENESIS_CHAIN_HASH = '0'.repeat(64);

const HEX_SHA256 = /^[0-9a-f]{64}$/;

/**
 * The text the checksum is taken of: `{"operations":[...],"version_schema":"..."}` in canonical JSON,
 * each operation in the file's form (`{"add_column":{...}}`). The name is not part of it (the chain
 * covers the name), nor is a `name:` field in the file, which pgroll ignores.
 */
export function canonicalMigrationContent(migration: Pick<Migration, 'operations' | 'versionSchema'>): string {
  return canonicalJson({
    operations: migration.operations.map(toEntry),
    ...(migration.versionSchema === undefined ? {} : { version_schema: migration.versionSchema }),
  });
}

/** sha256 of the canonical content, 64 lowercase hex digits. */
export function migrationChecksum(migration: Pick<Migration, 'operations' | 'versionSchema'>): string {
  return sha256(canonicalMigrationContent(migration));
}

/**
 * One link of the history chain: sha256(previous hash + name + checksum), as hex. Both hashes are 64
 * hex digits, so the plain concatenation cannot be read two ways. The store checks the same formula
 * in SQL (store/schema/005-migrations.ts).
 */
export function chainHash(previousHash: string, name: string, checksum: string): string {
  if (!HEX_SHA256.test(previousHash)) throw new PromoteError(`a chain hash needs the previous hash as 64 lowercase hex digits, got ${JSON.stringify(previousHash)}`);
  if (!HEX_SHA256.test(checksum)) throw new PromoteError(`a chain hash needs the checksum of ${JSON.stringify(name)} as 64 lowercase hex digits, got ${JSON.stringify(checksum)}`);
  if (name.length === 0) throw new PromoteError('a chain hash needs the migration name');
  return sha256(`${previousHash}${name}${checksum}`);
}

export interface ChainLink {
  name: string;
  checksum: string;
  previousHash: string;
  chainHash: string;
}

export type ChainCheck =
  | { ok: true; head: string }
  /** `index`: the first link that does not follow from the ones before it */
  | { ok: false; index: number; name: string; reason: string };

/** Recomputes a chain from the genesis hash and names its first broken link. */
export function checkChain(links: readonly ChainLink[]): ChainCheck {
  let previous = GENESIS_CHAIN_HASH;
  for (const [index, link] of links.entries()) {
    if (link.previousHash !== previous) {
      return { ok: false, index, name: link.name, reason: `its previous hash ${short(link.previousHash)} is not the hash of the entry before it (${short(previous)}): an entry was removed, inserted or reordered` };
    }
    const expected = HEX_SHA256.test(link.checksum) ? chainHash(previous, link.name, link.checksum) : undefined;
    if (expected !== link.chainHash) {
      return { ok: false, index, name: link.name, reason: `its hash ${short(link.chainHash)} does not match its name and checksum (${expected === undefined ? 'checksum is not a sha256' : `expected ${short(expected)}`}): the entry was edited` };
    }
    previous = link.chainHash;
  }
  return { ok: true, head: previous };
}

function short(hash: string): string {
  return hash.slice(0, 12);
}

function sha256(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}
