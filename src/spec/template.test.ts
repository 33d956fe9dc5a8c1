import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseSpec } from './load.js';
import { stepKind, stepKinds } from './schema.js';
import { initTemplate } from './template.js';

const databases = { STAGING_DATABASE_URL: 'postgres://localhost/app_staging', PRODUCTION_DATABASE_URL: 'postgres://localhost/app' };

describe('initTemplate', () => {
  it('parses without problems and uses the given app name', () => {
    const text = initTemplate({ app: 'billing' });
    const result = parseSpec(text, { file: 'promote.yaml', env: databases });
    expect(result.problems).toEqual([]);
    expect(result.ok && result.spec.app.name).toBe('billing');
    expect(result.ok && result.spec.environments.map((environment) => environment.name)).toEqual(['staging', 'production']);
  });

  it('starts with the yaml-language-server schema line', () => {
    expect(initTemplate({ app: 'billing' }).split('\n')[0]).toBe('# yaml-language-server: $schema=./node_modules/promote/schema/promote.schema.json');
  });

  it('needs the two database variables, and says so', () => {
    const result = parseSpec(initTemplate({ app: 'billing' }), { file: 'promote.yaml', env: {} });
    expect(result.problems.map((problem) => problem.message)).toEqual([
      'environment variable STAGING_DATABASE_URL is not set (used at environments[0].database)',
      'environment variable PRODUCTION_DATABASE_URL is not set (used at environments[1].database)',
    ]);
  });
});

describe('examples/promote.yaml', () => {
  it('validates with an empty environment and uses every step kind', async () => {
    const text = await readFile(new URL('../../examples/promote.yaml', import.meta.url), 'utf8');
    const result = parseSpec(text, { file: 'examples/promote.yaml', env: {} });
    expect(result.problems).toEqual([]);
    if (!result.ok) return;
    expect(result.spec.app.name).toBe('orders');
    expect(result.spec.environments.map((environment) => environment.database)).toEqual([
      'postgres://localhost:5432/orders_staging',
      'postgres://localhost:5432/orders',
    ]);
    const used = new Set(result.spec.strategies.canary?.steps.map(stepKind));
    expect([...stepKinds].filter((kind) => !used.has(kind))).toEqual([]);
    expect(result.spec.flags).toHaveLength(2);
  });
});
