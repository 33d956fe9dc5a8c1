/**
 * The durable side of notifications (store migration 009): queueing what new audit events stand for,
 * claiming due deliveries so that several controllers never send one at the same time, and recording
 * each attempt.
 *
 * Audit events become visible in seq order with no gaps (appendEvent holds a lock until its transaction
 * ends), so a cursor "everything up to seq N is queued" is exact.
 */
import type pg from 'pg';
import { query, toDate, toId, withTransaction, type Queryable } from '../store/queryable.js';
import type { NotificationKind, WebhookSpec } from '../spec/schema-notifications.js';
import { defaultNotificationKinds } from '../spec/schema-notifications.js';
import { notificationFor, phaseAfter } from './kinds.js';
import { buildNotification, type Notification } from './payload.js';

/** Events read per round: a long history after a long outage is queued over several rounds. */
const BATCH = 500;

interface EventRow {
  seq: string;
  type: string;
  environment: string;
  rollout_id: string;
  data: Record<string, unknown>;
  created_at: Date;
  hash: string;
}

export interface Delivery {
  id: string;
  webhook: string;
  eventSeq: number;
  rolloutId: number | null;
  kind: string;
  payload: Notification;
  attempts: number;
  status: 'pending' | 'delivered' | 'failed';
  nextAttemptAt: Date;
  lastStatus: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
}

interface DeliveryRow {
  id: string;
  webhook: string;
  event_seq: string;
  rollout_id: string | null;
  kind: string;
  payload: Notification;
  attempts: number;
  status: Delivery['status'];
  next_attempt_at: Date;
  last_status: number | null;
  last_error: string | null;
  delivered_at: Date | null;
}

const toDelivery = (row: DeliveryRow): Delivery => ({
  id: row.id,
  webhook: row.webhook,
  eventSeq: toId(row.event_seq),
  rolloutId: row.rollout_id === null ? null : toId(row.rollout_id),
  kind: row.kind,
  payload: row.payload,
  attempts: row.attempts,
  status: row.status,
  nextAttemptAt: toDate(row.next_attempt_at),
  lastStatus: row.last_status,
  lastError: row.last_error,
  deliveredAt: row.delivered_at === null ? null : toDate(row.delivered_at),
});
const DELIVERY_COLUMNS = 'id, webhook, event_seq, rollout_id, kind, payload, attempts, status, next_attempt_at, last_status, last_error, delivered_at';

/**
 * Queues the notifications of events after the webhook's cursor and moves the cursor, in one
 * transaction. A webhook seen for the first time starts at the newest event: adding a webhook does
 * not replay history. Returns how many notifications were queued.
 */
export async function queueNotifications(pool: pg.Pool, app: string, webhook: WebhookSpec, options: { dashboardUrl?: string | undefined } = {}): Promise<{ queued: number; more: boolean }> {
  const doing = `queueing notifications for webhook ${webhook.name}`;
  const wanted = new Set<NotificationKind>(webhook.events ?? defaultNotificationKinds);
  return withTransaction(pool, async (tx) => {
    await query(tx, doing, `insert into promote.webhook_cursors (app, webhook, last_seq) values ($1, $2, (select coalesce(max(seq), 0) from promote.events)) on conflict do nothing`, [app, webhook.name]);
    // the row lock makes a second controller wait here rather than read the same range
    const cursor = await query<{ last_seq: string }>(tx, doing, 'select last_seq from promote.webhook_cursors where app = $1 and webhook = $2 for update', [app, webhook.name]);
    const after = toId(cursor.rows[0]!.last_seq);
    const head = await query<{ head: string | null }>(tx, doing, 'select max(seq) as head from promote.events');
    const upTo = Math.min(toId(head.rows[0]!.head ?? '0'), after + BATCH);
    if (upTo <= after) return { queued: 0, more: false };
    // an analysis action's evidence can be large: only what the mapping reads is fetched
    const events = await query<EventRow>(
      tx,
      doing,
      `select seq, type, environment, rollout_id, created_at, hash,
              case when type like 'action.%'
                   then jsonb_build_object('action', data->'action', 'outcome', jsonb_build_object('verdict', data->'outcome'->'verdict', 'detail', data->'outcome'->'detail'))
                   else data end as data
       from promote.events where seq > $1 and seq <= $2 and app = $3 and rollout_id is not null
         and (type in ('rollout.phase', 'step.completed') or type like 'action.%')
       order by seq`,
      [after, upTo, app],
    );
    const rolloutIds = [...new Set(events.rows.map((row) => toId(row.rollout_id)))];
    const phases = await phasesBefore(tx, rolloutIds, after);
    const versions = await releaseVersions(tx, rolloutIds);
    let queued = 0;
    for (const row of events.rows) {
      const rolloutId = toId(row.rollout_id);
      const event = { type: row.type, rolloutId, data: row.data };
      const before = phases.get(rolloutId) ?? 'Pending';
      phases.set(rolloutId, phaseAfter(event, before));
      const facts = notificationFor(event, before);
      if (facts === undefined || !wanted.has(facts.kind)) continue;
      const source = { seq: toId(row.seq), hash: row.hash, app, environment: row.environment, rolloutId, createdAt: toDate(row.created_at) };
      const notification = buildNotification(source, facts, { version: versions.get(rolloutId) ?? 'unknown', dashboardUrl: options.dashboardUrl });
      const inserted = await query(
        tx,
        doing,
        `insert into promote.webhook_deliveries (app, webhook, id, event_seq, rollout_id, kind, payload) values ($1, $2, $3, $4, $5, $6, $7)
         on conflict do nothing`,
        [app, webhook.name, notification.id, source.seq, rolloutId, facts.kind, JSON.stringify(notification)],
      );
      queued += inserted.rowCount ?? 0;
    }
    await query(tx, doing, 'update promote.webhook_cursors set last_seq = $3, updated_at = now() where app = $1 and webhook = $2', [app, webhook.name, upTo]);
    return { queued, more: upTo < toId(head.rows[0]!.head ?? '0') };
  });
}

/** The phase each rollout was in at `seq`, from its last phase change before it. */
async function phasesBefore(db: Queryable, rolloutIds: number[], seq: number): Promise<Map<number, string>> {
  if (rolloutIds.length === 0) return new Map();
  const result = await query<{ rollout_id: string; phase: string }>(
    db,
    'reading the phases of rollouts for their notifications',
    `select distinct on (rollout_id) rollout_id, data->>'to' as phase from promote.events
     where rollout_id = any($1) and type = 'rollout.phase' and seq <= $2 order by rollout_id, seq desc`,
    [rolloutIds, seq],
  );
  return new Map(result.rows.map((row) => [toId(row.rollout_id), row.phase]));
}

async function releaseVersions(db: Queryable, rolloutIds: number[]): Promise<Map<number, string>> {
  if (rolloutIds.length === 0) return new Map();
  const result = await query<{ id: string; version: string }>(
    db,
    'reading the release versions of rollouts for their notifications',
    'select o.id, r.version from promote.rollouts o join promote.releases r on r.id = o.release_id where o.id = any($1)',
    [rolloutIds],
  );
  return new Map(result.rows.map((row) => [toId(row.id), row.version]));
}

/**
 * Claims due deliveries of a webhook for one attempt each: at most one per rollout, and only a
 * rollout's oldest pending one, so a rollout's notifications arrive in order even across retries.
 * `for update skip locked` lets another controller claim other rows meanwhile; the claim itself is a
 * lease (next_attempt_at moved past the attempt's timeout), so a controller that dies mid-attempt
 * leaves the delivery to be tried again once the lease runs out.
 */
export async function claimDeliveries(pool: pg.Pool, app: string, webhook: string, options: { limit: number; leaseMs: number }): Promise<Delivery[]> {
  const result = await query<DeliveryRow>(
    pool,
    `claiming deliveries of webhook ${webhook}`,
    `with due as (
       select d.app, d.webhook, d.id from promote.webhook_deliveries d
       where d.app = $1 and d.webhook = $2 and d.status = 'pending' and d.next_attempt_at <= now()
         and not exists (
           select 1 from promote.webhook_deliveries e
           where e.app = d.app and e.webhook = d.webhook and e.status = 'pending'
             and e.rollout_id is not distinct from d.rollout_id and e.event_seq < d.event_seq)
       order by d.event_seq limit $3
       for update of d skip locked)
     update promote.webhook_deliveries w set attempts = w.attempts + 1, next_attempt_at = now() + make_interval(secs => $4::double precision / 1000)
     from due where w.app = due.app and w.webhook = due.webhook and w.id = due.id
     returning ${DELIVERY_COLUMNS.split(', ').map((column) => `w.${column}`).join(', ')}`,
    [app, webhook, options.limit, options.leaseMs],
  );
  return result.rows.map(toDelivery).sort((a, b) => a.eventSeq - b.eventSeq);
}

export type AttemptRecord =
  | { status: 'delivered'; httpStatus: number }
  | { status: 'retry'; httpStatus?: number | undefined; error: string; delayMs: number }
  | { status: 'failed'; httpStatus?: number | undefined; error: string }
  /** the attempt did not happen (the notifier stopped): it does not count */
  | { status: 'released' };

/** Records how a claimed attempt ended. */
export async function recordAttempt(pool: pg.Pool, app: string, delivery: Pick<Delivery, 'id' | 'webhook'>, record: AttemptRecord): Promise<void> {
  const doing = `recording a delivery attempt of webhook ${delivery.webhook}`;
  const key = [app, delivery.webhook, delivery.id];
  const where = `where app = $1 and webhook = $2 and id = $3 and status = 'pending'`;
  switch (record.status) {
    case 'delivered':
      await query(pool, doing, `update promote.webhook_deliveries set status = 'delivered', delivered_at = now(), last_status = $4, last_error = null ${where}`, [...key, record.httpStatus]);
      return;
    case 'retry':
      await query(pool, doing, `update promote.webhook_deliveries set next_attempt_at = now() + make_interval(secs => $4::double precision / 1000), last_status = $5, last_error = $6 ${where}`, [
        ...key,
        record.delayMs,
        record.httpStatus ?? null,
        record.error,
      ]);
      return;
    case 'failed':
      await query(pool, doing, `update promote.webhook_deliveries set status = 'failed', last_status = $4, last_error = $5 ${where}`, [...key, record.httpStatus ?? null, record.error]);
      return;
    case 'released':
      await query(pool, doing, `update promote.webhook_deliveries set next_attempt_at = now(), attempts = greatest(attempts - 1, 0) ${where}`, key);
      return;
  }
}

/** Deliveries of an app, oldest first (for tests and `promote notify`). */
export async function listDeliveries(db: Queryable, app: string, options: { webhook?: string } = {}): Promise<Delivery[]> {
  const result = await query<DeliveryRow>(
    db,
    'listing webhook deliveries',
    `select ${DELIVERY_COLUMNS} from promote.webhook_deliveries where app = $1 and ($2::text is null or webhook = $2) order by event_seq, webhook`,
    [app, options.webhook ?? null],
  );
  return result.rows.map(toDelivery);
}
