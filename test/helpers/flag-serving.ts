import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { createStorePool } from './database.js';
import { buildServer } from '../../src/server/app.js';
import { parseSpec } from '../../src/spec/index.js';
import { upsertApp } from '../../src/store/apps.js';
import { syncEnvironments } from '../../src/store/environments.js';
import type { FlagScope } from '../../src/flags/source.js';

export const SPEC_TEXT = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

export const PRODUCTION: FlagScope = { app: 'shop', environment: 'production' };
export const STAGING: FlagScope = { app: 'shop', environment: 'staging' };
export const TOKEN = 'shop:production.not-checked-yet';
export const STAGING_TOKEN = 'shop:staging.not-checked-yet';

/** A fresh store with app shop (staging, production) and the real HTTP API on a loopback port. */
export async function startServingFixture(): Promise<{ pool: pg.Pool; api: FastifyInstance; base: string }> {
  const { pool } = await createStorePool();
  await upsertApp(pool, { name: 'shop' });
  await syncEnvironments(pool, 'shop', ['staging', 'production']);
  const parsed = parseSpec(SPEC_TEXT, { file: 'promote.yaml' });
  if (!parsed.ok) throw new Error('the fixture spec does not parse');
  const api = await buildServer({ pool, spec: parsed.spec });
  const base = await api.listen({ host: '127.0.0.1', port: 0 });
  return { pool, api, base };
}

/** Polls `check` until it returns true or `timeoutMs` passes; returns the milliseconds it took. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'the condition'): Promise<number> {
  const started = performance.now();
  while (!(await check())) {
    if (performance.now() - started > timeoutMs) throw new Error(`${what} did not hold within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return performance.now() - started;
}
