import type { StoreMigration } from './index.js';

/**
 * Webhook notifications, delivered at least once. A cursor per (app, webhook) says up to which audit
 * event the webhook's notifications are queued; a delivery row per notification carries it through its
 * attempts. Queueing and moving the cursor commit together, so a controller killed between them
 * queues nothing twice (and the primary key catches a second controller doing the same range).
 */
const sql = `
create table webhook_cursors (
  app text not null,
  webhook text not null,
  -- the newest event seq already looked at for this webhook; a new webhook starts at the newest event
  last_seq bigint not null check (last_seq >= 0),
  updated_at timestamptz not null default now(),
  primary key (app, webhook)
);

create table webhook_deliveries (
  app text not null,
  webhook text not null,
  -- the Standard Webhooks message id, from the event: the same on every attempt, so receivers can drop repeats
  id text not null,
  event_seq bigint not null,
  rollout_id bigint,
  kind text not null,
  payload jsonb not null check (jsonb_typeof(payload) = 'object'),
  attempts integer not null default 0 check (attempts >= 0),
  status text not null default 'pending' check (status in ('pending', 'delivered', 'failed')),
  next_attempt_at timestamptz not null default now(),
  last_status integer,
  last_error text,
  created_at timestamptz not null default now(),
  delivered_at timestamptz,
  primary key (app, webhook, id)
);
-- what the sender looks for: due rows, oldest first, and the earlier pending row of the same rollout
create index webhook_deliveries_pending on webhook_deliveries (app, webhook, event_seq) where status = 'pending';
`;

const notifications: StoreMigration = { version: 9, name: 'webhook notifications', sql };
export default notifications;
