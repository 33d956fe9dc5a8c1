/**
 * GET /api/environments/:env/migrations and /backfill: what the environment's app database says
 * about its schema migrations, for the dashboard. Read-only: nothing here creates Promote's state in
 * an app database. An app database that cannot be reached answers 503, another failure of it 502,
 * each naming what was being read; the state store's own failures keep the API's usual answers.
 */
import { resolve } from 'node:path';
import type { FastifyInstance, FastifyReply } from 'fastify';
import pg from 'pg';
import { describeCause, redactSecrets } from '../errors.js';
import { isConnectionError } from '../migrations/backfill/retry.js';
import { BackfillRateSampler, readBackfillStatus, ROWS_TOTAL_SOURCE } from '../migrations/backfill/status.js';
import type { PromoteSpec } from '../spec/index.js';
import { environmentNamed, registerAppInfoRoute } from './app-info.js';
import { migrationHistoryView, readRecordedRuns } from './migrations-view.js';

export interface MigrationRouteOptions {
  pool: pg.Pool;
  spec: PromoteSpec;
  /** the folder of promote.yaml: without it, applied checksums cannot be compared with the release's */
  configDir?: string;
}

const errorBody = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;
const envParams = { type: 'object', properties: { env: { type: 'string', minLength: 1, maxLength: 128 } }, required: ['env'], additionalProperties: false } as const;
const time = { type: 'string', format: 'date-time' } as const;
const nullableTime = { type: ['string', 'null'], format: 'date-time' } as const;

const member = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    checksum: { type: 'string' },
    match: { type: 'string', enum: ['match', 'mismatch', 'not in release', 'unknown'] },
    matchDetail: { type: 'string' },
    releaseFile: { type: ['string', 'null'] },
    releaseFileSha256: { type: ['string', 'null'] },
  },
  required: ['name', 'checksum', 'match', 'matchDetail', 'releaseFile', 'releaseFileSha256'],
} as const;

const migration = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    name: { type: 'string' },
    state: { type: 'string', enum: ['in flight', 'expanded', 'completed', 'rolled back', 'undo window open'], description: 'expanded: both versions work, contract not done yet' },
    phase: { type: 'string', description: "the runner's own phase (starting, started, completing, ...)" },
    inFlight: { type: 'boolean', description: 'in flight or expanded: not yet completed nor rolled back' },
    checksum: { type: 'string' },
    versionSchema: { type: 'string' },
    backfilled: { type: 'boolean' },
    startedAt: time,
    completedAt: nullableTime,
    rolledBackAt: nullableTime,
    undoUntil: nullableTime,
    error: { type: ['string', 'null'] },
    members: { type: 'array', items: member },
    rollout: { anyOf: [{ type: 'null' }, { type: 'object', properties: { id: { type: 'integer' }, version: { type: ['string', 'null'] }, createdBy: { type: ['string', 'null'] } }, required: ['id', 'version', 'createdBy'] }] },
    release: { anyOf: [{ type: 'null' }, { type: 'object', properties: { version: { type: 'string' }, source: { type: 'string', enum: ['rollout', 'environment'] } }, required: ['version', 'source'] }] },
  },
  required: ['id', 'name', 'state', 'phase', 'inFlight', 'checksum', 'versionSchema', 'backfilled', 'startedAt', 'completedAt', 'rolledBackAt', 'undoUntil', 'error', 'members', 'rollout', 'release'],
} as const;

const history = {
  type: 'object',
  properties: {
    environment: { type: 'string' },
    schema: { type: 'string' },
    migrations: { type: 'array', items: migration },
    chain: { type: 'object', properties: { ok: { type: 'boolean' }, runs: { type: 'integer' }, brokenAt: { type: 'string' }, reason: { type: 'string' } }, required: ['ok', 'runs'] },
  },
  required: ['environment', 'schema', 'migrations', 'chain'],
} as const;

const backfillTable = {
  type: 'object',
  properties: {
    table: { type: 'string' },
    phase: { type: 'string', enum: ['pending', 'keyset', 'sweep', 'done'] },
    rowsDone: { type: 'integer' },
    rowsTotal: { type: 'integer', description: 'an estimate while the table is backfilled (see rowsTotalSource)' },
    rowsPerSecond: { type: ['number', 'null'] },
    rateBasis: { type: ['string', 'null'], enum: ['interval', 'average', null], description: 'interval: between the last two cursor updates the server saw; average: since the table began' },
    etaSeconds: { type: ['number', 'null'] },
    batches: { type: 'integer' },
    startedAt: nullableTime,
    updatedAt: nullableTime,
    idleSeconds: { type: ['number', 'null'], description: "seconds since the table's last committed batch (by the server's clock): large when the backfill is paused or stopped" },
  },
  required: ['table', 'phase', 'rowsDone', 'rowsTotal', 'rowsPerSecond', 'rateBasis', 'etaSeconds', 'batches', 'startedAt', 'updatedAt', 'idleSeconds'],
} as const;

const backfill = {
  type: 'object',
  properties: {
    environment: { type: 'string' },
    inFlight: { type: 'boolean', description: 'false: no backfill runs (the other fields are null or empty)' },
    migration: { type: ['string', 'null'] },
    schema: { type: 'string' },
    runPhase: { type: ['string', 'null'] },
    startedAt: nullableTime,
    rowsTotalSource: { type: 'string', description: 'how rowsTotal is estimated' },
    tables: { type: 'array', items: backfillTable },
  },
  required: ['environment', 'inFlight', 'migration', 'schema', 'runPhase', 'startedAt', 'rowsTotalSource', 'tables'],
} as const;

/** A pool per environment's app database, made when first needed, closed with the server. */
function appDatabases(app: FastifyInstance) {
  const pools = new Map<string, pg.Pool>();
  app.addHook('onClose', async () => {
    await Promise.all([...pools.values()].map((pool) => pool.end().catch(() => undefined)));
  });
  return (environment: string, url: string): pg.Pool => {
    let pool = pools.get(environment);
    if (pool === undefined) {
      // short timeouts: a dashboard poll must answer (with an error) rather than hang on a dead host
      pool = new pg.Pool({ connectionString: url, max: 2, connectionTimeoutMillis: 5_000, statement_timeout: 10_000, idleTimeoutMillis: 30_000, application_name: 'promote dashboard' });
      // an idle connection that dies is replaced; the next query reports the failure
      pool.on('error', () => undefined);
      pools.set(environment, pool);
    }
    return pool;
  };
}

/** No connection could be had (refused, unknown host, connect timeout); a slow statement (57014) is a failure of the database, not this. */
const isUnreachable = (error: unknown) => isConnectionError(error) || /timeout exceeded when trying to connect|connection timeout|ECONNREFUSED|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/i.test(describeCause(error));

/** The migration and backfill routes, and GET /api/app which the dashboard's flag page needs. */
export function registerMigrationRoutes(app: FastifyInstance, options: MigrationRouteOptions): void {
  registerAppInfoRoute(app, options.spec);
  const poolFor = appDatabases(app);
  const sampler = new Map<string, BackfillRateSampler>();
  const schema = options.spec.migrations.schema;
  const migrationsDir = options.configDir === undefined ? undefined : resolve(options.configDir, options.spec.migrations.dir);

  /** Runs `read` on the environment's app database; its failures become 503 or 502 naming what was read. */
  const onAppDatabase = async <T>(environment: string, url: string, doing: string, reply: FastifyReply, read: (pool: pg.Pool) => Promise<T>): Promise<{ value: T } | undefined> => {
    try {
      return { value: await read(poolFor(environment, url)) };
    } catch (error) {
      const cause = redactSecrets(describeCause(error));
      if (isUnreachable(error)) {
        void reply.status(503).send({ error: `the app database of ${environment} is unreachable while ${doing}: ${cause}`, hint: `check that PostgreSQL at environments.${environment}.database in promote.yaml is up and reachable from the Promote server` });
        return undefined;
      }
      void reply.status(502).send({ error: `the app database of ${environment} failed while ${doing}: ${cause}` });
      return undefined;
    }
  };

  app.get(
    '/api/environments/:env/migrations',
    { schema: { summary: "The environment's app database migrations, oldest first, with the rollout that applied each and whether it matches the release", params: envParams, response: { 200: history, 404: errorBody, 502: errorBody, 503: errorBody } } },
    async (request, reply) => {
      const { env } = request.params as { env: string };
      const environment = environmentNamed(options.spec, env);
      const recorded = await onAppDatabase(env, environment.database, `reading the migration history of schema ${schema}`, reply, (pool) => readRecordedRuns(pool, schema));
      if (recorded === undefined) return reply;
      // the state store's failures (rollouts, releases) keep the API's usual answers
      return migrationHistoryView(recorded.value, { store: options.pool, app: options.spec.app.name, environment: env, schema, migrationsDir });
    },
  );

  app.get(
    '/api/environments/:env/backfill',
    // none in flight is a 200 with inFlight false, not a 404: the dashboard polls this, and a browser logs every 404 as an error
    { schema: { summary: "The backfill in flight in the environment's app database: per table rows done, rows total (estimate), rate and ETA; inFlight false when none", params: envParams, response: { 200: backfill, 404: errorBody, 502: errorBody, 503: errorBody } } },
    async (request, reply) => {
      const { env } = request.params as { env: string };
      const environment = environmentNamed(options.spec, env);
      let rates = sampler.get(env);
      if (rates === undefined) sampler.set(env, (rates = new BackfillRateSampler()));
      const status = await onAppDatabase(env, environment.database, `reading the backfill progress of schema ${schema}`, reply, (pool) => readBackfillStatus(pool, schema, rates));
      if (status === undefined) return reply;
      const found = status.value;
      if (found === undefined) return { environment: env, inFlight: false, migration: null, schema, runPhase: null, startedAt: null, rowsTotalSource: ROWS_TOTAL_SOURCE, tables: [] };
      return {
        environment: env,
        inFlight: true,
        ...found,
        startedAt: found.startedAt.toISOString(),
        tables: found.tables.map((table) => ({ ...table, startedAt: table.startedAt?.toISOString() ?? null, updatedAt: table.updatedAt?.toISOString() ?? null })),
      };
    },
  );
}
