/**
 * Every promote.yaml under examples/ (found on disk when the tests run, so a new example is covered
 * without touching this file) is what a newcomer copies first: it must pass `promote validate` as is,
 * with no environment variables set, and every environment's strategy must be one `promote deploy`
 * can plan (the planner refuses some step orders that the file's schema accepts).
 */
import { readdir } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { planRollout } from '../src/engine/plan.js';
import { loadSpec, stepKind, type PromoteSpec } from '../src/spec/index.js';
import { runInProcess } from './helpers/cli.js';

const repoRoot = fileURLToPath(new URL('..', import.meta.url));
const examplesDir = join(repoRoot, 'examples');

async function findExamples(): Promise<string[]> {
  const entries = await readdir(examplesDir, { recursive: true, withFileTypes: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name === 'promote.yaml')
    .map((entry) => relative(repoRoot, join(entry.parentPath, entry.name)))
    .sort();
}

const examples = await findExamples();

async function load(file: string): Promise<PromoteSpec> {
  const result = await loadSpec(join(repoRoot, file), {});
  expect(result.problems).toEqual([]);
  if (!result.ok) throw new Error(`${file} did not load`);
  return result.spec;
}

describe('examples/**/promote.yaml', () => {
  it('finds the shipped examples', () => {
    // the demo's and the minimal one at least; a glob that silently found nothing would pass everything
    expect(examples).toContain('examples/minimal/promote.yaml');
    expect(examples.length).toBeGreaterThanOrEqual(2);
  });

  describe.each(examples)('%s', (file) => {
    it('passes `promote validate` with no environment variables set', async () => {
      const result = await runInProcess(['validate', file, '--json'], { cwd: repoRoot, env: {} });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(JSON.parse(result.stdout)).toMatchObject({ ok: true, file: join(repoRoot, file) });
    });

    it('plans a rollout, and a rollback, to each of its environments', async () => {
      const spec = await load(file);
      for (const environment of spec.environments) {
        expect(planRollout(spec, environment.name).steps.some((step) => step.kind === 'promote')).toBe(true);
        expect(planRollout(spec, environment.name, { rollback: true }).steps.some((step) => step.kind === 'promote')).toBe(true);
      }
    });
  });
});

describe('examples/minimal/promote.yaml', () => {
  const file = 'examples/minimal/promote.yaml';

  it('promotes through staging to production with a canary judged by the router metrics', async () => {
    const spec = await load(file);
    expect(spec.environments.map((environment) => [environment.name, environment.target.type, environment.strategy])).toEqual([
      ['staging', 'process', 'canary'],
      ['production', 'process', 'canary'],
    ]);
    const canary = spec.strategies.canary;
    expect(canary?.steps.map(stepKind)).toEqual(['migrate', 'setWeight', 'analysis', 'setWeight', 'analysis', 'promote', 'migrate']);
    const analysis = canary?.steps.find((step) => 'analysis' in step);
    const templates = analysis && 'analysis' in analysis ? analysis.analysis.templates : [];
    expect(templates.map((name) => spec.analysis?.templates?.[name]?.provider)).toEqual([
      expect.objectContaining({ type: 'builtin', metric: 'error_rate' }),
      expect.objectContaining({ type: 'builtin', metric: 'latency' }),
    ]);
  });

  it('gives each environment its own router addresses, so one `promote server` can run both', async () => {
    // the schema defaults every router's admin port to the same address: two routers on one
    // machine then collide, and nothing before `promote server` says so
    const spec = await load(file);
    const addresses = spec.environments.flatMap((environment) => (environment.router ? [environment.router.listen, environment.router.admin] : []));
    expect(addresses).toHaveLength(2 * spec.environments.length);
    expect(new Set(addresses).size).toBe(addresses.length);
  });
});
