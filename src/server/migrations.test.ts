import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool, createTestDatabase } from '../../test/helpers/database.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { scratchFolder } from '../../test/helpers/scratch.js';
import { startRollout } from '../engine/start.js';
import { runBackfill } from '../migrations/backfill/backfill.js';
import { completeMigration, startMigration, type Backfiller } from '../migrations/runner.js';
import { parseSpec } from '../spec/index.js';
import { checksumMigrationsFolder, createRelease, upsertApp } from '../store/index.js';
import type { MigrationRun } from '../migrations/state.js';
import { buildServer } from './app.js';
import { stateOf } from './migrations-view.js';

// the migration as the release ships it (staging applies this) and as someone applied it by hand in production
const SHIPPED = `operations:
  - add_column:
      table: orders
      up: total * 100
      column: { name: total_cents, type: bigint, nullable: false }
`;
const HAND_MADE = SHIPPED.replace('total * 100', 'total * 1000');

/** One keyset batch of 100 rows, then a stop: the run stays started with its backfill cut short, as after a crash. */
const oneBatch: Backfiller = async (pool, table) => {
  const stop = new AbortController();
  await runBackfill(pool, table, { initialBatchSize: 100, minBatchSize: 100, maxBatchSize: 100, onProgress: () => stop.abort(), signal: stop.signal });
  throw new Error('backfill stopped after one batch (test)');
};

interface Json {
  [key: string]: unknown;
}

describe('GET /api/environments/:env/migrations and /backfill', () => {
  let store: pg.Pool;
  let staging: MigrationDatabase;
  let production: MigrationDatabase;
  let api: FastifyInstance;
  let base: string;
  let rolloutId: number;
  let migrationsDir: string;

  const get = async (path: string) => {
    const response = await request(`${base}${path}`);
    return { status: response.statusCode, body: (await response.body.json()) as Json };
  };

  beforeAll(async () => {
    ({ pool: store } = await createStorePool());
    staging = await createMigrationDatabase();
    production = await createMigrationDatabase();
    const missing = new URL((await createTestDatabase()).url);
    missing.pathname = '/no_such_database_here';
    for (const db of [staging, production]) {
      await db.pool.query(`create table orders (id serial primary key, total int not null); insert into orders (total) select n from generate_series(1, 1000) n; analyze orders`);
    }
    const configDir = await scratchFolder('promote-migrations-route-');
    migrationsDir = join(configDir, 'migrations');
    await mkdir(migrationsDir);
    await writeFile(join(migrationsDir, '001_total_cents.yaml'), SHIPPED);
    const target = '{ type: process, command: node server.js }';
    const parsed = parseSpec(
      `version: 1
app: { name: shop }
environments:
  - { name: staging, database: "${staging.url}", target: ${target}, strategy: quick }
  - { name: production, database: "${production.url}", target: ${target}, strategy: quick }
  - { name: lost, database: "postgres://promote:secret@127.0.0.1:1/nothing", target: ${target}, strategy: quick }
  - { name: gone, database: "${missing.toString()}", target: ${target}, strategy: quick }
strategies:
  quick: { type: canary, steps: [ { approval: {} }, { promote: {} } ] }
`,
      { file: 'promote.yaml' },
    );
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    await upsertApp(store, { name: 'shop' });
    await createRelease(store, { app: 'shop', version: '2.0.0', digest: `sha256:${'b'.repeat(64)}`, migrationChecksums: await checksumMigrationsFolder(migrationsDir), createdBy: 'ci' });
    rolloutId = (await startRollout(store, { spec: parsed.spec, environment: 'staging', version: '2.0.0', actor: 'alice' })).id;
    await startRollout(store, { spec: parsed.spec, environment: 'production', version: '2.0.0', actor: 'bob', skipEnvironmentGate: 'route test' });
    api = await buildServer({ pool: store, spec: parsed.spec, configDir, web: false });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('shows no backfill and an empty history before any migration', async () => {
    expect(await get('/api/environments/staging/backfill')).toMatchObject({ status: 200, body: { environment: 'staging', inFlight: false, migration: null, tables: [] } });
    expect(await get('/api/environments/staging/migrations')).toMatchObject({ status: 200, body: { environment: 'staging', schema: 'public', migrations: [], chain: { ok: true, runs: 0 } } });
  });

  it('reports a backfill cut short, then its rate over the interval once it moves again, and the migration in flight with its rollout', async () => {
    const shipped = migrationFrom('001_total_cents', SHIPPED);
    await expect(startMigration(shipped, { pool: staging.pool, backfill: oneBatch })).rejects.toThrow(/one batch/);
    // what the controller records when a rollout's expand applied it
    await store.query(
      `insert into promote.rollout_actions (rollout_id, id, action, status, outcome, finished_at) values ($1, 'migrate-expand', $2, 'succeeded', $3, now())`,
      [rolloutId, { kind: 'migrate', phase: 'expand' }, { status: 'succeeded', evidence: { applied: ['001_total_cents'] } }],
    );

    const first = await get('/api/environments/staging/backfill');
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ environment: 'staging', inFlight: true, migration: '001_total_cents', schema: 'public', runPhase: 'started' });
    expect(first.body.rowsTotalSource).toMatch(/reltuples/);
    const [table] = first.body.tables as Json[];
    expect(table).toMatchObject({ table: 'orders', phase: 'keyset', rowsDone: 100, rowsTotal: 1000, batches: 1 });
    expect(table!.idleSeconds).toBeGreaterThanOrEqual(0);
    // the first figure has no interval before it: an average since the table began, or nothing yet
    expect([null, 'average']).toContain(table!.rateBasis);

    await expect(startMigration(shipped, { pool: staging.pool, backfill: oneBatch })).rejects.toThrow(/one batch/);
    const second = await get('/api/environments/staging/backfill');
    const [moved] = second.body.tables as Json[];
    expect(moved).toMatchObject({ rowsDone: 200, rowsTotal: 1000, batches: 2, rateBasis: 'interval' });
    const rate = moved!.rowsPerSecond as number;
    expect(rate).toBeGreaterThan(0);
    expect((moved!.etaSeconds as number) * rate).toBeCloseTo(800, 3);

    const history = await get('/api/environments/staging/migrations');
    expect(history.status).toBe(200);
    const [run] = history.body.migrations as Json[];
    expect(run).toMatchObject({ name: '001_total_cents', state: 'in flight', phase: 'started', inFlight: true, backfilled: false, completedAt: null });
    expect(run!.rollout).toEqual({ id: rolloutId, version: '2.0.0', createdBy: 'alice' });
    expect(run!.release).toEqual({ version: '2.0.0', source: 'rollout' });
    expect(run!.members).toEqual([expect.objectContaining({ name: '001_total_cents', match: 'match', releaseFile: '001_total_cents.yaml' })]);
  });

  it('shows the migration expanded once its backfill ends (no backfill any more), then completed', async () => {
    await startMigration(migrationFrom('001_total_cents', SHIPPED), { pool: staging.pool });
    expect((await get('/api/environments/staging/backfill')).body).toMatchObject({ inFlight: false, tables: [] });
    expect(((await get('/api/environments/staging/migrations')).body.migrations as Json[])[0]).toMatchObject({ state: 'expanded', inFlight: true, backfilled: true });
    await completeMigration({ pool: staging.pool, undoWindowMs: 3_600_000 });
    const [run] = (await get('/api/environments/staging/migrations')).body.migrations as Json[];
    // an added column removes nothing, so there is nothing to keep aside and no undo window
    expect(run).toMatchObject({ state: 'completed', phase: 'completed', inFlight: false, undoUntil: null });
    expect(Date.parse(run!.completedAt as string)).toBeGreaterThanOrEqual(Date.parse(run!.startedAt as string));
  });

  it('names an undoable run by its window: open until undoUntil, completed after', () => {
    const now = new Date('2026-11-23T12:00:00Z');
    const run = (undoUntil: string | null) => ({ phase: 'undoable', backfilled: true, undoUntil: undoUntil === null ? null : new Date(undoUntil) }) as MigrationRun;
    expect(stateOf(run('2026-11-23T13:00:00Z'), now)).toBe('undo window open');
    expect(stateOf(run('2026-11-23T11:00:00Z'), now)).toBe('completed');
    expect(stateOf({ ...run(null), phase: 'started', backfilled: false }, now)).toBe('in flight');
    expect(stateOf({ ...run(null), phase: 'started' }, now)).toBe('expanded');
    expect(stateOf({ ...run(null), phase: 'rolled_back' }, now)).toBe('rolled back');
  });

  it('says when the database applied other content than the release has under that name', async () => {
    await startMigration(migrationFrom('001_total_cents', HAND_MADE), { pool: production.pool });
    await completeMigration({ pool: production.pool, undoWindowMs: 0 });
    const [run] = (await get('/api/environments/production/migrations')).body.migrations as Json[];
    expect(run).toMatchObject({ state: 'completed', rollout: null, release: { version: '2.0.0', source: 'environment' } });
    const [member] = run!.members as Json[];
    expect(member).toMatchObject({ match: 'mismatch' });
    expect(member!.matchDetail).toMatch(/001_total_cents\.yaml of release 2\.0\.0 has checksum [0-9a-f]{64}, the database applied [0-9a-f]{64}/);
  });

  it('answers 404 for an unknown environment, 503 when the app database is unreachable and 502 when it fails otherwise', async () => {
    expect(await get('/api/environments/nowhere/migrations')).toMatchObject({ status: 404, body: { error: 'shop has no environment "nowhere"' } });
    for (const path of ['migrations', 'backfill']) {
      const lost = await get(`/api/environments/lost/${path}`);
      expect(lost.status).toBe(503);
      expect(lost.body.error).toMatch(/^the app database of lost is unreachable while reading the (migration history|backfill progress) of schema public: .*ECONNREFUSED/);
      expect(JSON.stringify(lost.body)).not.toContain('secret');
    }
    const gone = await get('/api/environments/gone/migrations');
    expect(gone.status).toBe(502);
    expect(gone.body.error).toMatch(/^the app database of gone failed while reading the migration history of schema public: .*no_such_database_here/);
  });

  it('names the app and its environments in promotion order for the dashboard', async () => {
    expect(await get('/api/app')).toEqual({ status: 200, body: { name: 'shop', environments: ['staging', 'production', 'lost', 'gone'] } });
  });

  it('documents both routes in the OpenAPI document', async () => {
    const paths = (await get('/openapi.json')).body.paths as Record<string, unknown>;
    expect(Object.keys(paths)).toEqual(expect.arrayContaining(['/api/environments/{env}/migrations', '/api/environments/{env}/backfill']));
  });
});
