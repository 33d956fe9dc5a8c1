import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { notFound, PromoteError, wrapError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import {
  checkId,
  checkLimit,
  checkName,
  databaseErrorOf,
  PG_FOREIGN_KEY_VIOLATION,
  query,
  rethrow,
  toDate,
  toId,
  type Queryable,
} from './queryable.js';

export interface Release {
  id: number;
  app: string;
  version: string;
  /** `sha256:` + 64 lowercase hex digits */
  digest: string;
  artifact: string | null;
  /** migration file name -> its sha256, as found when the release was created */
  migrationChecksums: Record<string, string>;
  createdBy: string | null;
  createdAt: Date;
}

export interface ReleaseInput {
  app: string;
  version: string;
  digest: string;
  artifact?: string | null;
  migrationChecksums: Record<string, string>;
  createdBy?: string | null;
}

interface ReleaseRow {
  id: string | number;
  app: string;
  version: string;
  digest: string;
  artifact: string | null;
  migration_checksums: Record<string, string>;
  created_by: string | null;
  created_at: Date | string;
}

const COLUMNS = 'id, app, version, digest, artifact, migration_checksums, created_by, created_at';
const DIGEST_PATTERN = /^sha256:[0-9a-f]{64}$/;
const DEFAULT_LIST_LIMIT = 100;

function toRelease(row: ReleaseRow): Release {
  return {
    id: toId(row.id),
    app: row.app,
    version: row.version,
    digest: row.digest,
    artifact: row.artifact,
    migrationChecksums: row.migration_checksums,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
  };
}

/** `sha256:0123456789ab…`: enough to tell two digests apart in a message. */
export function shortDigest(digest: string): string {
  return DIGEST_PATTERN.test(digest) ? `${digest.slice(0, 'sha256:'.length + 12)}…` : digest;
}

export function assertDigest(digest: string, what: string): void {
  if (typeof digest !== 'string' || !DIGEST_PATTERN.test(digest)) {
    const hint = typeof digest === 'string' && /^sha256:[0-9A-Fa-f]{64}$/.test(digest) ? ' (the hex digits must be lowercase)' : '';
    throw new PromoteError(`${what} must be "sha256:" followed by 64 hex digits, got ${JSON.stringify(digest)}${hint}`);
  }
}

function checkReleaseInput(input: ReleaseInput): void {
  checkName('app', input.app);
  if (typeof input.version !== 'string' || input.version.length < 1 || input.version.length > 128) {
    throw new PromoteError(`the release version of app "${input.app}" must be 1 to 128 characters, got ${JSON.stringify(input.version)}`);
  }
  assertDigest(input.digest, `the digest of release ${input.version}`);
  const checksums: unknown = input.migrationChecksums;
  if (checksums === null || typeof checksums !== 'object' || Array.isArray(checksums)) {
    throw new PromoteError(`the migration checksums of release ${input.version} must be an object of file name -> checksum`);
  }
  for (const [file, checksum] of Object.entries(checksums as Record<string, unknown>)) {
    if (typeof checksum !== 'string' || checksum.length === 0) {
      throw new PromoteError(`the migration checksum of ${file} in release ${input.version} must be non-empty text`);
    }
  }
}

/**
 * Records a release. A version is immutable: creating it again with the same digest and the same
 * migration checksums is a no-op (`created: false`); with anything different it is refused. Race-safe:
 * of two concurrent creates of one version, exactly one is recorded and the other is compared with it.
 */
export async function createRelease(db: Queryable, input: ReleaseInput): Promise<{ release: Release; created: boolean }> {
  checkReleaseInput(input);
  const doing = `recording release ${input.version} of app "${input.app}"`;
  const checksumsJson = canonicalJson(input.migrationChecksums);
  try {
    // ON CONFLICT DO NOTHING waits for a concurrent insert of the same version to commit or roll back;
    // the read that follows (a new snapshot under READ COMMITTED) then sees the winner
    for (let attempt = 0; attempt < 3; attempt++) {
      let inserted;
      try {
        inserted = await db.query<ReleaseRow>(
          `insert into promote.releases (app, version, digest, artifact, migration_checksums, created_by)
           values ($1, $2, $3, $4, $5::jsonb, $6)
           on conflict (app, version) do nothing
           returning ${COLUMNS}`,
          [input.app, input.version, input.digest, input.artifact ?? null, checksumsJson, input.createdBy ?? null],
        );
      } catch (error) {
        if (databaseErrorOf(error).code === PG_FOREIGN_KEY_VIOLATION) {
          throw notFound(`cannot record release ${input.version}: app "${input.app}" is not recorded in the state store`, { cause: error, hint: 'record the app first (upsertApp)' });
        }
        throw error;
      }
      const row = inserted.rows[0];
      if (row) return { release: toRelease(row), created: true };
      const existing = await getRelease(db, input.app, input.version);
      if (!existing) continue; // the other insert rolled back: try again
      assertSameContent(existing, input);
      return { release: existing, created: false };
    }
    throw new PromoteError(`release ${input.version} of app "${input.app}" kept conflicting with a concurrent create that was not visible afterwards`, {
      hint: 'run it outside a REPEATABLE READ or SERIALIZABLE transaction',
    });
  } catch (error) {
    rethrow(doing, error);
  }
}

function assertSameContent(existing: Release, input: ReleaseInput): void {
  const hint = 'give the new build a new version; the recorded one stays as it is';
  if (existing.digest !== input.digest) {
    throw new PromoteError(
      `release ${input.version} of app "${input.app}" already exists with digest ${shortDigest(existing.digest)}, not ${shortDigest(input.digest)}: a version is immutable: create a new version`,
      { hint },
    );
  }
  if (canonicalJson(existing.migrationChecksums) !== canonicalJson(input.migrationChecksums)) {
    throw new PromoteError(
      `release ${input.version} of app "${input.app}" already exists with digest ${shortDigest(existing.digest)} but different migration checksums (${describeChecksumChange(existing.migrationChecksums, input.migrationChecksums)}): a version is immutable: create a new version`,
      { hint },
    );
  }
}

/**
 * The promotion rule for schema changes: a rollout applies exactly the migration files its release
 * was recorded with, the ones that passed the environments before. A file edited, added or removed
 * since is refused, naming it.
 */
export async function assertReleaseMigrations(release: Pick<Release, 'app' | 'version' | 'migrationChecksums'>, dir: string): Promise<void> {
  const found = await checksumMigrationsFolder(dir);
  const change = describeChecksumChange(release.migrationChecksums, found);
  if (change === '') return;
  throw new PromoteError(`the migrations folder ${dir} is not what release ${release.version} of ${release.app} was recorded with (${change}); a rollout applies only the migrations that passed the environments before`, {
    hint: 'restore the folder as it was when the release was created, or record a new release version with the changed migrations',
  });
}

function describeChecksumChange(recorded: Record<string, string>, given: Record<string, string>): string {
  const changed: string[] = [];
  const added: string[] = [];
  const removed: string[] = [];
  for (const [file, checksum] of Object.entries(given)) {
    if (!(file in recorded)) added.push(file);
    else if (recorded[file] !== checksum) changed.push(file);
  }
  for (const file of Object.keys(recorded)) if (!(file in given)) removed.push(file);
  const parts = [
    changed.length > 0 ? `changed: ${changed.sort().join(', ')}` : '',
    added.length > 0 ? `added: ${added.sort().join(', ')}` : '',
    removed.length > 0 ? `removed: ${removed.sort().join(', ')}` : '',
  ].filter(Boolean);
  return parts.join('; ');
}

/** The app's releases, newest first (`limit` defaults to 100). */
export async function listReleases(db: Queryable, app: string, options: { limit?: number } = {}): Promise<Release[]> {
  const limit = checkLimit(options.limit, DEFAULT_LIST_LIMIT);
  const result = await query<ReleaseRow>(db, `listing the releases of app "${app}"`, `select ${COLUMNS} from promote.releases where app = $1 order by id desc limit $2`, [app, limit]);
  return result.rows.map(toRelease);
}

export async function getRelease(db: Queryable, app: string, version: string): Promise<Release | undefined> {
  const result = await query<ReleaseRow>(db, `reading release ${version} of app "${app}"`, `select ${COLUMNS} from promote.releases where app = $1 and version = $2`, [app, version]);
  const row = result.rows[0];
  return row ? toRelease(row) : undefined;
}

export async function getReleaseById(db: Queryable, id: number): Promise<Release | undefined> {
  checkId('release', id);
  const result = await query<ReleaseRow>(db, `reading release #${id}`, `select ${COLUMNS} from promote.releases where id = $1`, [id]);
  const row = result.rows[0];
  return row ? toRelease(row) : undefined;
}

/** `sha256:<hex>` of a file, read as a stream so an artifact of any size uses little memory. */
export async function sha256File(path: string): Promise<string> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') throw new PromoteError(`cannot compute the sha256 of ${path}: there is no such file`, { cause: error });
    if (code === 'ENOTDIR') throw new PromoteError(`cannot compute the sha256 of ${path}: a parent of it is not a folder`, { cause: error });
    throw wrapError(`computing the sha256 of ${path}`, error);
  }
  if (info.isDirectory()) throw new PromoteError(`cannot compute the sha256 of ${path}: it is a folder, not a file`, { hint: 'point to the artifact file (an archive, an image tarball, a binary)' });
  if (!info.isFile()) throw new PromoteError(`cannot compute the sha256 of ${path}: it is not a regular file`);
  const hash = createHash('sha256');
  try {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  } catch (error) {
    throw wrapError(`reading ${path} to compute its sha256`, error);
  }
  return `sha256:${hash.digest('hex')}`;
}

const MIGRATION_EXTENSIONS = new Set(['.yaml', '.yml', '.json', '.sql']);

/**
 * The sha256 of each migration file (`.yaml`, `.yml`, `.json`, `.sql`) directly in `dir`, by file
 * name in sorted order; subfolders and other files are ignored. A folder that does not exist has none.
 */
export async function checksumMigrationsFolder(dir: string): Promise<Record<string, string>> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    if (code === 'ENOENT') return {};
    if (code === 'ENOTDIR') throw new PromoteError(`the migrations folder ${dir} is a file, not a folder`, { cause: error });
    throw wrapError(`listing the migrations folder ${dir}`, error);
  }
  const checksums: Record<string, string> = {};
  for (const name of names.filter((each) => MIGRATION_EXTENSIONS.has(extname(each).toLowerCase())).sort()) {
    const path = join(dir, name);
    let info;
    try {
      info = await stat(path); // follows symbolic links: a linked migration file counts
    } catch (error) {
      throw wrapError(`reading migration ${path}`, error);
    }
    if (!info.isFile()) continue;
    checksums[name] = await sha256File(path);
  }
  return checksums;
}
