import { createHash } from 'node:crypto';
import { PromoteError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { checkId, checkLimit, query, rethrow, toDate, toId, toNullableId, withTransaction, type Queryable, type TransactionClient } from './queryable.js';

/**
 * The audit trail: every decision Promote takes, append-only, in one hash chain over all events.
 *
 *   hash = sha256_hex(prevHash + '\n' + canonicalJson({ seq, type, actor, app, environment, rolloutId, data, createdAt }))
 *
 * with `prevHash` the previous event's hash (64 zeros for seq 1) and `createdAt` an ISO string with
 * milliseconds. An edited, deleted or reordered row breaks the chain from that row on, which
 * {@link verifyEventChain} reports. The chain proves integrity against accidents and naive edits; it is
 * not a signature (anyone who can write the table can also recompute every hash), and a deletion of the
 * newest rows is only visible against a head recorded elsewhere (see `anchor` in verifyEventChain).
 */
export interface PromoteEvent {
  seq: number;
  type: string;
  actor: string;
  app: string | null;
  environment: string | null;
  rolloutId: number | null;
  data: Record<string, unknown>;
  createdAt: Date;
  prevHash: string;
  hash: string;
}

export interface EventInput {
  /** lowercase, dotted: `rollout.started`, `step.completed`, `approval.recorded` */
  type: string;
  /** who or what caused it: a user name, `controller`, `api:<token name>` */
  actor: string;
  app?: string | null;
  environment?: string | null;
  rolloutId?: number | null;
  /** the evidence: any JSON object */
  data?: Record<string, unknown>;
}

export type ChainVerification =
  | { ok: true; count: number }
  | {
      ok: false;
      /** events checked and found intact before the break */
      count: number;
      /** the seq of the first broken link */
      brokenAt: number;
      reason:
        | 'hash mismatch (row edited)'
        | 'previous hash mismatch (row deleted or reordered)'
        | 'sequence gap (row deleted)'
        | 'row out of sequence (row inserted)'
        | 'anchor mismatch (newest rows deleted or chain rewritten)';
      detail: string;
    };

interface EventRow {
  seq: string | number;
  type: string;
  actor: string;
  app: string | null;
  environment: string | null;
  rollout_id: string | number | null;
  data: Record<string, unknown>;
  created_at: Date | string;
  prev_hash: string;
  hash: string;
}

export const GENESIS_HASH = '0'.repeat(64);
const COLUMNS = 'seq, type, actor, app, environment, rollout_id, data, created_at, prev_hash, hash';
/** Any constant works as long as every Promote process uses the same one: "promevnt". */
const EVENTS_LOCK_KEY = 0x70726f6d65766e74n.toString();
const TYPE_PATTERN = /^[a-z][a-z0-9_.-]*$/;
const DEFAULT_LIST_LIMIT = 1000;
const VERIFY_PAGE_SIZE = 1000;

function toEvent(row: EventRow): PromoteEvent {
  return {
    seq: toId(row.seq),
    type: row.type,
    actor: row.actor,
    app: row.app,
    environment: row.environment,
    rolloutId: toNullableId(row.rollout_id),
    data: row.data,
    createdAt: toDate(row.created_at),
    prevHash: row.prev_hash,
    hash: row.hash,
  };
}

/** The hash of one event given the previous one's; the single definition used to append and to verify. */
export function eventHash(
  prevHash: string,
  content: { seq: number; type: string; actor: string; app: string | null; environment: string | null; rolloutId: number | null; data: unknown; createdAt: string },
): string {
  const text = canonicalJson({
    seq: content.seq,
    type: content.type,
    actor: content.actor,
    app: content.app,
    environment: content.environment,
    rolloutId: content.rolloutId,
    data: content.data,
    createdAt: content.createdAt,
  });
  return createHash('sha256').update(`${prevHash}\n${text}`).digest('hex');
}

function checkEventInput(input: EventInput): void {
  if (typeof input.type !== 'string' || !TYPE_PATTERN.test(input.type)) {
    throw new PromoteError(`event type ${JSON.stringify(input.type)} is not valid: use lowercase letters, digits, "_", "." and "-", starting with a letter`);
  }
  if (typeof input.actor !== 'string' || input.actor.length === 0) {
    throw new PromoteError(`event ${input.type} needs an actor (who or what caused it)`);
  }
  if (input.rolloutId !== undefined && input.rolloutId !== null) checkId('rollout', input.rolloutId);
  const data: unknown = input.data;
  if (data !== undefined && (data === null || typeof data !== 'object' || Array.isArray(data))) {
    throw new PromoteError(`the data of event ${input.type} must be a JSON object`);
  }
  for (const [field, value] of [['actor', input.actor], ['app', input.app], ['environment', input.environment]] as const) {
    if (typeof value === 'string' && value.includes('\u0000')) throw new PromoteError(`the ${field} of event ${input.type} contains a NUL character, which PostgreSQL cannot store`);
  }
}

/**
 * Appends one event to the audit trail and returns it as stored.
 *
 * Appends are serialised by a transaction-scoped advisory lock, so any number of connections and
 * processes appending at once still form one unbroken chain (seq 1, 2, 3, … each linked to the last).
 *
 * - Given a pool, or a client outside a transaction, the event is committed in a transaction of its own.
 * - Given a client inside a transaction, the event joins that transaction: it commits with the caller's
 *   state change or not at all (so a state change and its event are never seen apart). The lock is then
 *   held until the caller commits or rolls back, blocking every other append meanwhile: keep such
 *   transactions short. The caller's transaction must be READ COMMITTED (PostgreSQL's default), so that
 *   the newest event is visible once the lock is taken.
 */
export async function appendEvent(db: Queryable, input: EventInput): Promise<PromoteEvent> {
  checkEventInput(input);
  const data = input.data ?? {};
  // encode once up front: a value that is not JSON fails here, before any lock is taken
  const dataJson = canonicalJson(data);
  const doing = `recording event ${input.type} in the audit trail`;
  try {
    return await withTransaction(db, (tx) => appendLocked(tx, input, JSON.parse(dataJson) as Record<string, unknown>, dataJson, doing), { isolation: 'read committed' });
  } catch (error) {
    rethrow(doing, error);
  }
}

async function appendLocked(tx: TransactionClient, input: EventInput, data: Record<string, unknown>, dataJson: string, doing: string): Promise<PromoteEvent> {
  await query(tx, doing, 'select pg_advisory_xact_lock($1::bigint)', [EVENTS_LOCK_KEY]);
  // read after the lock: under READ COMMITTED this statement sees the previous holder's committed row
  const last = await query<{ seq: string; hash: string }>(tx, doing, 'select seq, hash from promote.events order by seq desc limit 1');
  const previous = last.rows[0];
  const seq = previous ? toId(previous.seq) + 1 : 1;
  const prevHash = previous ? previous.hash : GENESIS_HASH;
  const createdAt = new Date().toISOString();
  const content = {
    seq,
    type: input.type,
    actor: input.actor,
    app: input.app ?? null,
    environment: input.environment ?? null,
    rolloutId: input.rolloutId ?? null,
    data,
    createdAt,
  };
  const hash = eventHash(prevHash, content);
  const result = await query<EventRow>(
    tx,
    doing,
    `insert into promote.events (seq, app, environment, rollout_id, type, actor, data, created_at, prev_hash, hash)
     values ($1, $2, $3, $4, $5, $6, $7::jsonb, $8::timestamptz, $9, $10)
     returning ${COLUMNS}`,
    [seq, content.app, content.environment, content.rolloutId, content.type, content.actor, dataJson, createdAt, prevHash, hash],
  );
  const stored = toEvent(result.rows[0]!);
  // what verification will recompute must match what was hashed; anything jsonb or timestamptz would
  // change (they should change nothing) is caught here, inside the transaction, not at the next audit
  if (eventHash(stored.prevHash, { ...contentOf(stored) }) !== hash) {
    throw new PromoteError(`event ${input.type} would not read back as it was hashed (the database changed its data or time)`);
  }
  return stored;
}

function contentOf(event: PromoteEvent) {
  return {
    seq: event.seq,
    type: event.type,
    actor: event.actor,
    app: event.app,
    environment: event.environment,
    rolloutId: event.rolloutId,
    data: event.data,
    createdAt: event.createdAt.toISOString(),
  };
}

/** Events in seq order, optionally of one rollout and/or app, after a seq (`limit` defaults to 1000). */
export async function listEvents(db: Queryable, options: { rolloutId?: number; app?: string; afterSeq?: number; limit?: number } = {}): Promise<PromoteEvent[]> {
  const limit = checkLimit(options.limit, DEFAULT_LIST_LIMIT);
  if (options.rolloutId !== undefined) checkId('rollout', options.rolloutId);
  if (options.afterSeq !== undefined && (!Number.isSafeInteger(options.afterSeq) || options.afterSeq < 0)) {
    throw new PromoteError(`afterSeq must be a whole number from 0, got ${String(options.afterSeq)}`);
  }
  const result = await query<EventRow>(
    db,
    'listing events of the audit trail',
    `select ${COLUMNS} from promote.events
     where ($1::bigint is null or rollout_id = $1) and ($2::text is null or app = $2) and seq > $3
     order by seq limit $4`,
    [options.rolloutId ?? null, options.app ?? null, options.afterSeq ?? 0, limit],
  );
  return result.rows.map(toEvent);
}

/**
 * Recomputes the whole chain in seq order, a page at a time (memory stays flat whatever its length),
 * and reports the first broken link. Rows appended while it runs are checked too if it reaches them.
 *
 * `anchor`: a `{ seq, hash }` recorded earlier outside this database (printed in a report, kept by CI).
 * The chain itself cannot show that its newest rows were deleted; with an anchor, a chain that no
 * longer reaches the anchor's seq, or has another hash there, is reported.
 */
export async function verifyEventChain(db: Queryable, options: { anchor?: { seq: number; hash: string } } = {}): Promise<ChainVerification> {
  const anchor = options.anchor;
  if (anchor) checkId('anchor seq', anchor.seq);
  let expectedSeq = 1;
  let expectedPrev = GENESIS_HASH;
  let count = 0;
  let anchorSeen = false;
  try {
    for (;;) {
      // the first page has no lower bound, so a row slipped in below seq 1 is seen too
      const page = await query<EventRow>(
        db,
        'verifying the audit trail',
        `select ${COLUMNS} from promote.events where ($1::bigint is null or seq >= $1) order by seq limit $2`,
        [count === 0 ? null : expectedSeq, VERIFY_PAGE_SIZE],
      );
      for (const row of page.rows) {
        const event = toEvent(row);
        if (event.seq < expectedSeq) {
          return { ok: false, count, brokenAt: event.seq, reason: 'row out of sequence (row inserted)', detail: `expected seq ${expectedSeq}, found a row with seq ${event.seq}` };
        }
        if (event.seq !== expectedSeq) {
          return { ok: false, count, brokenAt: expectedSeq, reason: 'sequence gap (row deleted)', detail: `expected seq ${expectedSeq}, the next row has seq ${event.seq}` };
        }
        if (event.prevHash !== expectedPrev) {
          return {
            ok: false,
            count,
            brokenAt: event.seq,
            reason: 'previous hash mismatch (row deleted or reordered)',
            detail: `seq ${event.seq} links to ${event.prevHash.slice(0, 12)}…, but the event before it has hash ${expectedPrev.slice(0, 12)}…`,
          };
        }
        const recomputed = eventHash(event.prevHash, contentOf(event));
        if (recomputed !== event.hash) {
          return {
            ok: false,
            count,
            brokenAt: event.seq,
            reason: 'hash mismatch (row edited)',
            detail: `seq ${event.seq} (${event.type}) has hash ${event.hash.slice(0, 12)}… recorded, but its content hashes to ${recomputed.slice(0, 12)}…`,
          };
        }
        if (anchor && event.seq === anchor.seq) {
          if (event.hash !== anchor.hash) {
            return { ok: false, count, brokenAt: event.seq, reason: 'anchor mismatch (newest rows deleted or chain rewritten)', detail: `seq ${event.seq} has hash ${event.hash.slice(0, 12)}…, the anchor says ${anchor.hash.slice(0, 12)}…` };
          }
          anchorSeen = true;
        }
        count++;
        expectedSeq = event.seq + 1;
        expectedPrev = event.hash;
      }
      if (page.rows.length < VERIFY_PAGE_SIZE) break;
    }
  } catch (error) {
    rethrow('verifying the audit trail', error);
  }
  if (anchor && !anchorSeen) {
    return { ok: false, count, brokenAt: expectedSeq, reason: 'anchor mismatch (newest rows deleted or chain rewritten)', detail: `the chain ends at seq ${expectedSeq - 1}, before the anchor's seq ${anchor.seq}` };
  }
  return { ok: true, count };
}
