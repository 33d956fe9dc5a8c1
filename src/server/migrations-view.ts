/**
 * An environment's migration history as the dashboard shows it: the runs recorded in the app
 * database (promote_migrate.runs), each with the rollout that applied it (from the state store's
 * rollout actions) and whether what was applied is what the release was recorded with.
 *
 * The release records each migration FILE's sha256; a run records the CONTENT checksum of what it
 * applied (operations as canonical JSON). The two only meet through the file: when the migrations
 * folder still holds the file the release recorded (same sha256), its content checksum is what that
 * release applies, and can be compared with the run's. Otherwise the answer is "unknown", said so.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { migrationChecksum } from '../migrations/checksum.js';
import { MIGRATION_EXTENSIONS, parseMigration } from '../migrations/file.js';
import { listRuns, verifyRunChain, type MigrationRun, type RunPhase } from '../migrations/state.js';
import { getReleaseById, listRollouts, sha256File, type Release } from '../store/index.js';
import { query } from '../store/queryable.js';

export type MigrationState = 'in flight' | 'expanded' | 'completed' | 'rolled back' | 'undo window open';
export type ReleaseMatch = 'match' | 'mismatch' | 'not in release' | 'unknown';

export interface MemberView {
  name: string;
  checksum: string;
  match: ReleaseMatch;
  /** why the match is what it is, in words */
  matchDetail: string;
  /** the file the release recorded for this migration, and its sha256 */
  releaseFile: string | null;
  releaseFileSha256: string | null;
}

export interface RolloutRef {
  id: number;
  version: string | null;
  createdBy: string | null;
}

export interface MigrationView {
  id: number;
  name: string;
  state: MigrationState;
  phase: RunPhase;
  inFlight: boolean;
  checksum: string;
  versionSchema: string;
  backfilled: boolean;
  startedAt: string;
  completedAt: string | null;
  rolledBackAt: string | null;
  undoUntil: string | null;
  error: string | null;
  members: MemberView[];
  /** the rollout whose expand applied it; null when it was applied otherwise (promote migrate start) */
  rollout: RolloutRef | null;
  /** the release its checksums are compared with: the rollout's, else the environment's latest */
  release: { version: string; source: 'rollout' | 'environment' } | null;
}

export interface MigrationHistoryView {
  environment: string;
  schema: string;
  migrations: MigrationView[];
  chain: { ok: true; runs: number } | { ok: false; runs: number; brokenAt: string; reason: string };
}

const IN_FLIGHT: readonly RunPhase[] = ['starting', 'completing', 'rolling_back', 'undoing', 'finalizing'];

export function stateOf(run: MigrationRun, now: Date): MigrationState {
  if (IN_FLIGHT.includes(run.phase)) return 'in flight';
  if (run.phase === 'started') return run.backfilled ? 'expanded' : 'in flight';
  if (run.phase === 'rolled_back') return 'rolled back';
  if (run.phase === 'undoable') return run.undoUntil !== null && run.undoUntil > now ? 'undo window open' : 'completed';
  return 'completed';
}

interface MigrateAction {
  rollout_id: string;
  applied: string[] | null;
}

/** Which rollout's expand applied each migration name (the latest, if several tried). */
async function appliedBy(store: pg.Pool, app: string, environment: string): Promise<Map<string, number>> {
  const result = await query<MigrateAction>(
    store,
    `reading which rollouts of ${app} in ${environment} ran migrations`,
    `select a.rollout_id, a.outcome->'evidence'->'applied' as applied
       from promote.rollout_actions a join promote.rollouts r on r.id = a.rollout_id
      where r.app = $1 and r.environment = $2 and a.action->>'kind' = 'migrate' and a.action->>'phase' = 'expand' and a.status = 'succeeded'
      order by a.finished_at, a.rollout_id`,
    [app, environment],
  );
  const byName = new Map<string, number>();
  for (const row of result.rows) for (const name of Array.isArray(row.applied) ? row.applied : []) byName.set(name, Number(row.rollout_id));
  return byName;
}

interface FolderFile {
  file: string;
  sha256: string;
  checksum: string | undefined;
}

/** The migrations folder's file for a migration name, with its sha256 and content checksum. */
async function folderFile(dir: string | undefined, file: string, cache: Map<string, FolderFile | undefined>): Promise<FolderFile | undefined> {
  if (dir === undefined) return undefined;
  if (cache.has(file)) return cache.get(file);
  const path = join(dir, file);
  let found: FolderFile | undefined;
  try {
    const sha256 = await sha256File(path);
    const parsed = parseMigration(await readFile(path, 'utf8'), path);
    found = { file, sha256, checksum: parsed.ok ? migrationChecksum(parsed.migration) : undefined };
  } catch {
    found = undefined; // gone or unreadable: the match is unknown, which the view says
  }
  cache.set(file, found);
  return found;
}

async function compare(name: string, checksum: string, release: Release | undefined, dir: string | undefined, cache: Map<string, FolderFile | undefined>): Promise<MemberView> {
  const base = { name, checksum, releaseFile: null, releaseFileSha256: null };
  if (release === undefined) return { ...base, match: 'unknown', matchDetail: 'no release to compare with: no rollout has run in this environment' };
  const file = MIGRATION_EXTENSIONS.map((extension) => `${name}${extension}`).find((candidate) => candidate in release.migrationChecksums);
  if (file === undefined) return { ...base, match: 'not in release', matchDetail: `release ${release.version} was recorded without a migration named ${name}` };
  const recorded = release.migrationChecksums[file]!;
  const withFile = { ...base, releaseFile: file, releaseFileSha256: recorded };
  const local = await folderFile(dir, file, cache);
  if (local === undefined || local.checksum === undefined) return { ...withFile, match: 'unknown', matchDetail: `${file} of release ${release.version} is not in the migrations folder Promote reads, so its content cannot be compared` };
  if (local.sha256 !== recorded) return { ...withFile, match: 'unknown', matchDetail: `${file} in the migrations folder changed since release ${release.version} was recorded, so the release's content cannot be compared` };
  return local.checksum === checksum
    ? { ...withFile, match: 'match', matchDetail: `the applied migration is ${file} of release ${release.version}` }
    : { ...withFile, match: 'mismatch', matchDetail: `${file} of release ${release.version} has checksum ${local.checksum}, the database applied ${checksum}` };
}

export interface HistorySources {
  store: pg.Pool;
  app: string;
  environment: string;
  schema: string;
  /** the migrations folder, when the server knows where it is */
  migrationsDir: string | undefined;
}

export interface RecordedRuns {
  runs: MigrationRun[];
  chain: Awaited<ReturnType<typeof verifyRunChain>>;
}

/** What the app database records (read apart from the store, so a failure is blamed on the right one). */
export async function readRecordedRuns(appDb: pg.Pool, schema: string): Promise<RecordedRuns> {
  return { runs: await listRuns(appDb, schema), chain: await verifyRunChain(appDb, schema) };
}

/** The history of the environment's app database, with what the state store knows of each run. */
export async function migrationHistoryView({ runs, chain }: RecordedRuns, sources: HistorySources, now = new Date()): Promise<MigrationHistoryView> {
  const byName = runs.length === 0 ? new Map<string, number>() : await appliedBy(sources.store, sources.app, sources.environment);
  const latest = (await listRollouts(sources.store, { app: sources.app, environment: sources.environment, limit: 1 }))[0];
  const releases = new Map<number, Release | undefined>();
  const releaseOf = async (id: number) => {
    if (!releases.has(id)) releases.set(id, await getReleaseById(sources.store, id));
    return releases.get(id);
  };
  const rollouts = new Map<number, { ref: RolloutRef; release: Release | undefined }>();
  const rolloutOf = async (id: number) => {
    if (!rollouts.has(id)) {
      const row = (await query<{ release_id: string; created_by: string | null }>(sources.store, `reading rollout #${id}`, 'select release_id, created_by from promote.rollouts where id = $1', [id])).rows[0];
      const release = row === undefined ? undefined : await releaseOf(Number(row.release_id));
      rollouts.set(id, { ref: { id, version: release?.version ?? null, createdBy: row?.created_by ?? null }, release });
    }
    return rollouts.get(id)!;
  };
  const environmentRelease = latest === undefined ? undefined : await releaseOf(latest.releaseId);
  const cache = new Map<string, FolderFile | undefined>();
  const migrations: MigrationView[] = [];
  for (const run of runs) {
    const members = run.members.length > 0 ? run.members : [{ name: run.name, checksum: run.checksum }];
    const rolloutId = members.map((member) => byName.get(member.name)).find((id) => id !== undefined);
    const rollout = rolloutId === undefined ? undefined : await rolloutOf(rolloutId);
    const release = rollout?.release ?? environmentRelease;
    const state = stateOf(run, now);
    migrations.push({
      id: run.id,
      name: run.name,
      state,
      phase: run.phase,
      inFlight: state === 'in flight' || state === 'expanded',
      checksum: run.checksum,
      versionSchema: run.versionSchema,
      backfilled: run.backfilled,
      startedAt: run.startedAt.toISOString(),
      completedAt: run.completedAt?.toISOString() ?? null,
      rolledBackAt: run.rolledBackAt?.toISOString() ?? null,
      undoUntil: run.undoUntil?.toISOString() ?? null,
      error: run.error,
      members: await Promise.all(members.map((member) => compare(member.name, member.checksum, release, sources.migrationsDir, cache))),
      rollout: rollout?.ref ?? null,
      release: release === undefined ? null : { version: release.version, source: rollout?.release !== undefined ? 'rollout' : 'environment' },
    });
  }
  return {
    environment: sources.environment,
    schema: sources.schema,
    migrations,
    chain: chain.ok ? { ok: true, runs: chain.runs } : { ok: false, runs: chain.runs, brokenAt: chain.name, reason: chain.reason },
  };
}
