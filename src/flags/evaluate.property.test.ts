import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compileRuleset, evaluateFlag, getVariant, isEnabled } from './evaluate.js';
import type { ClientRuleset, FlagContext } from './model.js';

const operators = ['IN', 'NOT_IN', 'STR_CONTAINS', 'STR_STARTS_WITH', 'STR_ENDS_WITH', 'NUM_EQ', 'NUM_GT', 'NUM_GTE', 'NUM_LT', 'NUM_LTE', 'DATE_AFTER', 'DATE_BEFORE', 'SEMVER_EQ', 'SEMVER_GT', 'SEMVER_GTE', 'SEMVER_LT', 'SEMVER_LTE', 'REGEX', 'IN_CIDR', 'BOGUS'];
const strategyNames = ['default', 'userWithId', 'gradualRolloutUserId', 'gradualRolloutSessionId', 'gradualRolloutRandom', 'flexibleRollout', 'remoteAddress', 'unknown'];
const fieldNames = ['userId', 'sessionId', 'remoteAddress', 'environment', 'currentTime', 'version', 'plan', 'constructor', '__proto__'];
/** Anything at all, or something close to the right shape: both must be survivable. */
const loose = <T>(arbitrary: fc.Arbitrary<T>) => fc.oneof(arbitrary, fc.anything());
const textValue = fc.oneof(fc.string(), fc.constantFrom('1.2.3', '1.0.0-rc.1', '10.0.0.0/8', '::1', '(a', '^a.*$', '2024-01-01T00:00:00Z', '42', ''));

const constraint = loose(
  fc.record(
    {
      contextName: fc.constantFrom(...fieldNames),
      operator: fc.constantFrom(...operators),
      values: fc.array(textValue, { maxLength: 3 }),
      value: textValue,
      inverted: fc.boolean(),
      caseInsensitive: fc.boolean(),
    },
    { requiredKeys: ['contextName', 'operator'] },
  ),
);
const variant = loose(fc.record({ name: fc.string(), weight: fc.oneof(fc.integer({ min: -5, max: 1000 }), fc.double()), stickiness: fc.constantFrom('default', 'userId', 'plan', 'random'), overrides: fc.array(fc.record({ contextName: fc.constantFrom(...fieldNames), values: fc.array(fc.string()) }), { maxLength: 2 }) }, { requiredKeys: ['name', 'weight'] }));
const strategy = loose(
  fc.record(
    {
      name: fc.constantFrom(...strategyNames),
      parameters: fc.dictionary(fc.constantFrom('rollout', 'percentage', 'groupId', 'stickiness', 'userIds', 'IPs'), fc.oneof(textValue, fc.integer(), fc.boolean(), fc.constant(null))),
      constraints: fc.array(constraint, { maxLength: 3 }),
      segments: fc.array(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.anything()), { maxLength: 2 }),
      variants: fc.array(variant, { maxLength: 3 }),
    },
    { requiredKeys: ['name'] },
  ),
);
const flagNames = ['a', 'b', 'c'];
const feature = loose(
  fc.record({
    name: fc.constantFrom(...flagNames),
    enabled: fc.oneof(fc.boolean(), fc.anything()),
    strategies: fc.oneof(fc.array(strategy, { maxLength: 3 }), fc.anything()),
    variants: fc.array(variant, { maxLength: 3 }),
    dependencies: fc.array(loose(fc.record({ feature: fc.constantFrom(...flagNames, 'missing'), enabled: fc.boolean(), variants: fc.array(fc.string(), { maxLength: 2 }) })), { maxLength: 2 }),
  }),
);
const ruleset = loose(fc.record({ version: fc.constant(2), features: fc.array(feature, { maxLength: 4 }), segments: fc.array(loose(fc.record({ id: fc.integer({ min: 0, max: 3 }), constraints: fc.array(constraint, { maxLength: 2 }) })), { maxLength: 3 }) }));
const context = loose(fc.record({ userId: fc.string(), sessionId: fc.string(), remoteAddress: fc.constantFrom('10.1.2.3', '::1', 'nonsense'), currentTime: fc.oneof(fc.date({ noInvalidDate: true }).map((date) => date.toISOString()), fc.string()), properties: loose(fc.dictionary(fc.constantFrom(...fieldNames), fc.oneof(textValue, fc.constant(null)))) }, { requiredKeys: [] }));

describe('evaluator properties', () => {
  it('never throws, whatever the ruleset and context, and always answers with a well-formed evaluation', () => {
    fc.assert(
      fc.property(ruleset, context, fc.constantFrom(...flagNames, 'missing'), (rules, ctx, name) => {
        const compiled = compileRuleset(rules as ClientRuleset);
        const answer = evaluateFlag(compiled, name, ctx as FlagContext);
        // evaluateFlag catches as a last resort; GENERAL would mean an input reached code that threw.
        expect(answer.errorCode).not.toBe('GENERAL');
        expect(typeof answer.enabled).toBe('boolean');
        expect(answer.variant.featureEnabled).toBe(answer.enabled);
        if (answer.variant.enabled) expect(answer.enabled).toBe(true);
        expect(typeof isEnabled(compiled, name, ctx as FlagContext)).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('a rollout is monotonic: whoever is in at p% stays in at any q > p with the same groupId', () => {
    const flagAt = (rollout: number): ClientRuleset => ({ version: 2, features: [{ name: 'f', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: String(rollout), stickiness: 'default', groupId: 'g' } }] }] });
    const compiled = Array.from({ length: 101 }, (_, rollout) => compileRuleset(flagAt(rollout)));
    fc.assert(
      fc.property(fc.string({ minLength: 1, unit: 'grapheme' }), fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 100 }), (userId, p, q) => {
        const [low, high] = p <= q ? [p, q] : [q, p];
        if (isEnabled(compiled[low]!, 'f', { userId })) expect(isEnabled(compiled[high]!, 'f', { userId })).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });

  it('variants are drawn in proportion to their weights', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 2, maxLength: 5 }), fc.string({ maxLength: 8 }), (weights, salt) => {
        const variants = weights.map((weight, index) => ({ name: `v${index}`, weight }));
        const rules = compileRuleset({ version: 2, features: [{ name: `f${salt}`, enabled: true, strategies: [], variants }] });
        const draws = 20_000;
        const counts = new Map<string, number>();
        for (let index = 0; index < draws; index++) {
          const name = getVariant(rules, `f${salt}`, { userId: `user-${index}` }).name;
          counts.set(name, (counts.get(name) ?? 0) + 1);
        }
        const total = weights.reduce((sum, weight) => sum + weight, 0);
        for (const [index, weight] of weights.entries()) {
          const expected = (draws * weight) / total;
          // Five standard deviations of a binomial count: a real bias fails, chance does not.
          const tolerance = 5 * Math.sqrt(draws * (weight / total) * (1 - weight / total)) + 1;
          expect(Math.abs((counts.get(`v${index}`) ?? 0) - expected)).toBeLessThanOrEqual(tolerance);
        }
      }),
      { numRuns: 25 },
    );
  });
});
