/**
 * Issue 11: the state changes that wrote a promote.* row without an audit event now append one in the
 * same transaction (docs/audit.md, "What is recorded"): an app recorded or described anew, a change of
 * an app's environments, each move of a migration's history, a flag schedule applied (even when it
 * changed nothing), a rollout command queued; and `promote migrate` run by hand (its steps and the
 * backfill commit on the app's database, so their events follow them). Each test makes the change on a
 * real store (and app database) and reads the trail back; repeats that change nothing add nothing; the
 * chain verifies at the end.
 */
import { createHash } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../helpers/cli.js';
import { createStorePool, createTestDatabase } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';
import { sendCommand } from '../../src/engine/commands.js';
import { startRollout } from '../../src/engine/start.js';
import { applyDueFlagSchedules, putFlag, scheduleFlagChange } from '../../src/flags/store.js';
import { parseSpec } from '../../src/spec/index.js';
import { createRelease, listEvents, migrateStore, syncEnvironments, upsertApp, verifyEventChain, type PromoteEvent } from '../../src/store/index.js';
import { storeMigrations } from '../../src/store/schema/index.js';
import { afterFile } from '../helpers/cleanup.js';
import { markMigrationCompleted, markMigrationFailed, markMigrationRolledBack, recordMigrationStart } from '../../src/store/migration-history.js';

let pool: pg.Pool;
let storeUrl: string;
let seen = 0;

/** The events appended since the last call. */
async function appended(): Promise<PromoteEvent[]> {
  const events = await listEvents(pool, { afterSeq: seen, limit: 10_000 });
  seen = events.at(-1)?.seq ?? seen;
  return events;
}

const brief = (events: PromoteEvent[]) => events.map((event) => ({ type: event.type, actor: event.actor, app: event.app, data: event.data }));

describe('state changes that had no audit event', () => {
  beforeAll(async () => {
    ({ pool, url: storeUrl } = await createStorePool({ max: 4 }));
  });

  it('an app recorded, then described anew, is in the trail; recording it unchanged adds nothing', async () => {
    await upsertApp(pool, { name: 'shop', actor: 'alice' });
    expect(brief(await appended())).toEqual([{ type: 'app.recorded', actor: 'alice', app: 'shop', data: { description: null } }]);
    await upsertApp(pool, { name: 'shop', actor: 'alice' });
    await upsertApp(pool, { name: 'shop', description: null, actor: 'alice' });
    expect(await appended()).toEqual([]);
    await upsertApp(pool, { name: 'shop', description: 'the shop', actor: 'bob' });
    expect(brief(await appended())).toEqual([{ type: 'app.changed', actor: 'bob', app: 'shop', data: { description: 'the shop', before: null } }]);
    // no actor given (a rollout start records its app so): Promote itself
    await upsertApp(pool, { name: 'other' });
    expect((await appended()).map((event) => [event.type, event.actor])).toEqual([['app.recorded', 'promote']]);
  });

  it('a change of the environments (added, reordered, removed) is in the trail; the same list again adds nothing', async () => {
    await syncEnvironments(pool, 'shop', ['staging', 'production'], 'alice');
    expect(brief(await appended())).toEqual([{ type: 'environments.changed', actor: 'alice', app: 'shop', data: { environments: ['staging', 'production'], before: [], added: ['staging', 'production'], removed: [] } }]);
    await syncEnvironments(pool, 'shop', ['staging', 'production'], 'alice');
    expect(await appended()).toEqual([]);
    await syncEnvironments(pool, 'shop', ['qa', 'production', 'staging'], 'bob');
    expect(brief(await appended())).toEqual([{ type: 'environments.changed', actor: 'bob', app: 'shop', data: { environments: ['qa', 'production', 'staging'], before: ['staging', 'production'], added: ['qa'], removed: [] } }]);
    await syncEnvironments(pool, 'shop', ['staging', 'production'], 'carol');
    expect(brief(await appended())).toEqual([{ type: 'environments.changed', actor: 'carol', app: 'shop', data: { environments: ['staging', 'production'], before: ['qa', 'production', 'staging'], added: [], removed: ['qa'] } }]);
    // a refused removal (the environment has rollouts) records nothing: the event rolls back with the change (below)
  });

  it("each move of a migration's history is an event: started, completed, rolled back, failed; a repeated mark adds nothing", async () => {
    const sum = (text: string) => createHash('sha256').update(text).digest('hex');
    const target = { app: 'shop', databaseKey: 'staging' };
    await recordMigrationStart(pool, { ...target, name: '01_users', checksum: sum('01'), versionSchema: 'v1', actor: 'alice' });
    await markMigrationCompleted(pool, target, '01_users');
    await markMigrationCompleted(pool, target, '01_users');
    await recordMigrationStart(pool, { ...target, name: '02_orders', checksum: sum('02'), actor: 'alice' });
    await markMigrationRolledBack(pool, target, '02_orders', 'orders still read the old column', { actor: 'bob' });
    // a key that is a URL with a password: masked in the trail
    const secretKey = { app: 'shop', databaseKey: 'postgres://app:gapS3cret@db.internal/shop' };
    await recordMigrationStart(pool, { ...secretKey, name: '03_index', checksum: sum('03'), actor: 'carol' });
    await markMigrationFailed(pool, secretKey, '03_index', 'connecting to postgres://app:gapS3cret@db.internal/shop failed');
    const events = brief(await appended());
    expect(events).toEqual([
      { type: 'migration.started', actor: 'alice', app: 'shop', data: { database: 'staging', migration: '01_users', checksum: sum('01'), historySeq: 1, versionSchema: 'v1' } },
      { type: 'migration.completed', actor: 'alice', app: 'shop', data: { database: 'staging', migration: '01_users', checksum: sum('01'), historySeq: 1, versionSchema: 'v1' } },
      { type: 'migration.started', actor: 'alice', app: 'shop', data: { database: 'staging', migration: '02_orders', checksum: sum('02'), historySeq: 2 } },
      { type: 'migration.rolled_back', actor: 'bob', app: 'shop', data: { database: 'staging', migration: '02_orders', checksum: sum('02'), historySeq: 2, reason: 'orders still read the old column' } },
      { type: 'migration.started', actor: 'carol', app: 'shop', data: { database: 'postgres://app:***@db.internal/shop', migration: '03_index', checksum: sum('03'), historySeq: 1 } },
      { type: 'migration.failed', actor: 'carol', app: 'shop', data: { database: 'postgres://app:***@db.internal/shop', migration: '03_index', checksum: sum('03'), historySeq: 1, error: 'connecting to postgres://app:***@db.internal/shop failed' } },
    ]);
    expect(JSON.stringify(events)).not.toContain('gapS3cret');
    // a refused move (not started) appends nothing
    await expect(markMigrationCompleted(pool, target, '99_never')).rejects.toThrow(/has not been started/);
    expect(await appended()).toEqual([]);
  });

  it('a flag schedule applied is an event, also when its change found the flag already so', async () => {
    const scope = { app: 'shop', environment: 'staging' };
    await putFlag(pool, scope, { name: 'checkout', enabled: true }, { actor: 'alice' });
    const noop = await scheduleFlagChange(pool, scope, { flag: 'checkout', applyAt: new Date(Date.now() - 1000), change: { action: 'enable' }, actor: 'bob' });
    const off = await scheduleFlagChange(pool, scope, { flag: 'checkout', applyAt: new Date(Date.now() - 500), change: { action: 'disable' }, actor: 'carol' });
    await appended();
    const run = await applyDueFlagSchedules(pool);
    expect(run.applied.map((schedule) => schedule.id)).toEqual([noop.id, off.id]);
    expect((await appended()).map((event) => [event.type, event.actor, event.data.scheduleId, event.data.changed])).toEqual([
      ['flag.schedule_applied', 'bob', noop.id, false],
      ['flag.changed', 'carol', off.id, undefined],
      ['flag.schedule_applied', 'carol', off.id, true],
    ]);
  });

  it('a rollout command queued is an event with its actor and rollout, before any controller applies it', async () => {
    const parsed = parseSpec(
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`,
      { file: 'promote.yaml' },
    );
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'b'.repeat(64)}`, migrationChecksums: {} });
    const rollout = await startRollout(pool, { spec: parsed.spec, environment: 'staging', version: '1.0.0', actor: 'alice' });
    await appended();
    await sendCommand(pool, { app: 'shop', environment: 'staging', kind: 'pause', actor: 'dave', reason: 'look first' });
    const [queued, ...rest] = await appended();
    expect(rest).toEqual([]);
    expect(queued).toMatchObject({ type: 'command.queued', actor: 'dave', app: 'shop', environment: 'staging', rolloutId: rollout.id, data: { command: 'pause', reason: 'look first', commandId: expect.any(Number) as number } });
    // a refused command (no rollout to pause there) queues nothing and records nothing
    await expect(sendCommand(pool, { app: 'shop', environment: 'production', kind: 'pause', actor: 'dave' })).rejects.toThrow(/no active rollout/);
    expect(await appended()).toEqual([]);
    // a refused environment removal (it has a rollout now) rolls its event back with it
    await expect(syncEnvironments(pool, 'shop', ['production'], 'erin')).rejects.toThrow(/cannot remove environment "staging"/);
    expect(await appended()).toEqual([]);
  });

  it('promote migrate start/complete/rollback by hand (with promote.yaml) are events, with the backfill\'s start and finish and a failed step', { timeout: 60_000 }, async () => {
    const appDatabase = (await createTestDatabase()).url;
    const folder = await scratchFolder('promote-audit-migrate-');
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1\napp: { name: shop }\nenvironments:\n  - name: staging\n    database: ${appDatabase}\n    target: { type: process, command: node server.js }\n    strategy: canary\nstrategies:\n  canary:\n    type: canary\n    steps:\n      - promote: {}\n`,
    );
    await writeFile(join(folder, '01_items.yaml'), `operations:\n  - sql:\n      up: create table items (id serial primary key, name text not null); insert into items (name) select 'item ' || n from generate_series(1, 50) n\n      down: drop table items\n`);
    await writeFile(join(folder, '02_sku.yaml'), `operations:\n  - add_column:\n      table: items\n      up: upper(name)\n      column: { name: sku, type: text }\n`);
    // valid as a file, fails on the database: a step that was tried and failed
    await writeFile(join(folder, '03_broken.yaml'), `operations:\n  - sql:\n      up: alter table no_such_table add column price int\n      down: select 1\n`);
    const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env: { DATABASE_URL: storeUrl, PROMOTE_ACTOR: 'frank' } });
    await appended();
    for (const args of [['start', '01_items.yaml', '--complete'], ['start', '02_sku.yaml'], ['rollback']]) {
      const run = await cli('migrate', ...args, '--env', 'staging');
      expect(run.code, `${args.join(' ')}: ${run.stderr}`).toBe(0);
    }
    const broken = await cli('migrate', 'start', '03_broken.yaml', '--env', 'staging');
    expect(broken.code).not.toBe(0);
    const events = await appended();
    expect(events.map((event) => event.type)).toEqual(['migration.started', 'migration.completed', 'backfill.started', 'backfill.finished', 'migration.started', 'migration.rolled_back', 'migration.command_failed']);
    for (const event of events) expect(event).toMatchObject({ actor: 'frank', app: 'shop', environment: 'staging', data: { database: 'staging', schema: 'public', via: 'cli' } });
    expect(events[3]!.data).toMatchObject({ table: 'public.items', rows: 50, done: true });
    expect(events[4]!.data).toMatchObject({ migration: '02_sku', versionSchema: 'public_02_sku', resumed: false });
    expect(events[6]!.data).toMatchObject({ command: 'start' });
    expect(String(events[6]!.data.error)).toContain('no_such_table');
    // without promote.yaml (a bare --database run) there is no app to record for: the database's own run chain has it
    const bare = await scratchFolder('promote-audit-bare-');
    await writeFile(join(bare, '04_note.yaml'), `operations:\n  - sql:\n      up: create table notes (id int primary key)\n      down: drop table notes\n`);
    const unrecorded = await runInProcess(['migrate', 'start', '04_note.yaml', '--complete', '--database', appDatabase], { cwd: bare, env: { DATABASE_URL: storeUrl } });
    expect(unrecorded.code, unrecorded.stderr).toBe(0);
    expect(await appended()).toEqual([]);
  });

  it("an upgrade of a store in use records each store migration it applies; creating a store records none", async () => {
    const fresh = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 2 });
    afterFile('closing the upgraded store pool', () => fresh.end());
    await migrateStore(fresh, storeMigrations.slice(0, 3));
    expect(await listEvents(fresh)).toEqual([]);
    const upgraded = await migrateStore(fresh);
    expect(upgraded.length).toBe(storeMigrations.length - 3);
    const events = await listEvents(fresh);
    expect(events.map((event) => [event.type, event.actor, event.data.version, event.data.name])).toEqual(upgraded.map((migration) => ['store.migrated', 'promote', migration.version, migration.name]));
    expect(await migrateStore(fresh)).toEqual([]);
    expect(await listEvents(fresh)).toHaveLength(upgraded.length);
    expect(await verifyEventChain(fresh)).toEqual({ ok: true, count: upgraded.length });
  });

  it('the chain verifies', async () => {
    expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
  });
});
