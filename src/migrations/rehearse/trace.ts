/**
 * Records which locks each step of a migration takes, and for how long, while the real runner runs
 * it on a scratch copy. A step in a transaction is read from the inside: just before its commit it
 * still holds every lock it took, and pg_locks of its own backend lists them. A step outside a
 * transaction (CREATE INDEX CONCURRENTLY) cannot be stopped before it ends, so a second connection
 * samples pg_locks of the migrator's backends while it runs.
 */
import pg from 'pg';
import type { Step } from '../ops/types.js';
import { STATE_SCHEMA } from '../names.js';
import type { StepEvents } from '../steps.js';

export type Blocks = 'nothing' | 'writes' | 'reads and writes';

export interface HeldLock {
  /** schema-qualified */
  relation: string;
  kind: string;
  /** as PostgreSQL's documentation names it: ACCESS EXCLUSIVE, SHARE UPDATE EXCLUSIVE, ... */
  mode: string;
  /** made by this very statement: no app query can see it yet, so its locks block nobody */
  created: boolean;
}

export interface StatementTrace {
  phase: string;
  sql: string;
  /** the table whose switch (complete-schedule.ts) the statement is: several statements in one transaction */
  switchOf?: string;
  outsideTransaction: boolean;
  locks: HeldLock[];
  /** from the start of the step's transaction to the end of its statement (the commit follows at once); a whole statement outside a transaction */
  heldMs: number;
  /** false when the step ran outside a transaction too briefly for any sample to catch its locks */
  sampled: boolean;
  blocks: Blocks;
}

/** Weakest first, as in PostgreSQL's conflict table. */
export const LOCK_MODES = ['ACCESS SHARE', 'ROW SHARE', 'ROW EXCLUSIVE', 'SHARE UPDATE EXCLUSIVE', 'SHARE', 'SHARE ROW EXCLUSIVE', 'EXCLUSIVE', 'ACCESS EXCLUSIVE'] as const;

/** An app's reads take ACCESS SHARE, its writes ROW EXCLUSIVE: what conflicts with each. */
export function blockedBy(mode: string): Blocks {
  if (mode === 'ACCESS EXCLUSIVE') return 'reads and writes';
  if (mode === 'SHARE' || mode === 'SHARE ROW EXCLUSIVE' || mode === 'EXCLUSIVE') return 'writes';
  return 'nothing';
}

const KINDS: Record<string, string> = { r: 'table', p: 'table', i: 'index', I: 'index', v: 'view', m: 'materialized view', S: 'sequence', f: 'foreign table', c: 'type' };

interface LockRow {
  oid: string;
  mode: string;
  name: string | null;
  schema: string | null;
  kind: string | null;
}

interface Relation {
  name: string;
  schema: string;
  kind: string;
}

const LOCKS = `select l.relation::text as oid, l.mode, c.relname as name, n.nspname as schema, c.relkind::text as kind
  from pg_locks l
  left join pg_class c on c.oid = l.relation
  left join pg_namespace n on n.oid = c.relnamespace
 where l.locktype = 'relation' and l.granted and l.database = (select oid from pg_database where datname = current_database())`;

/** names come later, from the relations the tracer knows (learnt again once the statement ends) */
const SAMPLE = `select relation::text as oid, mode, null as name, null as schema, null as kind from pg_locks
 where locktype = 'relation' and granted and pid in (select pid from pg_stat_activity where application_name = $1 and state = 'active')`;

const RELATIONS = `select c.oid::text as oid, c.relname as name, n.nspname as schema, c.relkind::text as kind
  from pg_class c join pg_namespace n on n.oid = c.relnamespace
 where n.nspname not in ('pg_catalog', 'information_schema') and n.nspname not like 'pg\\_%'`;

interface Sampling {
  step: Step;
  locks: Map<string, LockRow>;
  samples: number;
  endedAt?: number;
  done: Promise<void>;
}

export class LockTracer {
  readonly statements: StatementTrace[] = [];
  phase = 'start';
  /** every relation seen so far, by oid: names a relation a step dropped, tells a new one from an old one */
  private readonly known = new Map<string, Relation>();
  private readonly pending = new Map<Step, { heldMs: number; locks: HeldLock[] }>();
  private readonly samplings: Promise<void>[] = [];
  private sampling: Sampling | undefined;
  private sampler: pg.Client | undefined;
  /** set to ignore the steps of a phase (the start that only sets up a rollback) */
  muted = false;

  constructor(
    private readonly url: string,
    /** the application_name of the migrator's connections */
    private readonly migratorApplication: string,
  ) {}

  async open(): Promise<void> {
    this.sampler = new pg.Client({ connectionString: this.url, application_name: 'promote-rehearse-sampler' });
    this.sampler.on('error', () => undefined);
    await this.sampler.connect();
    await this.learnRelations(this.sampler);
  }

  async close(): Promise<void> {
    await this.flush();
    await this.sampler?.end().catch(() => undefined);
  }

  /** Waits for the samples of steps that ran outside a transaction. */
  async flush(): Promise<void> {
    await Promise.all(this.samplings.splice(0));
    if (this.sampler !== undefined) await this.learnRelations(this.sampler);
  }

  readonly events: StepEvents = {
    beforeStep: (step) => {
      if (step.outsideTransaction === true && !this.muted) this.startSampling(step);
    },
    beforeCommit: async (client, step) => {
      if (this.muted) return;
      const elapsed = await client.query<{ ms: number }>('select extract(epoch from clock_timestamp() - now())::float8 * 1000 as ms');
      // what a statement outside a transaction just made must be known before this one's locks are judged
      await Promise.all(this.samplings);
      const locks = await client.query<LockRow>(`${LOCKS} and l.pid = pg_backend_pid()`);
      this.pending.set(step, { heldMs: Number(elapsed.rows[0]?.ms ?? 0), locks: this.resolve(locks.rows) });
      // relations this step made are old ones for the next step
      await this.learnRelations(client);
    },
    onStep: (step, elapsedMs) => {
      if (this.muted) return;
      if (step.outsideTransaction === true) return this.endSampling(step, elapsedMs);
      const held = this.pending.get(step) ?? { heldMs: elapsedMs, locks: [] };
      this.pending.delete(step);
      this.statements.push({
        phase: this.phase,
        sql: step.sql,
        ...(step.switchOf === undefined ? {} : { switchOf: step.switchOf }),
        outsideTransaction: false,
        locks: held.locks,
        heldMs: held.heldMs,
        sampled: true,
        blocks: strongestBlock(held.locks),
      });
    },
  };

  private startSampling(step: Step): void {
    const sampler = this.sampler;
    if (sampler === undefined) return;
    const sampling: Sampling = { step, locks: new Map(), samples: 0, done: Promise.resolve() };
    sampling.done = (async () => {
      // back to back while the statement runs: the first sample lands within a round trip of its start
      while (sampling.endedAt === undefined) {
        const sentAt = performance.now();
        // no joins and a prepared plan: the shorter a sample takes, the briefer a statement it can catch
        const result = await sampler.query<LockRow>({ name: 'promote-rehearse-sample', text: SAMPLE, values: [this.migratorApplication] });
        // a sample sent after the statement ended may show the next statement's locks
        if (sampling.endedAt !== undefined && sentAt > sampling.endedAt) break;
        sampling.samples += 1;
        for (const row of result.rows) sampling.locks.set(`${row.oid}:${row.mode}`, row);
      }
      await this.learnRelations(sampler);
    })();
    this.sampling = sampling;
  }

  private endSampling(step: Step, elapsedMs: number): void {
    const sampling = this.sampling;
    if (sampling === undefined || sampling.step !== step) return;
    sampling.endedAt = performance.now();
    this.sampling = undefined;
    const trace: StatementTrace = { phase: this.phase, sql: step.sql, outsideTransaction: true, locks: [], heldMs: elapsedMs, sampled: false, blocks: 'nothing' };
    this.statements.push(trace);
    // relations the statement created are unknown until the next snapshot, which is what `created` needs
    const known = new Set(this.known.keys());
    this.samplings.push(
      sampling.done.then(() => {
        trace.locks = this.resolve([...sampling.locks.values()], known);
        trace.sampled = trace.locks.length > 0;
        trace.blocks = strongestBlock(trace.locks);
      }),
    );
  }

  private resolve(rows: LockRow[], known: ReadonlySet<string> = new Set(this.known.keys())): HeldLock[] {
    const locks: HeldLock[] = [];
    for (const row of rows) {
      const relation = row.name !== null && row.schema !== null && row.kind !== null ? { name: row.name, schema: row.schema, kind: row.kind } : this.known.get(row.oid);
      // a relation made and dropped within the statement, or one of PostgreSQL's own
      if (relation === undefined || isSystemSchema(relation.schema) || relation.schema === STATE_SCHEMA) continue;
      locks.push({ relation: `${relation.schema}.${relation.name}`, kind: KINDS[relation.kind] ?? relation.kind, mode: modeName(row.mode), created: !known.has(row.oid) });
    }
    return locks.sort((a, b) => a.relation.localeCompare(b.relation) || LOCK_MODES.indexOf(b.mode as never) - LOCK_MODES.indexOf(a.mode as never));
  }

  private async learnRelations(db: pg.ClientBase): Promise<void> {
    const relations = await db.query<Relation & { oid: string }>(RELATIONS);
    for (const { oid, ...relation } of relations.rows) this.known.set(oid, relation);
  }
}

function isSystemSchema(schema: string): boolean {
  return schema === 'pg_catalog' || schema === 'information_schema' || schema.startsWith('pg_');
}

/** `AccessExclusiveLock` → `ACCESS EXCLUSIVE` */
export function modeName(mode: string): string {
  return mode
    .replace(/Lock$/, '')
    .replace(/([a-z])([A-Z])/g, '$1 $2')
    .toUpperCase();
}

export function strongestBlock(locks: readonly HeldLock[]): Blocks {
  const blocks = locks.filter((lock) => !lock.created).map((lock) => blockedBy(lock.mode));
  if (blocks.includes('reads and writes')) return 'reads and writes';
  return blocks.includes('writes') ? 'writes' : 'nothing';
}
