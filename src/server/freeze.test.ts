/**
 * GET /api/environments/:environment/freeze and the overview's freeze, through buildServer and
 * app.inject on a real store: a frozen environment (touching windows chained, the next window after
 * them), an open one with a window coming, one without windows (null), an unknown one (404); and
 * `promote freeze --json` run in process on the same promote.yaml says the same.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInProcess } from '../../test/helpers/cli.js';
import { createStorePool } from '../../test/helpers/database.js';
import { scratchFolder } from '../../test/helpers/scratch.js';
import { specFromYaml } from '../../test/helpers/spec.js';
import { buildServer } from './app.js';

const HOUR = 3_600_000;
// whole minutes from now, so the windows are far from the instant the test asks at
const base = Math.floor(Date.now() / 60_000) * 60_000;
const at = (hours: number) => new Date(base + hours * HOUR).toISOString();
const target = 'target: { type: external, url: "http://127.0.0.1:1/{{version}}" }';
const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    ${target}
    strategy: canary
    freeze:
      mode: wait
      windows:
        - name: weekend
          from: ${at(3)}
          until: ${at(5)}
  - name: production
    database: postgres://localhost/shop
    ${target}
    strategy: canary
    freeze:
      timezone: Europe/Berlin
      windows:
        - name: launch
          from: ${at(-1)}
          until: ${at(2)}
        - name: aftercare
          from: ${at(2)}
          until: ${at(4)}
        - name: year-end
          from: ${at(30)}
          until: ${at(40)}
  - name: sandbox
    database: postgres://localhost/shop
    ${target}
    strategy: canary
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

const production = {
  environment: 'production',
  mode: 'refuse',
  timezone: 'Europe/Berlin',
  // launch touches aftercare: deploys may go only once both are over
  frozen: { window: 'launch', since: at(-1), until: at(4) },
  next: { window: 'year-end', startsAt: at(30), endsAt: at(40) },
};
const staging = { environment: 'staging', mode: 'wait', timezone: 'UTC', frozen: null, next: { window: 'weekend', startsAt: at(3), endsAt: at(5) } };
const sandbox = { environment: 'sandbox', mode: null, timezone: null, frozen: null, next: null };

describe('freeze windows on the API', () => {
  let api: FastifyInstance;
  let url: string;

  beforeAll(async () => {
    const store = await createStorePool();
    url = store.url;
    api = await buildServer({ pool: store.pool, spec: specFromYaml(specText), web: false });
  });
  afterAll(async () => api?.close());

  const get = async (path: string, role = 'viewer') => {
    const response = await api.inject({ method: 'GET', url: path, headers: { 'x-promote-role': role } });
    return { status: response.statusCode, body: response.json<Record<string, unknown>>() };
  };

  it('says which window freezes an environment until when, with touching windows chained, and the next window after', async () => {
    expect(await get('/api/environments/production/freeze')).toEqual({ status: 200, body: production });
  });

  it('says an open environment is open and when its next window starts, and null for one without windows', async () => {
    expect(await get('/api/environments/staging/freeze')).toEqual({ status: 200, body: staging });
    expect(await get('/api/environments/sandbox/freeze')).toEqual({ status: 200, body: sandbox });
  });

  it('answers 404 naming the known environments for an unknown one, and 400 for a malformed name', async () => {
    const unknown = await get('/api/environments/qa/freeze');
    expect(unknown.status).toBe(404);
    expect(unknown.body).toEqual({ error: 'shop has no environment "qa"', hint: 'environments: staging, production, sandbox' });
    expect((await get('/api/environments/Not_A_Name/freeze')).status).toBe(400);
  });

  it('the overview carries the same frozen and next per environment, null without windows', async () => {
    const overview = await get('/api/overview');
    expect(overview.status).toBe(200);
    const freezes = Object.fromEntries((overview.body.environments as Array<{ name: string; freeze: unknown }>).map((each) => [each.name, each.freeze]));
    expect(freezes).toEqual({
      staging: { frozen: null, next: staging.next },
      production: { frozen: production.frozen, next: production.next },
      sandbox: null,
    });
  });

  it('promote freeze --json says the same as the API for every environment', async () => {
    const cwd = await scratchFolder('promote-freeze-api-');
    await writeFile(join(cwd, 'promote.yaml'), specText);
    const cli = await runInProcess(['--database-url', url, 'freeze', '--json'], { cwd });
    expect(cli.code, cli.stderr).toBe(0);
    const rows = JSON.parse(cli.stdout) as Array<{ environment: string; mode: unknown; timezone: unknown; frozen: boolean; now: unknown; next: unknown }>;
    for (const row of rows) {
      const { body } = await get(`/api/environments/${row.environment}/freeze`);
      expect({ environment: row.environment, mode: row.mode, timezone: row.timezone, frozen: row.now, next: row.next }).toEqual(body);
      expect(row.frozen).toBe(body.frozen !== null);
    }
    expect(rows.map((row) => row.environment)).toEqual(['staging', 'production', 'sandbox']);
  });
});
