import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { appendEvent, eventHash, GENESIS_HASH, type PromoteEvent } from '../../src/store/events.js';
import { collect, runInProcess, spawnCli } from '../helpers/cli.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

/**
 * `promote audit verify` and `promote audit export` against a real store. Each tamper case starts
 * from a fresh chain of real events (appendEvent), edits promote.events directly in SQL and checks that
 * verify names the FIRST broken link with the right reason and exits 1.
 *
 * promote.events refuses UPDATE, DELETE and TRUNCATE by trigger (events_append_only, events_no_truncate).
 * The tampering here disables those triggers first, as an attacker who owns the table would: the
 * triggers stop accidents, the hash chain is what shows a deliberate edit.
 */
let cwd: string;

async function cli(url: string, ...args: string[]) {
  return runInProcess(['--database-url', url, 'audit', ...args], { cwd });
}

/** Runs statements with the append-only triggers off, like someone with rights on the table. */
async function asAttacker(pool: pg.Pool, ...statements: string[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('begin');
    await client.query('alter table promote.events disable trigger user');
    for (const statement of statements) await client.query(statement);
    await client.query('alter table promote.events enable trigger user');
    await client.query('commit');
  } catch (error) {
    await client.query('rollback');
    throw error;
  } finally {
    client.release();
  }
}

async function appendSome(pool: pg.Pool, count: number, app = 'shop'): Promise<PromoteEvent[]> {
  const events: PromoteEvent[] = [];
  for (let index = 0; index < count; index++) {
    events.push(await appendEvent(pool, { type: 'step.completed', actor: 'controller', app, environment: 'production', data: { step: index, note: `step ${index}` } }));
  }
  return events;
}

function headOf(stdout: string): string {
  const match = /head seq (\d+) hash ([0-9a-f]{64})/.exec(stdout);
  if (!match) throw new Error(`no head in: ${stdout}`);
  return `${match[1]}:${match[2]}`;
}

describe('promote audit verify', () => {
  let pool: pg.Pool;
  let url: string;

  beforeAll(async () => {
    ({ pool, url } = await createStorePool({ max: 3 }));
    cwd = await scratchFolder('promote-audit-');
  });

  /** A fresh chain of five events (seq 1..5), and the anchor an intact verify prints for it. */
  async function freshChain(): Promise<{ events: PromoteEvent[]; anchor: string }> {
    await asAttacker(pool, 'delete from promote.events');
    const events = await appendSome(pool, 5);
    const intact = await cli(url, 'verify');
    expect(intact.code, intact.stderr).toBe(0);
    expect(intact.stdout).toBe(`audit trail intact: 5 events, head seq 5 hash ${events[4]!.hash}\n`);
    return { events, anchor: headOf(intact.stdout) };
  }

  async function expectBroken(args: string[], seq: number, reason: string): Promise<void> {
    const text = await cli(url, 'verify', ...args);
    expect(text.code, text.stdout + text.stderr).toBe(1);
    expect(text.stdout.split('\n')[0]).toBe(`audit trail broken at seq ${seq}: ${reason}`);
    const json = await cli(url, 'verify', '--json', ...args);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, brokenAt: seq, reason, count: seq - 1 > 0 ? seq - 1 : 0 });
  }

  it('the triggers refuse a plain update or delete (so the tampering below has to disable them)', async () => {
    await freshChain();
    await expect(pool.query(`update promote.events set actor = 'someone' where seq = 2`)).rejects.toThrow(/append-only/);
    await expect(pool.query('delete from promote.events where seq = 5')).rejects.toThrow(/append-only/);
  });

  it('an empty trail is intact, and --json gives the head to record', async () => {
    await asAttacker(pool, 'delete from promote.events');
    const empty = await cli(url, 'verify');
    expect(empty).toMatchObject({ code: 0, stdout: 'audit trail intact: 0 events (the trail is empty)\n' });
    const events = await appendSome(pool, 2);
    const json = await cli(url, 'verify', '--json');
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual({ ok: true, count: 2, head: { seq: 2, hash: events[1]!.hash } });
  });

  it('an edited row: hash mismatch at that row', async () => {
    await freshChain();
    await asAttacker(pool, `update promote.events set data = '{"step": 2, "note": "nothing to see"}' where seq = 3`);
    await expectBroken([], 3, 'hash mismatch (row edited)');
  });

  it('a deleted middle row: sequence gap at its seq', async () => {
    await freshChain();
    await asAttacker(pool, 'delete from promote.events where seq = 3');
    await expectBroken([], 3, 'sequence gap (row deleted)');
  });

  it('two rows swapped (renumbered): the first of them links to the wrong predecessor', async () => {
    await freshChain();
    await asAttacker(pool, 'update promote.events set seq = -2 where seq = 2', 'update promote.events set seq = 2 where seq = 3', 'update promote.events set seq = 3 where seq = -2');
    await expectBroken([], 2, 'previous hash mismatch (row deleted or reordered)');
  });

  it('a row inserted below the chain: row out of sequence', async () => {
    const { events } = await freshChain();
    await asAttacker(pool, `insert into promote.events (seq, type, actor, data, created_at, prev_hash, hash) values (0, 'rollout.started', 'mallory', '{}', now(), '${GENESIS_HASH}', '${'e'.repeat(64)}')`);
    expect(events).toHaveLength(5);
    await expectBroken([], 0, 'row out of sequence (row inserted)');
  });

  it('a forged row inserted mid-chain with a correct hash of its own: the row after it links to the wrong predecessor', async () => {
    const { events } = await freshChain();
    const forged = { seq: 4, type: 'approval.recorded', actor: 'mallory', app: 'shop', environment: 'production', rolloutId: null, data: { approved: true }, createdAt: new Date().toISOString() };
    const hash = eventHash(events[2]!.hash, forged);
    await asAttacker(
      pool,
      'update promote.events set seq = seq + 100 where seq >= 4',
      'update promote.events set seq = seq - 99 where seq >= 100',
      `insert into promote.events (seq, app, environment, type, actor, data, created_at, prev_hash, hash)
       values (4, 'shop', 'production', 'approval.recorded', 'mallory', '{"approved": true}', '${forged.createdAt}', '${events[2]!.hash}', '${hash}')`,
    );
    await expectBroken([], 5, 'previous hash mismatch (row deleted or reordered)');
  });

  it('the newest rows deleted: intact on their own, caught only with the anchor printed earlier', async () => {
    const { anchor } = await freshChain();
    await asAttacker(pool, 'delete from promote.events where seq >= 4');
    const plain = await cli(url, 'verify');
    expect(plain.code).toBe(0);
    expect(plain.stdout).toMatch(/^audit trail intact: 3 events, head seq 3 /);
    await expectBroken(['--anchor', anchor], 4, 'anchor mismatch (newest rows deleted or chain rewritten)');
  });

  it('a chain rewritten with recomputed hashes: intact on its own, caught by the anchor', async () => {
    const { anchor } = await freshChain();
    await asAttacker(pool, 'delete from promote.events');
    // the attacker replays the trail with one event changed; every hash is valid again
    for (let index = 0; index < 5; index++) {
      await appendEvent(pool, { type: 'step.completed', actor: index === 2 ? 'mallory' : 'controller', app: 'shop', environment: 'production', data: { step: index, note: `step ${index}` } });
    }
    expect((await cli(url, 'verify')).code).toBe(0);
    await expectBroken(['--anchor', anchor], 5, 'anchor mismatch (newest rows deleted or chain rewritten)');
    // the anchor of an intact chain passes, and later appends do not disturb it
    const current = headOf((await cli(url, 'verify')).stdout);
    await appendSome(pool, 1);
    expect((await cli(url, 'verify', '--anchor', current)).code).toBe(0);
  });

  it('a malformed anchor is a usage error, said before the store is read', async () => {
    for (const bad of ['5', '0:' + 'a'.repeat(64), '5:abc', `x:${'a'.repeat(64)}`]) {
      const result = await cli(url, 'verify', '--anchor', bad);
      expect(result.code, bad).toBe(2);
      expect(result.stderr).toMatch(/--anchor takes <seq>:<hash>/);
    }
  });
});

describe('promote audit export', () => {
  let pool: pg.Pool;
  let url: string;
  let early: PromoteEvent[];
  let late: PromoteEvent[];
  let between: Date;

  beforeAll(async () => {
    ({ pool, url } = await createStorePool({ max: 3 }));
    cwd = await scratchFolder('promote-audit-');
    // more than one export page (500) before the cut, with two apps interleaved
    early = [];
    for (let index = 0; index < 620; index++) {
      early.push(await appendEvent(pool, { type: 'flag.changed', actor: 'api:ci', app: index % 3 === 0 ? 'billing' : 'shop', data: { flag: `f${index}`, on: index % 2 === 0 } }));
    }
    // the cut must fall strictly between two createdAt values (millisecond precision)
    await sleep(5);
    between = new Date();
    await sleep(5);
    late = await appendSome(pool, 4, 'billing');
  }, 120_000);

  function parseLines(text: string): Array<Record<string, unknown>> {
    expect(text.endsWith('\n')).toBe(true);
    return text.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
  }

  it('writes every event as one JSON line, oldest first, whose hashes a reader can recompute', async () => {
    const out = join(cwd, 'audit.jsonl');
    const result = await cli(url, 'export', '--out', out);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toBe('');
    expect(result.stderr).toBe(`wrote 624 event(s) to ${out}\n`);
    await expect(stat(`${out}.partial`)).rejects.toThrow(/ENOENT/);
    const lines = parseLines(await readFile(out, 'utf8'));
    expect(lines.map((line) => line.seq)).toEqual([...early, ...late].map((event) => event.seq));
    expect(Object.keys(lines[0]!)).toEqual(['seq', 'type', 'actor', 'app', 'environment', 'rolloutId', 'data', 'createdAt', 'prevHash', 'hash']);
    // the export alone proves the chain: each line hashes to its hash and links to the line before
    let previous = GENESIS_HASH;
    for (const line of lines) {
      expect(line.prevHash).toBe(previous);
      expect(eventHash(line.prevHash as string, line as unknown as Parameters<typeof eventHash>[1])).toBe(line.hash);
      previous = line.hash as string;
    }
  });

  it('--since, --until and --app filter; "-" and no --out write to stdout', async () => {
    const since = await cli(url, 'export', '--since', between.toISOString(), '--out', '-');
    expect(since.code, since.stderr).toBe(0);
    expect(parseLines(since.stdout).map((line) => line.seq)).toEqual(late.map((event) => event.seq));

    const until = await cli(url, 'export', '--until', between.toISOString(), '--app', 'billing');
    expect(until.code, until.stderr).toBe(0);
    const billingEarly = early.filter((event) => event.app === 'billing');
    expect(billingEarly.length).toBeGreaterThan(200);
    expect(parseLines(until.stdout).map((line) => line.seq)).toEqual(billingEarly.map((event) => event.seq));

    const recent = await cli(url, 'export', '--since', '1h', '--app', 'shop');
    expect(parseLines(recent.stdout)).toHaveLength(early.filter((event) => event.app === 'shop').length);

    const none = await cli(url, 'export', '--app', 'nobody');
    expect(none).toMatchObject({ code: 0, stdout: '' });
  });

  it('the built CLI, as a real process, streams the whole export to a pipe and verifies the chain', async () => {
    const env = { DATABASE_URL: url };
    const exported = await collect(spawnCli(['audit', 'export'], { cwd, env }));
    expect(exported.code, exported.stderr).toBe(0);
    const lines = parseLines(exported.stdout);
    expect(lines).toHaveLength(early.length + late.length);
    expect(lines.at(-1)).toMatchObject({ seq: late.at(-1)!.seq, hash: late.at(-1)!.hash, createdAt: late.at(-1)!.createdAt.toISOString() });
    const verified = await collect(spawnCli(['audit', 'verify'], { cwd, env }));
    expect(verified).toMatchObject({ code: 0, stdout: `audit trail intact: 624 events, head seq 624 hash ${late.at(-1)!.hash}\n` });
  });

  it('an export that cannot be written fails naming the file, and leaves no partial file', async () => {
    const out = join(cwd, 'missing-folder', 'audit.jsonl');
    const result = await cli(url, 'export', '--out', out);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`error: exporting the audit trail to ${out}: `);
    expect(result.stderr).toMatch(/ENOENT/);
    await expect(stat(`${out}.partial`)).rejects.toThrow(/ENOENT/);
  });

  it('a bad period is a usage error', async () => {
    const result = await cli(url, 'export', '--since', 'yesterday');
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/--since takes a duration back from --until or a date/);
  });
});
