import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parseSpec } from './load.js';
import { stepKind, type StepSpec } from './schema-steps.js';

const firstStepLine = 18;

/** A valid spec whose canary strategy has the given steps, one per line, starting at line 18. */
function specWithSteps(steps: readonly string[]): string {
  return `version: 1
app:
  name: orders
environments:
  - name: staging
    database: postgres://localhost/orders
    target: { type: process, command: node server.js }
    strategy: canary
analysis:
  templates:
    error-rate:
      provider: { type: builtin, metric: error_rate }
      judge: { type: threshold, condition: "value < 0.01" }
strategies:
  canary:
    type: canary
    steps:
${steps.map((step) => `      - ${step}`).join('\n')}
integrity:
  checks:
    orders-totals: { type: notNull, table: orders, columns: [total] }
`;
}

function parseSteps(steps: readonly string[]) {
  return parseSpec(specWithSteps(steps), { file: 'promote.yaml' });
}

function stepsOf(steps: readonly string[]): StepSpec[] {
  const result = parseSteps(steps);
  if (!result.ok) throw new Error(result.problems.map((problem) => `${problem.line} ${problem.path}: ${problem.message}`).join('\n'));
  return result.spec.strategies.canary?.steps ?? [];
}

function messagesOf(steps: readonly string[]) {
  return parseSteps(steps).problems.map((problem) => ({ line: problem.line, path: problem.path, message: problem.message }));
}

describe('steps', () => {
  it('parses every step kind into its normalized form', () => {
    const steps = stepsOf([
      'migrate: expand',
      'migrate: { phase: expand, migrations: [add-status] }',
      'test: { name: smoke, run: ./smoke.sh }',
      'test: { name: health, http: { path: /healthz }, timeout: 30s }',
      'setWeight: 12.5',
      'pause: {}',
      'pause: { duration: 5m }',
      'pause:',
      'analysis: { templates: [error-rate] }',
      'setFlag: { flag: new-checkout, rollout: 25 }',
      'approval: { after: [smoke], expires: 1h, validFor: 30m }',
      'verify: { checks: [orders-totals] }',
      'promote: {}',
      'migrate: contract',
    ]);
    expect(steps).toEqual([
      { migrate: { phase: 'expand' } },
      { migrate: { phase: 'expand', migrations: ['add-status'] } },
      { test: { name: 'smoke', run: './smoke.sh', timeout: 300_000 } },
      { test: { name: 'health', http: { path: '/healthz', method: 'GET', expectStatus: 200 }, timeout: 30_000 } },
      { setWeight: 12.5 },
      { pause: {} },
      { pause: { duration: 300_000 } },
      { pause: {} },
      { analysis: { templates: ['error-rate'], background: false, continuous: false, score: { pass: 100, marginal: 100 } } },
      { setFlag: { flag: 'new-checkout', rollout: 25 } },
      { approval: { count: 1, after: ['smoke'], expires: 3_600_000, validFor: 1_800_000 } },
      { verify: { checks: ['orders-totals'] } },
      { promote: {} },
      { migrate: { phase: 'contract' } },
    ]);
    expect(steps.map(stepKind)).toEqual([
      'migrate', 'migrate', 'test', 'test', 'setWeight', 'pause', 'pause', 'pause', 'analysis', 'setFlag', 'approval', 'verify', 'promote', 'migrate',
    ]);
  });

  it('names an unknown step, the known ones and the likely intended one', () => {
    expect(messagesOf(['setWieght: 10', 'promote: {}'])).toEqual([
      {
        line: firstStepLine,
        path: 'strategies.canary.steps[0].setWieght',
        message: 'unknown step "setWieght"; expected one of migrate, test, setWeight, pause, analysis, setFlag, approval, verify, promote (did you mean "setWeight"?)',
      },
    ]);
  });

  it('says that a step has exactly one key and which keys it has', () => {
    expect(messagesOf(['{ setWeight: 10, pause: {} }', 'promote: {}'])).toEqual([
      {
        line: firstStepLine,
        path: 'strategies.canary.steps[0]',
        message: 'a step has exactly one key, this one has 2: setWeight, pause; make each its own list item',
      },
    ]);
  });

  it('explains a step written as a bare word', () => {
    expect(messagesOf(['setWeight: 10', 'promote'])).toEqual([
      { line: firstStepLine + 1, path: 'strategies.canary.steps[1]', message: 'a step is an object with one key: write "promote: {}"' },
    ]);
  });

  it('rejects a weight above 100 and one with three decimals', () => {
    expect(messagesOf(['setWeight: 120', 'setWeight: 10.005', 'promote: {}'])).toEqual([
      { line: firstStepLine, path: 'strategies.canary.steps[0].setWeight', message: 'expected a number from 0 to 100, got 120' },
      { line: firstStepLine + 1, path: 'strategies.canary.steps[1].setWeight', message: 'expected a number from 0 to 100 with at most 2 decimals, got 10.005' },
    ]);
  });

  it('requires exactly one of run and http in a test, and enabled, rollout or variants in setFlag', () => {
    expect(messagesOf(['test: { name: smoke }', 'test: { name: both, run: x, http: { path: /a } }', 'setFlag: { flag: a }']).map((problem) => problem.message)).toEqual([
      'a test needs "run" or "http"',
      'a test takes only one of "run" or "http", got run and http',
      'setFlag needs "enabled", "rollout", "variants" or a combination',
    ]);
  });

  it('accepts every weight from 0 to 100 in steps of 0.01', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 10_000 }), (hundredths) => {
        const weight = hundredths / 100;
        expect(stepsOf([`setWeight: ${weight}`])).toEqual([{ setWeight: weight }]);
      }),
      { numRuns: 200 },
    );
  });

  it('rejects every weight outside 0..100 with a positioned problem', () => {
    const outOfRange = fc.oneof(fc.double({ min: 100.000001, max: 1e9, noNaN: true }), fc.double({ min: -1e9, max: -0.000001, noNaN: true }));
    fc.assert(
      fc.property(outOfRange, (weight) => {
        const problems = parseSteps([`setWeight: ${weight}`]).problems;
        expect(problems.length).toBeGreaterThan(0);
        expect(problems).toContainEqual(
          expect.objectContaining({ line: firstStepLine, column: 20, path: 'strategies.canary.steps[0].setWeight', message: `expected a number from 0 to 100, got ${weight}` }),
        );
      }),
      { numRuns: 200 },
    );
  });
});
