/**
 * The demo's orders service: a small HTTP API over its own tables (`orders`, `order_lines`), run by
 * Promote's process target as `node dist/demo/orders-service.js`.
 *
 * Environment: PORT (default 3000), HOST (default 127.0.0.1), RELEASE (its version: 1.x, 2.x, 3.x),
 * ORDERS_DATABASE_URL or else DATABASE_URL (the app database), PROMOTE_SCHEMA_VERSION (the version
 * schema to read and write through; Promote's process target sets it during a migration),
 * ORDERS_PAGE_SIZE (default 50), ORDERS_DB_POOL (default 10), ORDERS_ERROR_RATE and
 * ORDERS_ERROR_SEED (v3's regression), PROMOTE_FLAGS_URL (the Promote server whose flags it reads,
 * with a client token for PROMOTE_APP and PROMOTE_ENVIRONMENT, which the process target sets),
 * LOG_LEVEL (default warn).
 *
 * Versions:
 * - 1.x keeps money as numeric dollars in `orders.total` and `order_lines.price`.
 * - 2.x keeps integer cents in `total_cents` / `price_cents`, which migrations/01_amounts_in_cents.yaml
 *   adds (expand, backfilled through `up`) and later makes the only columns (contract). Before the
 *   contract it must run with PROMOTE_SCHEMA_VERSION set to that migration's version schema.
 * - 3.x is 2.x with a regression: GET /orders/:id answers 500 for a share of requests
 *   (ORDERS_ERROR_RATE, default 0.2) that read an order written before the instance started, the
 *   kind of bug a test on fresh data passes (ORDERS_ERRORS_ON=any: for every order read).
 * From 2.x on, flag `itemized-receipts` adds each line's subtotal to GET /orders/:id for the users it
 * is on for; 1.x ignores it.
 * The API is the same in all of them, money in integer cents:
 *   GET /healthz, GET /orders?user=&limit=, GET /orders/:id, POST /orders {user, items: [{sku, qty,
 *   price}], note?} -> 201 order, POST /orders/:id/cancel, GET /stats.
 *
 * At startup the service checks that the columns of its shape are where its schema version looks,
 * and refuses to start (exit 1, saying what is missing) when they are not.
 */
import { pathToFileURL } from 'node:url';
import Fastify, { type FastifyInstance } from 'fastify';
import pg from 'pg';
import { describeCause, PromoteError, wrapError } from '../errors.js';
import { inSchemaVersion, schemaVersionFromEnv, versionConnectionOptions, type SchemaVersion } from '../sdk/schema-version.js';
import { createFlagsClient, type FlagsClient } from '../sdk/flags.js';
import { seededRandom } from '../system/seeded-random.js';
import { OrdersStore, shapeOfRelease, type NewOrder, type OrdersShape } from './orders-store.js';

export interface OrdersServiceOptions {
  databaseUrl: string;
  /** the release this process runs, e.g. `1.0.0`; its major version picks the shape and the regression */
  release: string;
  schemaVersion?: SchemaVersion;
  /** 0 picks a free port */
  port?: number;
  host?: string;
  /** the share of GET /orders/:id that fail with 500; default 0.2 for 3.x, 0 otherwise */
  errorRate?: number;
  /** seeds the regression's random choice (default: random) */
  errorSeed?: number;
  /** which reads the regression hits: orders written before the instance started (3.x's default), or any */
  errorsOn?: 'older' | 'any';
  pageSize?: number;
  poolSize?: number;
  logLevel?: string;
  /** the flags 2.x consults; without it every flag is off */
  flags?: Pick<FlagsClient, 'isEnabled' | 'close'>;
}

export interface InstanceCounters {
  requests: number;
  /** answers with a 5xx status */
  errors: number;
  /** 500s the v3 regression made on purpose */
  injectedErrors: number;
}

export interface OrdersService {
  url: string;
  port: number;
  release: string;
  shape: OrdersShape;
  errorRate: number;
  counters: InstanceCounters;
  /** stops accepting, lets requests in flight finish, closes the database pool */
  close(): Promise<void>;
}

const MAX_PAGE = 200;
export const RECEIPTS_FLAG = 'itemized-receipts';

/** The options from the process environment (see the module comment). */
export function ordersServiceOptionsFromEnv(env: Record<string, string | undefined> = process.env): OrdersServiceOptions {
  const databaseUrl = env.ORDERS_DATABASE_URL ?? env.DATABASE_URL;
  if (databaseUrl === undefined || databaseUrl === '') throw new PromoteError('the orders service needs its database: set ORDERS_DATABASE_URL (or DATABASE_URL)');
  const release = env.RELEASE ?? env.PROMOTE_VERSION;
  if (release === undefined || release === '') throw new PromoteError('the orders service needs RELEASE (its version, like 1.0.0)');
  const number = (name: string): number | undefined => {
    const value = env[name];
    if (value === undefined || value === '') return undefined;
    const parsed = Number(value);
    if (!Number.isFinite(parsed)) throw new PromoteError(`${name} must be a number, not "${value}"`);
    return parsed;
  };
  const options: OrdersServiceOptions = { databaseUrl, release, schemaVersion: schemaVersionFromEnv(env), port: number('PORT') ?? 3000, host: env.HOST ?? '127.0.0.1' };
  const errorsOn = env.ORDERS_ERRORS_ON;
  if (errorsOn !== undefined && errorsOn !== '' && errorsOn !== 'older' && errorsOn !== 'any') throw new PromoteError(`ORDERS_ERRORS_ON must be "older" or "any", not "${errorsOn}"`);
  const extra = { errorsOn: errorsOn === '' ? undefined : errorsOn, errorRate: number('ORDERS_ERROR_RATE'), errorSeed: number('ORDERS_ERROR_SEED'), pageSize: number('ORDERS_PAGE_SIZE'), poolSize: number('ORDERS_DB_POOL'), logLevel: env.LOG_LEVEL };
  for (const [key, value] of Object.entries(extra)) if (value !== undefined) Object.assign(options, { [key]: value });
  return options;
}

function majorOf(release: string): number {
  return Number(/^v?(\d+)/.exec(release.trim())?.[1] ?? Number.NaN);
}

export async function startOrdersService(options: OrdersServiceOptions): Promise<OrdersService> {
  const shape = shapeOfRelease(options.release);
  const version = options.schemaVersion ?? { versionSchema: undefined };
  const errorRate = options.errorRate ?? (majorOf(options.release) === 3 ? 0.2 : 0);
  if (!(errorRate >= 0 && errorRate <= 1)) throw new PromoteError(`the error rate must be between 0 and 1, not ${errorRate}`);
  const random = options.errorSeed === undefined ? Math.random : seededRandom(options.errorSeed);
  // an explicit rate is a test's knob and hits every read; 3.x's own bug only misses older orders
  const errorsOn = options.errorsOn ?? (options.errorRate === undefined ? 'older' : 'any');
  const startedAt = new Date();
  const pageSize = Math.min(Math.max(1, Math.trunc(options.pageSize ?? 50)), MAX_PAGE);
  const where = version.versionSchema === undefined ? 'the base tables' : `schema version ${version.versionSchema}`;

  // the session-wide form of the schema version; writes also set it per transaction (inSchemaVersion),
  // which is what holds behind a transaction-pooling proxy
  const pool = new pg.Pool({ connectionString: options.databaseUrl, max: options.poolSize ?? 10, options: versionConnectionOptions(version) });
  // an idle connection that dies (database restart) is replaced; the next query reports the failure
  pool.on('error', () => undefined);
  const store = new OrdersStore(shape);
  try {
    await store.checkShape(pool);
  } catch (error) {
    await pool.end();
    const columns = shape === 'cents' ? 'orders.total_cents and order_lines.price_cents' : 'orders.total and order_lines.price';
    throw wrapError(`orders service ${options.release} reads ${columns} through ${where}, and they are not there`, error, {
      hint:
        shape === 'cents'
          ? 'start migration 01_amounts_in_cents and set PROMOTE_SCHEMA_VERSION to its version schema (or complete it)'
          : 'set up the v1 tables (setupOrdersDatabase, or node dist/demo/schema.js <url>); after the contract of 01_amounts_in_cents, v1 cannot run',
    });
  }

  const counters: InstanceCounters = { requests: 0, errors: 0, injectedErrors: 0 };
  const app: FastifyInstance = Fastify({ logger: { level: options.logLevel ?? 'warn' } });
  app.addHook('onResponse', async (_request, reply) => {
    counters.requests += 1;
    if (reply.statusCode >= 500) counters.errors += 1;
  });
  app.setErrorHandler((error: Error & { statusCode?: number; validation?: unknown }, request, reply) => {
    if (error.validation !== undefined || (error.statusCode !== undefined && error.statusCode < 500)) {
      return reply.code(error.statusCode ?? 400).send({ error: error.message });
    }
    request.log.error({ err: error }, 'request failed');
    return reply.code(500).send({ error: `${request.method} ${request.routeOptions.url ?? request.url}: ${describeCause(error)}` });
  });

  const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[1-9][0-9]{0,15}$' } } } as const;

  app.get('/healthz', async (_request, reply) => {
    try {
      await pool.query('select 1');
    } catch (error) {
      return reply.code(503).send({ status: 'unavailable', release: options.release, error: describeCause(error) });
    }
    return { status: 'ok', release: options.release, shape, schemaVersion: version.versionSchema ?? null };
  });

  app.get<{ Querystring: { user: string; limit?: number } }>(
    '/orders',
    { schema: { querystring: { type: 'object', required: ['user'], properties: { user: { type: 'string', minLength: 1, maxLength: 100 }, limit: { type: 'integer', minimum: 1, maximum: MAX_PAGE } } } } },
    async (request) => ({ orders: await store.listByUser(pool, request.query.user, request.query.limit ?? pageSize) }),
  );

  app.get<{ Params: { id: string } }>('/orders/:id', { schema: { params: idParams } }, async (request, reply) => {
    const fails = () => {
      if (!(errorRate > 0 && random() < errorRate)) return false;
      counters.injectedErrors += 1;
      return true;
    };
    const failure = () => reply.code(500).send({ error: `release ${options.release}: order lookup failed` });
    if (errorsOn === 'any' && fails()) return failure();
    const order = await store.get(pool, Number(request.params.id));
    if (order === undefined) return reply.code(404).send({ error: `no order ${request.params.id}` });
    if (errorsOn === 'older' && new Date(order.createdAt) < startedAt && fails()) return failure();
    if (shape === 'cents' && options.flags?.isEnabled(RECEIPTS_FLAG, { userId: order.user }) === true) {
      return { ...order, receipt: order.items.map((item) => ({ sku: item.sku, qty: item.qty, subtotal: item.qty * item.price })) };
    }
    return order;
  });

  app.post<{ Body: NewOrder }>(
    '/orders',
    {
      schema: {
        body: {
          type: 'object',
          required: ['user', 'items'],
          additionalProperties: false,
          properties: {
            user: { type: 'string', minLength: 1, maxLength: 100 },
            note: { type: ['string', 'null'], maxLength: 500 },
            items: {
              type: 'array',
              minItems: 1,
              maxItems: 50,
              items: {
                type: 'object',
                required: ['sku', 'qty', 'price'],
                additionalProperties: false,
                properties: { sku: { type: 'string', minLength: 1, maxLength: 64 }, qty: { type: 'integer', minimum: 1, maximum: 1000 }, price: { type: 'integer', minimum: 0, maximum: 10_000_000 } },
              },
            },
          },
        },
      },
    },
    async (request, reply) => {
      const order = await inSchemaVersion(pool, version, (client) => store.create(client, request.body));
      return reply.code(201).send(order);
    },
  );

  app.post<{ Params: { id: string } }>('/orders/:id/cancel', { schema: { params: idParams } }, async (request, reply) => {
    const order = await inSchemaVersion(pool, version, (client) => store.cancel(client, Number(request.params.id)));
    if (order === undefined) return reply.code(404).send({ error: `no order ${request.params.id}` });
    return order;
  });

  app.get('/stats', async () => ({ release: options.release, shape, schemaVersion: version.versionSchema ?? null, errorRate, instance: { ...counters }, ...(await store.stats(pool)) }));

  let address: string;
  try {
    address = await app.listen({ port: options.port ?? 0, host: options.host ?? '127.0.0.1' });
  } catch (error) {
    await pool.end();
    throw wrapError(`orders service ${options.release}: listening on ${options.host ?? '127.0.0.1'}:${options.port ?? 0}`, error);
  }
  const port = new URL(address).port;
  let closing: Promise<void> | undefined;
  return {
    url: address,
    port: Number(port),
    release: options.release,
    shape,
    errorRate,
    counters,
    close: () => {
      closing ??= (async () => {
        await app.close();
        await pool.end();
        await options.flags?.close();
      })();
      return closing;
    },
  };
}

async function main(): Promise<void> {
  const options = ordersServiceOptionsFromEnv();
  const flagsUrl = process.env.PROMOTE_FLAGS_URL;
  // the demo's server runs without authentication, so the secret only names the scope (PROMOTE_FLAGS_TOKEN gives a real one)
  const token = `${process.env.PROMOTE_APP ?? 'orders'}:${process.env.PROMOTE_ENVIRONMENT ?? 'production'}.${process.env.PROMOTE_FLAGS_TOKEN ?? 'orders-service'}`;
  const flags = flagsUrl === undefined || flagsUrl === '' ? undefined : createFlagsClient({ url: flagsUrl, token, pollIntervalMs: 2_000 });
  const service = await startOrdersService({ ...options, ...(flags ? { flags } : {}) }).catch(async (error: unknown) => {
    await flags?.close();
    throw error;
  });
  process.stdout.write(`orders service ${service.release} (${service.shape}) listening on ${service.url}\n`);
  const stop = (signal: string) => {
    process.stdout.write(`orders service ${service.release}: ${signal}, draining\n`);
    service.close().then(
      () => process.exit(0),
      (error: unknown) => {
        process.stderr.write(`orders service ${service.release}: closing: ${describeCause(error)}\n`);
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((error: unknown) => {
    const hint = error instanceof PromoteError && error.hint !== undefined ? `\nhint: ${error.hint}` : '';
    process.stderr.write(`${error instanceof Error ? error.message : String(error)}${hint}\n`);
    process.exit(1);
  });
}
