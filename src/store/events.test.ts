import { createHash } from 'node:crypto';
import pg from 'pg';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { upsertApp } from './apps.js';
import { canonicalJson } from './canonical-json.js';
import { syncEnvironments } from './environments.js';
import { appendEvent, eventHash, GENESIS_HASH, listEvents, verifyEventChain } from './events.js';
import { withTransaction } from './queryable.js';
import { createRelease } from './releases.js';
import { createRollout, updateRolloutState } from './rollouts.js';

describe('events: the audit trail', () => {
  let pool: pg.Pool;
  let url: string;
  let rolloutId: number;
  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
  });

  /** Tampering goes around the append-only triggers, as a superuser could (the test user is one). */
  async function tamper(sql: string, values: unknown[] = []): Promise<void> {
    const client = await pool.connect();
    try {
      await client.query('begin');
      await client.query('alter table promote.events disable trigger events_append_only');
      await client.query(sql, values);
      await client.query('alter table promote.events enable trigger events_append_only');
      await client.query('commit');
    } catch (error) {
      await client.query('rollback');
      throw error;
    } finally {
      client.release();
    }
  }

  it('an empty trail verifies', async () => {
    expect(await verifyEventChain(pool)).toEqual({ ok: true, count: 0 });
  });

  it('the first event links to 64 zeros and hashes its canonical content as specified', async () => {
    const event = await appendEvent(pool, { type: 'app.recorded', actor: 'alice', app: 'shop', data: { z: 1, a: { y: [1, 'two', null], b: true } } });
    expect(event).toMatchObject({ seq: 1, type: 'app.recorded', actor: 'alice', app: 'shop', environment: null, rolloutId: null, prevHash: GENESIS_HASH });
    expect(event.data).toEqual({ z: 1, a: { y: [1, 'two', null], b: true } });
    const createdAt = event.createdAt.toISOString();
    expect(createdAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    // computed independently of eventHash, from the formula
    const content = canonicalJson({ seq: 1, type: 'app.recorded', actor: 'alice', app: 'shop', environment: null, rolloutId: null, data: event.data, createdAt });
    expect(content).toBe(`{"actor":"alice","app":"shop","createdAt":"${createdAt}","data":{"a":{"b":true,"y":[1,"two",null]},"z":1},"environment":null,"rolloutId":null,"seq":1,"type":"app.recorded"}`);
    expect(event.hash).toBe(createHash('sha256').update(`${GENESIS_HASH}\n${content}`).digest('hex'));
    // the stored timestamp reads back as the very string that was hashed
    const row = await pool.query<{ created_at: Date }>('select created_at from promote.events where seq = 1');
    expect(new Date(row.rows[0]!.created_at).toISOString()).toBe(createdAt);
  });

  it('each event links to the previous one', async () => {
    const [first] = await listEvents(pool);
    const second = await appendEvent(pool, { type: 'release.created', actor: 'ci', app: 'shop', data: { version: '1.0.0' } });
    expect(second.seq).toBe(2);
    expect(second.prevHash).toBe(first!.hash);
    expect(second.hash).toBe(eventHash(first!.hash, { ...second, createdAt: second.createdAt.toISOString() }));
  });

  it('data survives jsonb unchanged for hashing: number forms, unicode, key order, odd keys', async () => {
    const data = JSON.parse(
      '{"z":{"b":1,"a":2},"small":1e-7,"big":1152921504606846976,"neg":-0.5,"exp":1.5e300,"text":"é 😀 \\u2028 \\"q\\" \\n","__proto__":{"x":1},"10":1,"9":2,"":null,"list":[{"d":1,"c":[]}]}',
    ) as Record<string, unknown>;
    const event = await appendEvent(pool, { type: 'data.shapes', actor: 'test', data });
    expect(canonicalJson(event.data)).toBe(canonicalJson(data));
    const [stored] = await listEvents(pool, { afterSeq: event.seq - 1, limit: 1 });
    expect(eventHash(stored!.prevHash, { ...stored!, createdAt: stored!.createdAt.toISOString() })).toBe(stored!.hash);
  });

  it('validates before appending', async () => {
    await expect(appendEvent(pool, { type: 'Rollout Started', actor: 'x' })).rejects.toThrow('event type "Rollout Started" is not valid');
    await expect(appendEvent(pool, { type: 'a.b', actor: '' })).rejects.toThrow('event a.b needs an actor');
    await expect(appendEvent(pool, { type: 'a.b', actor: 'x', data: { bad: Number.POSITIVE_INFINITY } })).rejects.toThrow('$.bad Infinity is not a finite number');
    await expect(appendEvent(pool, { type: 'a.b', actor: 'x', rolloutId: 777 })).rejects.toThrow(/^recording event a\.b in the audit trail: .*foreign key/);
    // nothing was appended, no seq consumed
    expect((await listEvents(pool)).map((event) => event.seq)).toEqual([1, 2, 3]);
  });

  it('200 concurrent appends from 10 connections form one chain: seq 1..n without gaps', async () => {
    const before = (await listEvents(pool)).length;
    await Promise.all(Array.from({ length: 200 }, (_, i) => appendEvent(pool, { type: 'load.test', actor: `worker-${i % 10}`, data: { i } })));
    const events = await listEvents(pool, { limit: 10_000 });
    expect(events).toHaveLength(before + 200);
    expect(events.map((event) => event.seq)).toEqual(Array.from({ length: before + 200 }, (_, i) => i + 1));
    expect(new Set(events.filter((event) => event.type === 'load.test').map((event) => event.data.i))).toHaveProperty('size', 200);
    expect(await verifyEventChain(pool)).toEqual({ ok: true, count: before + 200 });
  });

  it('appends from separate pools (as from separate processes) also stay one chain', async () => {
    const pools = Array.from({ length: 4 }, () => new pg.Pool({ connectionString: url, max: 3 }));
    try {
      await Promise.all(pools.flatMap((each, p) => Array.from({ length: 15 }, (_, i) => appendEvent(each, { type: 'load.test', actor: `process-${p}`, data: { i } }))));
    } finally {
      await Promise.all(pools.map((each) => each.end()));
    }
    const result = await verifyEventChain(pool);
    expect(result.ok).toBe(true);
  });

  describe('inside a caller transaction', () => {
    it('commits with the caller: the state change and its event are seen together', async () => {
      await upsertApp(pool, { name: 'shop' });
      await syncEnvironments(pool, 'shop', ['staging']);
      const { release } = await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'c'.repeat(64)}`, migrationChecksums: {} });
      const rollout = await createRollout(pool, { app: 'shop', environment: 'staging', releaseId: release.id, strategy: {} });
      rolloutId = rollout.id;
      const event = await withTransaction(pool, async (tx) => {
        await updateRolloutState(tx, rollout.id, { phase: 'Progressing' });
        const appended = await appendEvent(tx, { type: 'rollout.progressing', actor: 'controller', app: 'shop', environment: 'staging', rolloutId: rollout.id });
        // not visible outside the transaction yet
        expect((await listEvents(pool, { rolloutId: rollout.id })).length).toBe(0);
        return appended;
      });
      expect(await listEvents(pool, { rolloutId: rollout.id })).toEqual([event]);
    });

    it('rolls back with the caller: no event, no seq consumed, chain intact', async () => {
      const last = (await listEvents(pool, { limit: 10_000 })).at(-1)!;
      const client = await pool.connect();
      try {
        await client.query('begin');
        const appended = await appendEvent(client, { type: 'rollout.paused', actor: 'bob', rolloutId });
        expect(appended.seq).toBe(last.seq + 1);
        await client.query('rollback');
      } finally {
        client.release();
      }
      const next = await appendEvent(pool, { type: 'rollout.paused', actor: 'bob', rolloutId });
      expect(next.seq).toBe(last.seq + 1);
      expect(next.prevHash).toBe(last.hash);
      expect((await verifyEventChain(pool)).ok).toBe(true);
    });

    it('a client outside a transaction gets a transaction of its own', async () => {
      const client = await pool.connect();
      try {
        const appended = await appendEvent(client, { type: 'note', actor: 'carol' });
        expect(client.getTransactionStatus()).toBe('I');
        expect((await listEvents(pool, { afterSeq: appended.seq - 1 }))[0]).toEqual(appended);
      } finally {
        client.release();
      }
    });

    it('refuses a REPEATABLE READ caller transaction, whose snapshot could hide the newest event', async () => {
      const client = await pool.connect();
      try {
        await client.query('begin isolation level repeatable read');
        await expect(appendEvent(client, { type: 'note', actor: 'carol' })).rejects.toThrow('this needs a READ COMMITTED transaction');
        await client.query('rollback');
      } finally {
        client.release();
      }
    });
  });

  it('lists events by rollout, app, after a seq, with a limit, in seq order', async () => {
    const byRollout = await listEvents(pool, { rolloutId });
    expect(byRollout.map((event) => event.type)).toEqual(['rollout.progressing', 'rollout.paused']);
    const byApp = await listEvents(pool, { app: 'shop' });
    expect(byApp.every((event) => event.app === 'shop')).toBe(true);
    expect(byApp.map((event) => event.type).slice(0, 2)).toEqual(['app.recorded', 'release.created']);
    const page = await listEvents(pool, { afterSeq: 10, limit: 5 });
    expect(page.map((event) => event.seq)).toEqual([11, 12, 13, 14, 15]);
  });

  describe('the database refuses changes to the trail', () => {
    it('UPDATE is refused', async () => {
      await expect(pool.query(`update promote.events set actor = 'mallory' where seq = 1`)).rejects.toThrow('promote.events is append-only: UPDATE is not allowed');
    });
    it('DELETE is refused', async () => {
      await expect(pool.query('delete from promote.events where seq = 1')).rejects.toThrow('promote.events is append-only: DELETE is not allowed');
    });
    it('TRUNCATE is refused', async () => {
      await expect(pool.query('truncate promote.events')).rejects.toThrow('promote.events is append-only: TRUNCATE is not allowed');
      await expect(pool.query('truncate promote.events cascade')).rejects.toThrow('append-only');
      // nor through a table it refers to
      await expect(pool.query('truncate promote.rollouts cascade')).rejects.toThrow('promote.events is append-only: TRUNCATE is not allowed');
    });
    it('and the trail is as it was', async () => {
      const result = await verifyEventChain(pool);
      expect(result.ok).toBe(true);
      expect((await listEvents(pool, { limit: 1 }))[0]!.actor).toBe('alice');
    });
  });

  describe('verification finds the first broken link', () => {
    // each test tampers, checks, and then restores the rows it touched, so the next starts from a good chain
    afterEach(async () => {
      expect((await verifyEventChain(pool)).ok).toBe(true);
      const trigger = await pool.query<{ tgenabled: string }>(`select tgenabled from pg_trigger where tgname = 'events_append_only'`);
      expect(trigger.rows[0]!.tgenabled).toBe('O');
    });

    it('an edited row: hash mismatch at exactly that seq', async () => {
      const original = await pool.query<{ data: unknown }>('select data from promote.events where seq = 57');
      await tamper(`update promote.events set data = jsonb_set(data, '{i}', '999') where seq = 57`);
      const result = await verifyEventChain(pool);
      expect(result).toMatchObject({ ok: false, brokenAt: 57, count: 56, reason: 'hash mismatch (row edited)' });
      await tamper('update promote.events set data = $1::jsonb where seq = 57', [JSON.stringify(original.rows[0]!.data)]);
    });

    it('an edited timestamp or actor: hash mismatch too', async () => {
      await tamper(`update promote.events set created_at = created_at + interval '1 second' where seq = 3`);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 3, reason: 'hash mismatch (row edited)' });
      await tamper(`update promote.events set created_at = created_at - interval '1 second' where seq = 3`);
      await tamper(`update promote.events set actor = 'mallory' where seq = 150`);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 150, reason: 'hash mismatch (row edited)' });
      await tamper(`update promote.events set actor = (select 'worker-' || ((data->>'i')::int % 10)) where seq = 150`);
    });

    it('a deleted row: sequence gap at its seq', async () => {
      const removed = await pool.query('select * from promote.events where seq = 120');
      await tamper('delete from promote.events where seq = 120');
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 120, count: 119, reason: 'sequence gap (row deleted)' });
      await pool.query('insert into promote.events select * from json_populate_record(null::promote.events, $1::json)', [JSON.stringify(removed.rows[0])]);
    });

    it('a deleted row with the rest renumbered: previous hash mismatch at its seq', async () => {
      const rows = await pool.query('select * from promote.events where seq >= 200 order by seq');
      await tamper('delete from promote.events where seq = 200');
      // seq is a primary key checked row by row: go through negative values to shift the rest down
      await tamper('update promote.events set seq = -(seq - 1) where seq > 200');
      await tamper('update promote.events set seq = -seq where seq < 0');
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 200, reason: 'previous hash mismatch (row deleted or reordered)' });
      await tamper('delete from promote.events where seq >= 200');
      for (const row of rows.rows) {
        await pool.query('insert into promote.events select * from json_populate_record(null::promote.events, $1::json)', [JSON.stringify(row)]);
      }
    });

    it('two rows with their seq swapped: previous hash mismatch at the first of them', async () => {
      await tamper('update promote.events set seq = -seq where seq in (90, 91)');
      await tamper('update promote.events set seq = 91 where seq = -90');
      await tamper('update promote.events set seq = 90 where seq = -91');
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 90, count: 89, reason: 'previous hash mismatch (row deleted or reordered)' });
      await tamper('update promote.events set seq = -seq where seq in (90, 91)');
      await tamper('update promote.events set seq = 91 where seq = -90');
      await tamper('update promote.events set seq = 90 where seq = -91');
    });

    it('a break beyond the first page of the scan is found at the right seq', async () => {
      // push the trail past one verification page (1000 rows)
      for (let i = 0; i < 9; i++) {
        await Promise.all(Array.from({ length: 100 }, (_, j) => appendEvent(pool, { type: 'load.test', actor: 'filler', data: { i: 1000 + i * 100 + j } })));
      }
      const count = (await listEvents(pool, { limit: 10_000 })).length;
      expect(count).toBeGreaterThan(1000);
      expect(await verifyEventChain(pool)).toEqual({ ok: true, count });
      await tamper(`update promote.events set type = 'load.edited' where seq = 1001`);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 1001, count: 1000, reason: 'hash mismatch (row edited)' });
      await tamper(`update promote.events set type = 'load.test' where seq = 1001`);
    });

    it('a row slipped in below seq 1 is reported', async () => {
      const first = await pool.query('select * from promote.events where seq = 1');
      const forged = { ...(first.rows[0] as Record<string, unknown>), seq: 0, hash: 'f'.repeat(64) };
      await pool.query('insert into promote.events select * from json_populate_record(null::promote.events, $1::json)', [JSON.stringify(forged)]);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: false, brokenAt: 0, reason: 'row out of sequence (row inserted)' });
      await tamper('delete from promote.events where seq = 0');
    });

    it('deleted newest rows are found against an anchor', async () => {
      const last = (await listEvents(pool, { limit: 10_000 })).at(-1)!;
      const anchor = { seq: last.seq, hash: last.hash };
      expect(await verifyEventChain(pool, { anchor })).toEqual({ ok: true, count: last.seq });
      const removed = await pool.query('select * from promote.events where seq = $1', [last.seq]);
      await tamper('delete from promote.events where seq = $1', [last.seq]);
      // without the anchor a shortened chain looks whole; with it, it does not
      expect((await verifyEventChain(pool)).ok).toBe(true);
      expect(await verifyEventChain(pool, { anchor })).toMatchObject({ ok: false, brokenAt: last.seq, reason: 'anchor mismatch (newest rows deleted or chain rewritten)' });
      await pool.query('insert into promote.events select * from json_populate_record(null::promote.events, $1::json)', [JSON.stringify(removed.rows[0])]);
      expect(await verifyEventChain(pool, { anchor: { seq: last.seq, hash: 'e'.repeat(64) } })).toMatchObject({ ok: false, brokenAt: last.seq });
    });
  });
});
