import { appendEvent } from './events.js';
import { notFound } from '../errors.js';
import { checkName, databaseErrorOf, PG_FOREIGN_KEY_VIOLATION, query, rethrow, toDate, withTransaction, type Queryable } from './queryable.js';

/** The channel every router LISTENs on; the payload is `{ app, environment, revision }`. */
export const TRAFFIC_CHANNEL = 'promote_traffic';

export interface StoredTraffic {
  app: string;
  environment: string;
  revision: number;
  /** the routing table as the router reads it (src/router/traffic.ts), without its revision */
  config: Record<string, unknown>;
  updatedBy: string | null;
  updatedAt: Date;
}

interface TrafficRow {
  app: string;
  environment: string;
  revision: string;
  config: Record<string, unknown>;
  updated_by: string | null;
  updated_at: Date;
}

function toTraffic(row: TrafficRow): StoredTraffic {
  return { app: row.app, environment: row.environment, revision: Number(row.revision), config: row.config, updatedBy: row.updated_by, updatedAt: toDate(row.updated_at) };
}

export async function getTraffic(db: Queryable, app: string, environment: string): Promise<StoredTraffic | undefined> {
  const doing = `reading the routing table of ${app}/${environment}`;
  try {
    const result = await query<TrafficRow>(db, doing, 'select app, environment, revision, config, updated_by, updated_at from promote.traffic where app = $1 and environment = $2', [app, environment]);
    return result.rows[0] ? toTraffic(result.rows[0]) : undefined;
  } catch (error) {
    rethrow(doing, error);
  }
}

/**
 * Replaces the routing table and records the change in the audit trail in the same transaction:
 * routers are notified on commit, so no router ever applies a change the audit trail lacks.
 */
export async function setTraffic(db: Queryable, input: { app: string; environment: string; config: Record<string, unknown>; actor: string; reason?: string }): Promise<StoredTraffic> {
  checkName('app', input.app);
  checkName('environment', input.environment);
  const doing = `changing the routing table of ${input.app}/${input.environment}`;
  const { revision: _ignored, ...config } = input.config;
  try {
    return await withTransaction(db, async (tx) => {
      const result = await query<TrafficRow>(tx, doing,
        `insert into promote.traffic (app, environment, revision, config, updated_by) values ($1, $2, 1, $3::jsonb, $4)
         on conflict (app, environment) do update set revision = promote.traffic.revision + 1, config = excluded.config, updated_by = excluded.updated_by, updated_at = now()
         returning app, environment, revision, config, updated_by, updated_at`,
        [input.app, input.environment, JSON.stringify(config), input.actor]);
      const stored = toTraffic(result.rows[0]!);
      await appendEvent(tx, {
        type: 'traffic.changed',
        actor: input.actor,
        app: input.app,
        environment: input.environment,
        data: { revision: stored.revision, config, ...(input.reason ? { reason: input.reason } : {}) },
      });
      return stored;
    });
  } catch (error) {
    if (databaseErrorOf(error).code === PG_FOREIGN_KEY_VIOLATION) {
      throw notFound(`${doing}: the state store has no environment ${input.environment} for app ${input.app}`, {
        cause: error,
        hint: 'environments are recorded from promote.yaml; check the app and environment names',
      });
    }
    rethrow(doing, error);
  }
}
