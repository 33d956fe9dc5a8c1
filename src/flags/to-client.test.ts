import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { flagSchema } from '../spec/schema-flags.js';
import { compileRuleset, evaluateFlag } from './evaluate.js';
import { clientVariants, toClientFeature } from './to-client.js';

const parse = (flag: unknown) => flagSchema.parse(flag);

describe('toClientFeature', () => {
  it('maps segment names to ids, leaves out disabled strategies and keeps the rest as written', () => {
    const flag = parse({
      name: 'checkout',
      type: 'experiment',
      enabled: true,
      impressionData: true,
      strategies: [
        { name: 'userWithId', parameters: { userIds: 'u9' }, disabled: true },
        { name: 'flexibleRollout', parameters: { rollout: 100, stickiness: 'userId', groupId: 'checkout' }, constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'] }], segments: ['beta', 'gone'] },
      ],
      dependencies: [{ feature: 'payments', variants: ['v2'] }],
    });
    const feature = toClientFeature(flag, new Map([['beta', 7]]));
    expect(feature).toEqual({
      name: 'checkout',
      enabled: true,
      type: 'experiment',
      description: null,
      impressionData: true,
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: 100, stickiness: 'userId', groupId: 'checkout' },
          constraints: [{ contextName: 'plan', operator: 'IN', values: ['pro'], inverted: false, caseInsensitive: false }],
          segments: [7, -1],
        },
      ],
      variants: [],
      dependencies: [{ feature: 'payments', variants: ['v2'] }],
    });
  });

  it('a strategy naming a segment the app lacks never matches once served', () => {
    const flag = parse({ name: 'f', enabled: true, strategies: [{ name: 'default', segments: ['missing'] }] });
    const rules = compileRuleset({ version: 2, features: [toClientFeature(flag, new Map())], segments: [] });
    expect(evaluateFlag(rules, 'f', { userId: 'u1' }).enabled).toBe(false);
  });

  it('gives variable variants equal shares of what the fixed ones leave, adding up to 1000', () => {
    const variants = clientVariants(parse({ name: 'f', variants: [{ name: 'a', weight: 250 }, { name: 'b' }, { name: 'c', weightType: 'variable' }, { name: 'd' }] }).variants ?? []);
    expect(variants.map((variant) => [variant.name, variant.weight, variant.weightType])).toEqual([
      ['a', 250, 'fix'],
      ['b', 250, 'variable'],
      ['c', 250, 'variable'],
      ['d', 250, 'variable'],
    ]);
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 200 }), { maxLength: 4 }), fc.integer({ min: 1, max: 7 }), (fixed, variableCount) => {
        const written = [...fixed.map((weight, index) => ({ name: `fix${index}`, weight })), ...Array.from({ length: variableCount }, (_, index) => ({ name: `var${index}` }))];
        const served = clientVariants(parse({ name: 'f', variants: written }).variants ?? []);
        expect(served.reduce((sum, variant) => sum + variant.weight, 0)).toBe(1000);
        const shares = served.filter((variant) => variant.weightType === 'variable').map((variant) => variant.weight);
        expect(Math.max(...shares) - Math.min(...shares)).toBeLessThanOrEqual(1);
      }),
    );
  });
});
