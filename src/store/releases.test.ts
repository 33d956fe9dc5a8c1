import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { PromoteError } from '../errors.js';
import { upsertApp } from './apps.js';
import { checksumMigrationsFolder, createRelease, getRelease, getReleaseById, listReleases, sha256File } from './releases.js';

const digestOf = (text: string) => `sha256:${createHash('sha256').update(text).digest('hex')}`;
const A = digestOf('build a');
const B = digestOf('build b');

describe('releases', () => {
  let pool: pg.Pool;
  beforeAll(async () => {
    ({ pool } = await createStorePool());
    await upsertApp(pool, { name: 'shop' });
    await upsertApp(pool, { name: 'other' });
  });

  it('creates a release and reads it back', async () => {
    const { release, created } = await createRelease(pool, {
      app: 'shop',
      version: '1.0.0',
      digest: A,
      artifact: 'shop-1.0.0.tgz',
      migrationChecksums: { '002-add-email.yaml': digestOf('m2'), '001-init.sql': digestOf('m1') },
      createdBy: 'ci',
    });
    expect(created).toBe(true);
    expect(release).toMatchObject({ app: 'shop', version: '1.0.0', digest: A, artifact: 'shop-1.0.0.tgz', createdBy: 'ci' });
    expect(release.migrationChecksums).toEqual({ '001-init.sql': digestOf('m1'), '002-add-email.yaml': digestOf('m2') });
    expect(typeof release.id).toBe('number');
    expect(await getRelease(pool, 'shop', '1.0.0')).toEqual(release);
    expect(await getReleaseById(pool, release.id)).toEqual(release);
    expect(await getRelease(pool, 'shop', '9.9.9')).toBeUndefined();
    expect(await getRelease(pool, 'other', '1.0.0')).toBeUndefined();
  });

  it('is idempotent for the same digest and migration checksums (in any key order)', async () => {
    const first = await getRelease(pool, 'shop', '1.0.0');
    const again = await createRelease(pool, {
      app: 'shop',
      version: '1.0.0',
      digest: A,
      migrationChecksums: { '001-init.sql': digestOf('m1'), '002-add-email.yaml': digestOf('m2') },
    });
    expect(again.created).toBe(false);
    expect(again.release).toEqual(first);
  });

  it('refuses the same version with another digest: a version is immutable', async () => {
    const attempt = createRelease(pool, { app: 'shop', version: '1.0.0', digest: B, migrationChecksums: {} });
    await expect(attempt).rejects.toThrow(PromoteError);
    await expect(attempt).rejects.toThrow(
      `release 1.0.0 of app "shop" already exists with digest ${A.slice(0, 19)}…, not ${B.slice(0, 19)}…: a version is immutable: create a new version`,
    );
    expect((await getRelease(pool, 'shop', '1.0.0'))!.digest).toBe(A);
  });

  it('refuses the same version and digest with other migration checksums, saying which files differ', async () => {
    await expect(
      createRelease(pool, { app: 'shop', version: '1.0.0', digest: A, migrationChecksums: { '001-init.sql': digestOf('edited'), '003-new.yaml': digestOf('m3') } }),
    ).rejects.toThrow(/different migration checksums \(changed: 001-init\.sql; added: 003-new\.yaml; removed: 002-add-email\.yaml\): a version is immutable: create a new version/);
  });

  it('the same version in another app is another release', async () => {
    const { created, release } = await createRelease(pool, { app: 'other', version: '1.0.0', digest: B, migrationChecksums: {} });
    expect(created).toBe(true);
    expect(release.app).toBe('other');
  });

  it('race: of concurrent creates of one version with different digests exactly one wins, the others are refused', async () => {
    const digests = Array.from({ length: 10 }, (_, i) => digestOf(`race ${i}`));
    const results = await Promise.allSettled(digests.map((digest) => createRelease(pool, { app: 'shop', version: '2.0.0-race', digest, migrationChecksums: {} })));
    const won = results.filter((result) => result.status === 'fulfilled');
    const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
    expect(won).toHaveLength(1);
    expect(lost).toHaveLength(9);
    const stored = await getRelease(pool, 'shop', '2.0.0-race');
    expect(won[0]!.value).toEqual({ created: true, release: stored });
    for (const failure of lost) {
      expect(failure.reason).toBeInstanceOf(PromoteError);
      expect(String((failure.reason as Error).message)).toContain(`already exists with digest ${stored!.digest.slice(0, 19)}…`);
      expect(String((failure.reason as Error).message)).toContain('a version is immutable');
    }
  });

  it('race: concurrent creates with the same content all succeed, exactly one of them creating', async () => {
    const results = await Promise.all(Array.from({ length: 10 }, () => createRelease(pool, { app: 'shop', version: '2.0.1', digest: B, migrationChecksums: { 'a.sql': A } })));
    expect(results.filter((result) => result.created)).toHaveLength(1);
    expect(new Set(results.map((result) => result.release.id)).size).toBe(1);
  });

  it('validates the digest, the version and the app before the database does', async () => {
    await expect(createRelease(pool, { app: 'shop', version: '3.0.0', digest: 'sha256:abc', migrationChecksums: {} })).rejects.toThrow(
      'the digest of release 3.0.0 must be "sha256:" followed by 64 hex digits, got "sha256:abc"',
    );
    await expect(createRelease(pool, { app: 'shop', version: '3.0.0', digest: A.toUpperCase().replace('SHA256', 'sha256'), migrationChecksums: {} })).rejects.toThrow(
      '(the hex digits must be lowercase)',
    );
    await expect(createRelease(pool, { app: 'shop', version: '', digest: A, migrationChecksums: {} })).rejects.toThrow('must be 1 to 128 characters');
    await expect(createRelease(pool, { app: 'ghost', version: '1', digest: A, migrationChecksums: {} })).rejects.toThrow(
      'cannot record release 1: app "ghost" is not recorded in the state store',
    );
    expect(await listReleases(pool, 'shop', { limit: 100 })).not.toContainEqual(expect.objectContaining({ version: '3.0.0' }));
  });

  it('lists releases newest first, with a limit', async () => {
    await createRelease(pool, { app: 'other', version: '1.1.0', digest: A, migrationChecksums: {} });
    await createRelease(pool, { app: 'other', version: '1.2.0', digest: A, migrationChecksums: {} });
    expect((await listReleases(pool, 'other')).map((release) => release.version)).toEqual(['1.2.0', '1.1.0', '1.0.0']);
    expect((await listReleases(pool, 'other', { limit: 2 })).map((release) => release.version)).toEqual(['1.2.0', '1.1.0']);
    await expect(listReleases(pool, 'other', { limit: 0 })).rejects.toThrow('limit must be a whole number from 1');
  });
});

describe('sha256File and checksumMigrationsFolder', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'promote-releases-'));
  });
  afterAll(async () => rm(dir, { recursive: true, force: true }));

  it('hashes a file larger than one stream chunk', async () => {
    const content = randomBytes(3 * 1024 * 1024 + 17);
    const path = join(dir, 'artifact.bin');
    await writeFile(path, content);
    expect(await sha256File(path)).toBe(`sha256:${createHash('sha256').update(content).digest('hex')}`);
    const empty = join(dir, 'empty');
    await writeFile(empty, '');
    expect(await sha256File(empty)).toBe('sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });

  it('names the path when it is missing or a folder', async () => {
    await expect(sha256File(join(dir, 'missing.tgz'))).rejects.toThrow(`cannot compute the sha256 of ${join(dir, 'missing.tgz')}: there is no such file`);
    await expect(sha256File(dir)).rejects.toThrow(`cannot compute the sha256 of ${dir}: it is a folder, not a file`);
  });

  it('checksums the migration files of a folder, sorted, non-recursive', async () => {
    const migrations = join(dir, 'migrations');
    await mkdir(join(migrations, 'nested.sql'), { recursive: true });
    await writeFile(join(migrations, 'nested.sql', 'inner.sql'), 'select 1');
    await writeFile(join(migrations, '002-b.yaml'), 'b');
    await writeFile(join(migrations, '001-a.sql'), 'a');
    await writeFile(join(migrations, '003-c.yml'), 'c');
    await writeFile(join(migrations, '004-d.json'), '{}');
    await writeFile(join(migrations, 'README.md'), 'not a migration');
    await writeFile(join(dir, 'outside.sql'), 'linked');
    await symlink(join(dir, 'outside.sql'), join(migrations, '005-linked.sql'));
    const checksums = await checksumMigrationsFolder(migrations);
    expect(Object.keys(checksums)).toEqual(['001-a.sql', '002-b.yaml', '003-c.yml', '004-d.json', '005-linked.sql']);
    expect(checksums['002-b.yaml']).toBe(digestOf('b'));
    expect(checksums['005-linked.sql']).toBe(digestOf('linked'));
  });

  it('gives {} for a folder that does not exist, and refuses a file', async () => {
    expect(await checksumMigrationsFolder(join(dir, 'no-such-folder'))).toEqual({});
    await expect(checksumMigrationsFolder(join(dir, 'empty'))).rejects.toThrow('is a file, not a folder');
  });
});
