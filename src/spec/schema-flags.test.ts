import { describe, expect, it } from 'vitest';
import { formatPath } from './problems.js';
import { validateWithSchema } from './issues.js';
import { flagListSchema, flagSchema } from './schema-flags.js';
import { promoteSpecSchema } from './schema.js';
import { MIGRATION_STAGES } from '../flags/migration-stages.js';

/** The problems of one flag as `path: message` lines, or [] when it validates. */
function problems(flag: unknown): string[] {
  const result = validateWithSchema(flagSchema, flag);
  return result.ok ? [] : result.problems.map((problem) => `${formatPath(problem.path)}: ${problem.message}`);
}
const withConstraint = (constraint: Record<string, unknown>) => ({ name: 'f', enabled: true, strategies: [{ name: 'default', constraints: [constraint] }] });
const withVariants = (variants: unknown[], extra: Record<string, unknown> = {}) => ({ name: 'f', enabled: true, variants, ...extra });

describe('flag validation', () => {
  it('accepts a full admin-format flag', () => {
    const flag = {
      name: 'checkout.new-flow',
      description: 'new checkout',
      type: 'experiment',
      enabled: true,
      impressionData: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: 25, stickiness: 'userId', groupId: 'checkout' },
          constraints: [
            { contextName: 'version', operator: 'SEMVER_GTE', value: '2.0.0-rc.1' },
            { contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/8', '2001:db8::/32', '192.168.1.1'] },
            { contextName: 'email', operator: 'REGEX', value: '^[^@]+@example\\.com$', caseInsensitive: true },
            { contextName: 'currentTime', operator: 'DATE_AFTER', value: '2030-01-31T12:00:00Z' },
            { contextName: 'age', operator: 'NUM_GTE', value: '18' },
          ],
          segments: ['beta-users'],
          variants: [{ name: 'blue', weight: 500, weightType: 'fix' }, { name: 'green' }],
        },
      ],
      variants: [{ name: 'a', weight: 600, payload: { type: 'json', value: '{"x":1}' }, overrides: [{ contextName: 'userId', values: ['u1'] }] }, { name: 'b', weightType: 'variable', stickiness: 'sessionId' }],
      dependencies: [{ feature: 'parent', enabled: true, variants: ['on'] }],
    };
    expect(problems(flag)).toEqual([]);
  });

  it('names the field and the reason for every bad constraint value', () => {
    expect(problems(withConstraint({ contextName: 'userId', operator: 'REGEX', value: '^(?=a)b' }))[0]).toMatch(/^strategies\[0\]\.constraints\[0\]\.value: not a regular expression RE2 accepts .*: .+/);
    expect(problems(withConstraint({ contextName: 'userId', operator: 'REGEX', value: '(a' }))[0]).toMatch(/constraints\[0\]\.value: not a regular expression RE2 accepts.*missing closing \)/i);
    expect(problems(withConstraint({ contextName: 'v', operator: 'SEMVER_LT', value: 'v1.2.3' }))).toEqual(['strategies[0].constraints[0].value: expected a semantic version like 1.2.3 or 2.0.0-rc.1 (no leading "v"), got "v1.2.3"']);
    expect(problems(withConstraint({ contextName: 'v', operator: 'SEMVER_EQ', value: '1.2' }))[0]).toContain('expected a semantic version');
    expect(problems(withConstraint({ contextName: 'n', operator: 'NUM_GT', value: 'ten' }))).toEqual(['strategies[0].constraints[0].value: expected a number like 42 or 3.5, got "ten"']);
    expect(problems(withConstraint({ contextName: 'currentTime', operator: 'DATE_BEFORE', value: 'next tuesday' }))[0]).toContain('constraints[0].value: expected an ISO 8601 date and time');
    expect(problems(withConstraint({ contextName: 'ip', operator: 'IN_CIDR', values: ['10.0.0.0/8', '10.0.0.0/40'] }))).toEqual([
      'strategies[0].constraints[0].values[1]: expected an IP address or CIDR range like 10.0.0.0/8 or 2001:db8::/32, got "10.0.0.0/40"',
    ]);
    expect(problems(withConstraint({ contextName: 'userId', operator: 'LIKE', values: ['a'] }))[0]).toMatch(/^strategies\[0\]\.constraints\[0\]\.operator: expected one of IN, NOT_IN, .*SEMVER_GTE.*IN_CIDR|^strategies\[0\]\.constraints\[0\]\.operator: expected one of .*IN_CIDR/);
    expect(problems(withConstraint({ contextName: 'userId', operator: 'IN', value: 'a' }))[0]).toContain('operator IN needs "values"');
  });

  it('refuses variant weights above the total, duplicate names and bad payloads', () => {
    expect(problems(withVariants([{ name: 'a', weight: 600 }, { name: 'b', weight: 500 }]))).toEqual(['variants: the fixed variant weights add up to 1100, above the total of 1000']);
    expect(problems(withVariants([{ name: 'a', weight: 1001 }]))[0]).toMatch(/^variants\[0\]\.weight: /);
    expect(problems(withVariants([{ name: 'a' }, { name: 'a' }]))).toEqual(['variants[1].name: duplicate variant name "a" (first used at variants[0])']);
    expect(problems(withVariants([{ name: 'a', weightType: 'fix' }]))).toEqual(['variants[0].weight: a "fix" variant needs a weight (0 to 1000)']);
    expect(problems(withVariants([{ name: 'a', payload: { type: 'number', value: 'x' } }]))).toEqual(['variants[0].payload.value: expected a number for a number payload, got "x"']);
    expect(problems(withVariants([{ name: 'a', payload: { type: 'json', value: '{' } }]))[0]).toMatch(/^variants\[0\]\.payload\.value: expected JSON for a json payload: /);
    const strategyVariants = { name: 'f', strategies: [{ name: 'default', variants: [{ name: 'x', weight: 700 }, { name: 'y', weight: 700 }] }] };
    expect(problems(strategyVariants)).toEqual(['strategies[0].variants: the fixed variant weights add up to 1400, above the total of 1000']);
  });

  it('checks strategy parameters that would otherwise never match', () => {
    expect(problems({ name: 'f', strategies: [{ name: 'flexibleRollout', parameters: { rollout: 150 } }] })).toEqual(['strategies[0].parameters.rollout: expected a percentage from 0 to 100, got 150']);
    expect(problems({ name: 'f', strategies: [{ name: 'remoteAddress', parameters: { IPs: '10.0.0.1, nope' } }] })).toEqual(['strategies[0].parameters.IPs: expected IP addresses or CIDR ranges like 10.0.0.0/8, got "nope"']);
    expect(problems({ name: 'f', strategies: [{ name: 'userWithId' }] })).toEqual(['strategies[0].parameters.userIds: userWithId needs userIds: a comma-separated list of user ids']);
    expect(problems({ name: 'f', strategies: [{ name: 'applicationHostname' }] })[0]).toMatch(/^strategies\[0\]\.name: expected one of default, userWithId/);
  });

  it('a migration flag has its stages as variants, and only those', () => {
    expect(MIGRATION_STAGES).toEqual(['off', 'dual-write', 'shadow', 'live', 'ramp-down', 'complete']);
    expect(problems({ name: 'orders-move', type: 'migration', enabled: true, variants: [{ name: 'shadow', weight: 1000 }] })).toEqual([]);
    expect(problems({ name: 'orders-move', type: 'migration', enabled: true, variants: [{ name: 'canary', weight: 1000 }] })).toEqual([
      'variants[0].name: a migration flag\'s variants are its stages: expected one of off, dual-write, shadow, live, ramp-down, complete, got "canary"',
    ]);
    expect(problems({ name: 'orders-move', type: 'migration', enabled: true })).toEqual(['variants: a migration flag needs its stage as a variant: one of off, dual-write, shadow, live, ramp-down, complete']);
  });

  it('refuses a flag depending on itself, a cycle in a list, and a parent that has parents', () => {
    expect(problems({ name: 'a', dependencies: [{ feature: 'a' }] })).toEqual(['dependencies[0].feature: flag a cannot depend on itself']);
    const listProblems = (flags: unknown[]) => {
      const result = validateWithSchema(flagListSchema, flags);
      return result.ok ? [] : result.problems.map((problem) => `${formatPath(problem.path)}: ${problem.message}`);
    };
    expect(listProblems([{ name: 'a', dependencies: [{ feature: 'b' }] }, { name: 'b', dependencies: [{ feature: 'a' }] }])).toEqual(['[0].dependencies: flags depend on each other in a cycle: a -> b -> a']);
    expect(listProblems([{ name: 'a', dependencies: [{ feature: 'b' }] }, { name: 'b', dependencies: [{ feature: 'c' }] }, { name: 'c' }])).toEqual([
      '[0].dependencies[0].feature: b depends on c itself; a parent flag cannot have parents (Unleash evaluates one level, so a would always be off)',
    ]);
    expect(listProblems([{ name: 'a', dependencies: [{ feature: 'b' }] }, { name: 'b' }])).toEqual([]);
  });

  it('promote.yaml reports a dependency cycle among its flags at the flag that starts it', () => {
    const result = validateWithSchema(promoteSpecSchema, { flags: [{ name: 'x' }, { name: 'a', dependencies: [{ feature: 'b' }] }, { name: 'b', dependencies: [{ feature: 'a' }] }] });
    const flagProblems = result.ok ? [] : result.problems.filter((problem) => problem.path[0] === 'flags').map((problem) => `${formatPath(problem.path)}: ${problem.message}`);
    expect(flagProblems).toEqual(['flags[1].dependencies: flags depend on each other in a cycle: a -> b -> a']);
  });
});
