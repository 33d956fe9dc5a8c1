import { describe, expect, it } from 'vitest';
import { parseSpec } from './load.js';
import { checkSemantics } from './semantic.js';

function baseSpec(overrides: { strategies?: Record<string, unknown>; environments?: unknown[]; flags?: unknown[]; templates?: Record<string, unknown> } = {}) {
  return {
    version: 1,
    app: { name: 'orders' },
    environments: overrides.environments ?? [
      { name: 'staging', database: 'postgres://s/db', target: { type: 'process', command: 'x' }, strategy: 'canary' },
      { name: 'production', database: 'postgres://p/db', target: { type: 'process', command: 'x' }, strategy: 'canary' },
    ],
    strategies: overrides.strategies ?? { canary: { type: 'canary', steps: [{ promote: {} }] } },
    analysis: { templates: overrides.templates ?? { 'error-rate': {} } },
    flags: overrides.flags ?? [],
  };
}

const canary = (...steps: unknown[]) => ({ canary: { type: 'canary', steps } });

describe('checkSemantics', () => {
  it('finds nothing wrong in a consistent spec', () => {
    expect(checkSemantics(baseSpec())).toEqual([]);
  });

  it('reports two routers on one address, counting the defaults, and lets port 0 repeat', () => {
    const withRouters = (staging: unknown, production: unknown) =>
      baseSpec({ environments: (baseSpec().environments as object[]).map((environment, index) => ({ ...environment, router: index === 0 ? staging : production })) });
    expect(checkSemantics(withRouters({ listen: '127.0.0.1:8081' }, { listen: '127.0.0.1:8080' }))).toEqual([
      { path: ['environments', 1, 'router'], message: 'environments[1].router.admin (its default) is 127.0.0.1:9464, which environments[0].router.admin (its default) already uses: every router and admin port needs its own address' },
    ]);
    expect(checkSemantics(withRouters({ listen: '127.0.0.1:8080', admin: '127.0.0.1:9465' }, { admin: '127.0.0.1:9466' }))).toEqual([
      { path: ['environments', 1, 'router'], message: 'environments[1].router.listen (its default) is 127.0.0.1:8080, which environments[0].router.listen already uses: every router and admin port needs its own address' },
    ]);
    expect(checkSemantics(withRouters({ listen: '127.0.0.1:0', admin: '127.0.0.1:0' }, { listen: '127.0.0.1:0', admin: '127.0.0.1:0' }))).toEqual([]);
  });

  it('reports a duplicate environment name at the second one', () => {
    const environments = [...baseSpec().environments, { name: 'staging', strategy: 'canary' }];
    expect(checkSemantics(baseSpec({ environments }))).toEqual([
      { path: ['environments', 2, 'name'], message: 'duplicate environment name "staging" (first used at environments[0])' },
    ]);
  });

  it('reports duplicate flag names, and accepts distinct ones', () => {
    expect(checkSemantics(baseSpec({ flags: [{ name: 'a' }, { name: 'b' }] }))).toEqual([]);
    expect(checkSemantics(baseSpec({ flags: [{ name: 'a' }, { name: 'a' }] }))).toEqual([
      { path: ['flags', 1, 'name'], message: 'duplicate flag name "a" (first used at flags[0])' },
    ]);
  });

  it('reports an environment strategy that does not exist and lists the known ones', () => {
    const environments = [{ name: 'staging', strategy: 'canry' }];
    expect(checkSemantics(baseSpec({ environments }))).toEqual([
      { path: ['environments', 0, 'strategy'], message: 'unknown strategy "canry"; strategies defines canary (did you mean "canary"?)' },
    ]);
  });

  it('reports analysis steps naming templates that do not exist', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ analysis: { templates: ['error-rate'] } }, { promote: {} }) }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: canary({ analysis: { templates: ['error-rate', 'latency'] } }, { promote: {} }) }))).toEqual([
      { path: ['strategies', 'canary', 'steps', 0, 'analysis', 'templates', 1], message: 'unknown analysis template "latency"; analysis.templates defines error-rate' },
    ]);
  });

  it('reports flag safeguards naming unknown templates or templates that compare two versions', () => {
    const templates = { errors: { judge: { type: 'threshold' } }, latency: { judge: { type: 'compare', test: 'mann-whitney' } } };
    expect(checkSemantics(baseSpec({ templates, flags: [{ name: 'a', safeguards: { templates: ['errors'] } }] }))).toEqual([]);
    expect(checkSemantics(baseSpec({ templates, flags: [{ name: 'a' }, { name: 'b', safeguards: { templates: ['errros', 'latency'] } }] }))).toEqual([
      { path: ['flags', 1, 'safeguards', 'templates', 0], message: 'unknown analysis template "errros"; analysis.templates defines errors, latency (did you mean "errors"?)' },
      { path: ['flags', 1, 'safeguards', 'templates', 1], message: 'template "latency" compares two versions, and a flag\'s safeguard has only one to measure: use a template with a threshold judge' },
    ]);
  });

  it('reports verify steps naming integrity checks that do not exist, and schema checks against unknown environments', () => {
    const spec = (checks: Record<string, unknown>, names: string[]) => ({ ...baseSpec({ strategies: canary({ verify: { checks: names } }, { promote: {} }) }), integrity: { checks } });
    expect(checkSemantics(spec({ totals: { type: 'sql', query: 'select 1 where false' } }, ['totals']))).toEqual([]);
    expect(checkSemantics(spec({ totals: { type: 'sql' } }, ['totls']))).toEqual([
      { path: ['strategies', 'canary', 'steps', 0, 'verify', 'checks', 0], message: 'unknown integrity check "totls"; integrity.checks defines totals (did you mean "totals"?)' },
    ]);
    expect(checkSemantics(spec({ shape: { type: 'schema', against: 'stagin' } }, ['shape']))).toEqual([
      { path: ['integrity', 'checks', 'shape', 'against'], message: 'unknown environment "stagin"; environments are staging, production (did you mean "staging"?)' },
    ]);
  });

  it('reports compare judges whose provider cannot give the data their test needs', () => {
    const template = (provider: Record<string, unknown>, test: string) => ({ t: { provider, judge: { type: 'compare', test } } });
    const problemsOf = (provider: Record<string, unknown>, test: string) => checkSemantics(baseSpec({ templates: template(provider, test) })).map((problem) => problem.message);
    expect(problemsOf({ type: 'builtin', metric: 'latency' }, 'mannWhitney')).toEqual([]);
    expect(problemsOf({ type: 'builtin', metric: 'error_rate' }, 'twoProportion')).toEqual([]);
    expect(problemsOf({ type: 'prometheus', query: 'up', range: '5m' }, 'ks')).toEqual([]);
    expect(problemsOf({ type: 'builtin', metric: 'latency_p99' }, 'tail')).toEqual(['tail compares raw samples: use it with the builtin metric latency (latency_p99 is one number per window)']);
    expect(problemsOf({ type: 'builtin', metric: 'latency' }, 'twoProportion')).toEqual(['twoProportion compares error counts: use it with the builtin metric error_rate, not latency']);
    expect(problemsOf({ type: 'prometheus', query: 'up' }, 'mannWhitney')[0]).toMatch(/^mannWhitney compares samples: give the prometheus provider a range/);
    expect(problemsOf({ type: 'feedback' }, 'twoProportion')[0]).toMatch(/^twoProportion needs event counts/);
    expect(checkSemantics(baseSpec({ templates: template({ type: 'builtin', metric: 'request_rate' }, 'ks') }))[0]?.path).toEqual(['analysis', 'templates', 't', 'judge', 'test']);
  });

  it('reports a continuous analysis that is not in the background', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ analysis: { templates: ['error-rate'], continuous: true } }, { promote: {} }) }))).toEqual([
      { path: ['strategies', 'canary', 'steps', 0, 'analysis', 'continuous'], message: 'a continuous analysis runs beside the later steps: add `background: true`' },
    ]);
    expect(checkSemantics(baseSpec({ strategies: canary({ analysis: { templates: ['error-rate'], continuous: true, background: true } }, { promote: {} }) }))).toEqual([]);
  });

  it('reports a marginal score above the pass score', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ analysis: { templates: ['error-rate'], score: { pass: 80, marginal: 90 } } }, { promote: {} }) }))).toEqual([
      { path: ['strategies', 'canary', 'steps', 0, 'analysis', 'score', 'marginal'], message: 'the marginal score (90) must not be above the pass score (80)' },
    ]);
  });

  it('does not require setFlag flags to be declared in the file', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ setFlag: { flag: 'only-in-store', enabled: true } }, { promote: {} }) }))).toEqual([]);
  });

  it('allows only weights 0 and 100 in blueGreen strategies', () => {
    const blueGreen = (weight: number) => ({ bg: { type: 'blueGreen', steps: [{ setWeight: weight }, { promote: {} }] } });
    expect(checkSemantics(baseSpec({ strategies: { ...canary({ promote: {} }), ...blueGreen(0) } }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: { ...canary({ promote: {} }), ...blueGreen(100) } }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: { ...canary({ promote: {} }), ...blueGreen(50) } }))).toEqual([
      {
        path: ['strategies', 'bg', 'steps', 0, 'setWeight'],
        message: 'a blueGreen strategy switches all traffic at once: setWeight must be 0 or 100, got 50 (use type: canary for gradual weights)',
      },
    ]);
  });

  it('requires approval.after to name an earlier test step', () => {
    const test = { test: { name: 'smoke', run: 'x' } };
    expect(checkSemantics(baseSpec({ strategies: canary(test, { approval: { after: ['smoke'] } }, { promote: {} }) }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: canary({ approval: { after: ['smoke'] } }, test, { promote: {} }) }))).toEqual([
      {
        path: ['strategies', 'canary', 'steps', 0, 'approval', 'after', 0],
        message: 'approval waits for test "smoke", but no earlier test step in this strategy has that name',
      },
    ]);
  });

  it('refuses approval.validFor of zero, which no vote could ever meet', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ approval: { count: 2, validFor: '4h' } }, { promote: {} }) }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: canary({ approval: { validFor: '0s' } }, { promote: {} }) }))).toEqual([
      {
        path: ['strategies', 'canary', 'steps', 0, 'approval', 'validFor'],
        message: 'approval.validFor 0s would make every approval expire as it is given; use a duration above 0 (e.g. 4h), or leave it out so approvals do not expire',
      },
    ]);
  });

  it('requires migrate: contract to come after the promote step', () => {
    expect(checkSemantics(baseSpec({ strategies: canary({ migrate: 'expand' }, { promote: {} }, { migrate: 'contract' }) }))).toEqual([]);
    expect(checkSemantics(baseSpec({ strategies: canary({ migrate: { phase: 'contract' } }, { promote: {} }) }))).toEqual([
      {
        path: ['strategies', 'canary', 'steps', 0, 'migrate'],
        message: 'migrate: contract comes before the promote step (steps[1]); the old version still serves traffic until then and needs the old schema',
      },
    ]);
    expect(checkSemantics(baseSpec({ strategies: canary({ setWeight: 100 }, { migrate: 'contract' }) }))[0]?.message).toContain('needs a promote step before it');
  });

  it('copes with any shape of input', () => {
    for (const input of [null, 42, 'text', [], { environments: 'x', strategies: [1], flags: {} }, { strategies: { a: { steps: [null, 1, { analysis: 5 }] } } }]) {
      expect(() => checkSemantics(input)).not.toThrow();
    }
  });

  it('runs even when the schema finds problems, with positions', () => {
    const text = `version: 1
app: { name: orders }
environments:
  - name: staging
    database: postgres://s/db
    target: { type: process, command: x, instances: 0 }
    strategy: nope
strategies:
  canary: { type: canary, steps: [ { promote: {} } ] }
`;
    expect(parseSpec(text, { file: 'promote.yaml' }).problems.map((problem) => `${problem.line}:${problem.column} ${problem.message}`)).toEqual([
      '6:53 expected a whole number from 1 to 64, got 0',
      '7:15 unknown strategy "nope"; strategies defines canary',
    ]);
  });
});
