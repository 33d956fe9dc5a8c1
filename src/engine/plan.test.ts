import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { describeStep, PlanError, planRollout } from './plan.js';

function spec(strategies: string, extra = ''): PromoteSpec {
  const text = `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: main
strategies:
${strategies}
${extra}`;
  const result = parseSpec(text, { file: 'promote.yaml' });
  if (!result.ok) throw new Error(result.problems.map((problem) => `${problem.line}: ${problem.message}`).join('\n'));
  return result.spec;
}

describe('planRollout', () => {
  it('plans the shipped example step by step', async () => {
    const text = await readFile(new URL('../../examples/promote.yaml', import.meta.url), 'utf8');
    const result = parseSpec(text, { file: 'examples/promote.yaml' });
    if (!result.ok) throw new Error('example invalid');
    const plan = planRollout(result.spec, 'production');
    expect(plan.app).toBe('orders');
    expect(plan.steps.length).toBeGreaterThan(5);
    expect(plan.steps.at(-1)).toEqual({ kind: 'migrate', phase: 'contract' });
  });

  it('makes blue-green wait for a person before the switch unless autoPromote is on', () => {
    const manual = planRollout(spec(`  main:\n    type: blueGreen\n    steps:\n      - test: { name: smoke, run: "true" }\n      - promote: {}\n`), 'production');
    expect(manual.steps.map(describeStep)).toEqual(['test smoke', 'pause until resumed', 'promote']);
    expect(manual.scaleDownDelay).toBe(30_000);
    const automatic = planRollout(spec(`  main:\n    type: blueGreen\n    autoPromote: true\n    steps:\n      - promote: {}\n`), 'production');
    expect(automatic.steps.map(describeStep)).toEqual(['promote']);
  });

  // a rollback is one command: it returns to a release that was Healthy here, so it neither judges it
  // again (analysis), nor changes the schema (migrate), nor steps through weights, pauses, approvals
  // or flag changes, nor waits for a person to switch (the blue-green gate); its tests still run
  it.each([
    { type: 'blueGreen', autoPromote: false, rollback: false, steps: ['migrate expand', 'test smoke', 'analysis errors', 'pause until resumed', 'promote'] },
    { type: 'blueGreen', autoPromote: false, rollback: true, steps: ['test smoke', 'promote'] },
    { type: 'blueGreen', autoPromote: true, rollback: false, steps: ['migrate expand', 'test smoke', 'analysis errors', 'promote'] },
    { type: 'blueGreen', autoPromote: true, rollback: true, steps: ['test smoke', 'promote'] },
    { type: 'canary', autoPromote: undefined, rollback: false, steps: ['migrate expand', 'test smoke', 'analysis errors', 'promote'] },
    { type: 'canary', autoPromote: undefined, rollback: false, extra: true, steps: ['migrate expand', 'test smoke', 'analysis errors', 'setWeight 20', 'pause until resumed', 'approval (1)', 'setFlag new-checkout', 'promote'] },
    { type: 'canary', autoPromote: undefined, rollback: true, extra: true, steps: ['test smoke', 'promote'] },
    { type: 'canary', autoPromote: undefined, rollback: true, steps: ['test smoke', 'promote'] },
  ])('plans $type (autoPromote $autoPromote, rollback $rollback) as $steps', ({ type, autoPromote, rollback, steps, extra }) => {
    const more = extra ? '      - setWeight: 20\n      - pause: {}\n      - approval: { count: 1 }\n      - setFlag: { flag: new-checkout, enabled: true }\n' : '';
    const strategy = `  main:\n    type: ${type}\n${autoPromote === undefined ? '' : `    autoPromote: ${String(autoPromote)}\n`}    steps:\n      - migrate: expand\n      - test: { name: smoke, run: "true" }\n      - analysis: { templates: [errors] }\n${more}      - promote: {}\n`;
    const templates = 'analysis:\n  templates:\n    errors:\n      provider: { type: builtin, metric: error_rate }\n      judge: { type: threshold, condition: "value < 0.01" }\n';
    expect(planRollout(spec(strategy, templates), 'production', { rollback }).steps.map(describeStep)).toEqual(steps);
  });

  it('rejects at plan time, with the position of each, steps that cannot run', () => {
    const steps = `  main:
    type: canary
    steps:
      - setFlag: { flag: new-checkout, enabled: true }
      - migrate: { phase: expand, migrations: [0042_split_name] }
      - promote: {}
      - setWeight: 50
`;
    try {
      planRollout(spec(steps), 'production', { knownFlags: new Set(['old-flag']), knownMigrations: new Set(['0041_add_status']) });
      expect.unreachable();
    } catch (error) {
      expect(error).toBeInstanceOf(PlanError);
      expect((error as PlanError).problems.map(({ path, message }) => ({ path, message }))).toEqual([
        { path: 'strategies.main.steps[0].setFlag.flag', message: 'no flag "new-checkout" in promote.yaml or the flag store' },
        { path: 'strategies.main.steps[1].migrate.migrations', message: 'no migration "0042_split_name" in the migrations folder' },
        { path: 'strategies.main.steps[3]', message: 'setWeight after the `promote` step: traffic has already switched fully to the new version' },
      ]);
      expect((error as PlanError).exitCode).toBe(2);
    }
  });

  it('refuses an environment that does not exist', () => {
    expect(() => planRollout(spec(`  main:\n    type: canary\n    steps:\n      - promote: {}\n`), 'staging')).toThrow(/no environment "staging" in promote.yaml; expected one of production/);
  });
});

describe('describeStep', () => {
  it('names a timed pause by its duration as written, sub-second ones too', () => {
    expect([300, 1_000, 90_000, 5_400_000].map((duration) => describeStep({ kind: 'pause', duration }))).toEqual(['pause 300ms', 'pause 1s', 'pause 1m30s', 'pause 1h30m']);
  });
});
