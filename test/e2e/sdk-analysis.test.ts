/**
 * From the app's write path to a verdict: a dual writer whose next store refuses some rows and shadow
 * reads that disagree report through the real reporter to `promote server`'s API, and the templates
 * of examples/promote.yaml (sdk provider, threshold judge) fail that version while a clean version
 * passes.
 */
import { readFile } from 'node:fs/promises';
import type { FastifyInstance } from 'fastify';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { judge } from '../../src/analysis/judges/index.js';
import { createSdkProvider } from '../../src/analysis/providers/sdk.js';
import { createDualWriter } from '../../src/sdk/dual-write.js';
import { createExperimenter } from '../../src/sdk/experiment.js';
import { createReporter } from '../../src/sdk/report.js';
import { buildServer } from '../../src/server/app.js';
import { parseSpec, type PromoteSpec } from '../../src/spec/index.js';
import { upsertApp } from '../../src/store/index.js';
import { afterFile } from '../helpers/cleanup.js';
import { createStorePool, createTestDatabase } from '../helpers/database.js';

let store: pg.Pool;
let app: pg.Pool;
let spec: PromoteSpec;
let api: FastifyInstance;
let url: string;

beforeAll(async () => {
  ({ pool: store } = await createStorePool());
  app = new pg.Pool({ connectionString: (await createTestDatabase()).url, max: 4 });
  afterFile('closing the app pool', () => app.end());
  const parsed = parseSpec(await readFile(new URL('../../examples/promote.yaml', import.meta.url), 'utf8'), { file: 'examples/promote.yaml' });
  if (!parsed.ok) throw new Error(`examples/promote.yaml: ${JSON.stringify(parsed.problems)}`);
  spec = parsed.spec;
  await upsertApp(store, { name: spec.app.name });
  api = await buildServer({ pool: store, spec });
  url = await api.listen({ host: '127.0.0.1', port: 0 });
  // the next table keeps amounts below 1000: larger ones are refused, as a bug in a new schema would
  await app.query(`create table orders (id int primary key, amount int not null);
    create table orders_v2 (id int primary key, amount numeric(5, 2) not null)`);
});
afterAll(async () => api.close());

async function runVersion(version: string, amounts: number[]): Promise<void> {
  const reporter = createReporter({ url, app: spec.app.name, environment: 'production', version, flushIntervalMs: 60_000 });
  const experimenter = createExperimenter({ reporter });
  const dual = createDualWriter<{ id: number; amount: number }, { id: number; amount: number }, number, number>({
    name: 'orders',
    flag: 'orders-move',
    flags: { migrationStage: () => 'shadow' },
    legacy: {
      pool: app,
      write: async (client, order) => void (await client.query('insert into orders values ($1, $2) on conflict (id) do update set amount = excluded.amount', [order.id, order.amount])),
      read: async (client, id) => (await client.query<{ amount: number }>('select amount from orders where id = $1', [id])).rows[0]?.amount,
    },
    next: {
      write: async (client, row) => void (await client.query('insert into orders_v2 values ($1, $2) on conflict (id) do update set amount = excluded.amount', [row.id, row.amount])),
      read: async (client, id) => {
        const found = (await client.query<{ amount: string }>('select amount from orders_v2 where id = $1', [id])).rows[0];
        return found === undefined ? undefined : Number(found.amount);
      },
    },
    translate: (order) => order,
    reporter,
    experimenter,
  });
  const base = Number(version.split('.').join('')) * 1000;
  for (const [index, amount] of amounts.entries()) {
    await dual.write({}, { id: base + index, amount }).catch(() => undefined);
    await dual.read({}, base + index);
  }
  // a shadow read of a row the legacy side holds and the next side lost
  if (amounts.some((amount) => amount >= 1000)) await app.query('insert into orders values ($1, 1)', [base + 999]);
  await dual.read({}, base + 999);
  await experimenter.settled();
  await reporter.close();
}

async function verdict(template: string, version: string) {
  const found = spec.analysis?.templates[template];
  if (found?.provider.type !== 'sdk') throw new Error(`examples/promote.yaml: ${template} is not an sdk template`);
  const provider = createSdkProvider(found.provider, { pool: store, app: spec.app.name });
  const data = await provider.measure({ app: spec.app.name, environment: 'production', version, signal: AbortSignal.timeout(5000) });
  return { value: data.value, verdict: judge(found.judge, data, undefined).verdict };
}

describe('SDK metrics judged by the analysis', () => {
  it('fails the version whose dual writes fail and whose shadow reads disagree, and passes a clean one', async () => {
    await runVersion('2.0.0', [5, 10, 15]);
    await runVersion('2.1.0', [5, 1500, 10, 2500]);
    expect(await verdict('dual-write-failures', '2.0.0')).toEqual({ value: 0, verdict: 'Successful' });
    expect(await verdict('read-mismatches', '2.0.0')).toEqual({ value: 0, verdict: 'Successful' });
    // the two refused amounts failed whole (nothing written), so only the row inserted by hand disagrees
    expect(await verdict('dual-write-failures', '2.1.0')).toEqual({ value: 2, verdict: 'Failed' });
    expect(await verdict('read-mismatches', '2.1.0')).toEqual({ value: 1, verdict: 'Failed' });
    const orders = await app.query<{ id: number }>('select id from orders where amount >= 1000');
    expect(orders.rows).toEqual([]);
  });
});
