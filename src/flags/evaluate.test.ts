import { describe, expect, it } from 'vitest';
import { applyDelta } from './delta.js';
import { findDependencyCycle } from './dependencies.js';
import { compileRuleset, evaluateFlag, getVariant, isEnabled } from './evaluate.js';
import { parseIp, parseIpRange, rangeContains } from './ip.js';
import type { ClientFeature, ClientRuleset, Constraint, FlagContext } from './model.js';

const rulesetOf = (features: ClientFeature[], segments: ClientRuleset['segments'] = []): ClientRuleset => ({ version: 2, features, segments });
const withConstraint = (constraint: Constraint): ClientRuleset => rulesetOf([{ name: 'f', enabled: true, strategies: [{ name: 'default', constraints: [constraint] }] }]);
const matches = (constraint: Constraint, context: FlagContext) => isEnabled(compileRuleset(withConstraint(constraint)), 'f', context);

describe('reasons and error codes', () => {
  const rules = compileRuleset(
    rulesetOf([
      { name: 'off', enabled: false, strategies: [] },
      { name: 'on', enabled: true, strategies: [] },
      { name: 'targeted', enabled: true, strategies: [{ name: 'default', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }] }] },
      { name: 'split', enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: '50', stickiness: 'userId', groupId: 'split' } }] },
      { name: 'variants', enabled: true, strategies: [], variants: [{ name: 'a', weight: 500 }, { name: 'b', weight: 500, overrides: [{ contextName: 'userId', values: ['vip'] }] }] },
      { name: 'broken', enabled: true, strategies: 'nope' as unknown as [] },
    ]),
  );

  it('answers each case with the reason that decided it', () => {
    expect(evaluateFlag(rules, 'off', {})).toMatchObject({ enabled: false, reason: 'DISABLED' });
    expect(evaluateFlag(rules, 'on', {})).toMatchObject({ enabled: true, reason: 'STATIC', variant: { name: 'disabled', enabled: false, featureEnabled: true } });
    expect(evaluateFlag(rules, 'targeted', { userId: 'u1' })).toMatchObject({ enabled: true, reason: 'TARGETING_MATCH' });
    expect(evaluateFlag(rules, 'targeted', { userId: 'u2' })).toMatchObject({ enabled: false, reason: 'DEFAULT' });
    const splitAnswers = ['1', '2', '3', '4', '5', '6', '7', '8'].map((userId) => evaluateFlag(rules, 'split', { userId }));
    expect(new Set(splitAnswers.map((answer) => answer.enabled))).toEqual(new Set([true, false]));
    for (const answer of splitAnswers) expect(answer.reason).toBe(answer.enabled ? 'SPLIT' : 'DEFAULT');
    expect(evaluateFlag(rules, 'variants', { userId: 'someone' }).reason).toBe('SPLIT');
    expect(evaluateFlag(rules, 'variants', { userId: 'vip' })).toMatchObject({ reason: 'TARGETING_MATCH', variant: { name: 'b' } });
  });

  it('an unknown flag is an error with FLAG_NOT_FOUND, a broken one with PARSE_ERROR; neither throws', () => {
    expect(evaluateFlag(rules, 'missing', {})).toMatchObject({ enabled: false, reason: 'ERROR', errorCode: 'FLAG_NOT_FOUND', variant: { featureEnabled: false } });
    expect(evaluateFlag(rules, 'broken', {})).toMatchObject({ enabled: false, reason: 'ERROR', errorCode: 'PARSE_ERROR' });
    expect(isEnabled(rules, 'broken', {})).toBe(false);
    expect(evaluateFlag(rules, 'on', null as unknown as FlagContext).enabled).toBe(true);
  });

  it('variant results are shared and frozen, so no caller can change another caller\'s answer', () => {
    const variant = getVariant(rules, 'variants', { userId: 'vip' });
    expect(Object.isFrozen(variant)).toBe(true);
    expect(getVariant(rules, 'variants', { userId: 'vip' })).toBe(variant);
  });
});

describe('constraints beyond the specification', () => {
  it('a regex RE2 rejects never matches, even inverted; RE2 syntax that JavaScript lacks works', () => {
    expect(matches({ contextName: 'userId', operator: 'REGEX', value: '(a', inverted: true }, { userId: 'x' })).toBe(false);
    expect(matches({ contextName: 'userId', operator: 'REGEX', value: '^(a+)+$' }, { userId: `${'a'.repeat(5000)}!` })).toBe(false);
    expect(matches({ contextName: 'userId', operator: 'REGEX', value: '^\\p{Han}+$' }, { userId: '用户' })).toBe(true);
  });

  it('an unknown operator never matches, even inverted', () => {
    expect(matches({ contextName: 'userId', operator: 'LIKE', values: ['x'], inverted: true }, { userId: 'y' })).toBe(false);
  });

  it('numbers, dates and versions that do not parse never match; a blank context number is not zero', () => {
    expect(matches({ contextName: 'n', operator: 'NUM_EQ', value: 'ten', inverted: true }, { properties: { n: '1' } })).toBe(false);
    expect(matches({ contextName: 'n', operator: 'NUM_LTE', value: '0' }, { properties: { n: ' ' } })).toBe(false);
    expect(matches({ contextName: 'currentTime', operator: 'DATE_AFTER', value: 'yesterday' }, {})).toBe(false);
    expect(matches({ contextName: 'v', operator: 'SEMVER_GT', value: 'one' }, { properties: { v: '1.0.0' } })).toBe(false);
  });

  it('dates compare with now when the context has no currentTime', () => {
    expect(matches({ contextName: 'currentTime', operator: 'DATE_AFTER', value: new Date(Date.now() - 60_000).toISOString() }, {})).toBe(true);
    expect(matches({ contextName: 'currentTime', operator: 'DATE_BEFORE', value: new Date(Date.now() - 60_000).toISOString() }, {})).toBe(false);
  });

  it('semver pre-releases sort below their release and by their identifiers', () => {
    const below = (version: string, bound: string) => matches({ contextName: 'v', operator: 'SEMVER_LT', value: bound }, { properties: { v: version } });
    expect(below('1.0.0-rc.1', '1.0.0')).toBe(true);
    expect(below('1.0.0-rc.2', '1.0.0-rc.10')).toBe(true);
    expect(below('1.0.0-alpha', '1.0.0-alpha.1')).toBe(true);
    expect(below('1.0.0+build.5', '1.0.0')).toBe(false);
  });

  it('IN_CIDR matches IPv4 and IPv6 ranges, never across families', () => {
    const inRanges = (address: string) => matches({ contextName: 'remoteAddress', operator: 'IN_CIDR', values: ['10.0.0.0/8', '2001:db8::/32', 'junk'] }, { remoteAddress: address });
    expect(inRanges('10.200.3.4')).toBe(true);
    expect(inRanges('11.0.0.1')).toBe(false);
    expect(inRanges('2001:db8:ffff::1')).toBe(true);
    expect(inRanges('::ffff:10.0.0.1')).toBe(false);
  });

  it('case-insensitive string operators lower both sides; context fields come from properties too', () => {
    expect(matches({ contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@Example.COM'], caseInsensitive: true }, { properties: { email: 'A@EXAMPLE.com' } })).toBe(true);
    expect(matches({ contextName: 'constructor', operator: 'IN', values: ['x'] }, {})).toBe(false);
  });
});

describe('strategies', () => {
  it('remoteAddress takes single IPs and CIDR ranges, IPv4 and IPv6', () => {
    const rules = compileRuleset(rulesetOf([{ name: 'f', enabled: true, strategies: [{ name: 'remoteAddress', parameters: { IPs: '192.168.1.7, 10.0.0.0/16,2001:db8::/48' } }] }]));
    expect(isEnabled(rules, 'f', { remoteAddress: '192.168.1.7' })).toBe(true);
    expect(isEnabled(rules, 'f', { remoteAddress: '10.0.255.1' })).toBe(true);
    expect(isEnabled(rules, 'f', { remoteAddress: '10.1.0.1' })).toBe(false);
    expect(isEnabled(rules, 'f', { remoteAddress: '2001:db8:0:1::' })).toBe(true);
    expect(isEnabled(rules, 'f', {})).toBe(false);
  });

  it('an unknown strategy never matches and a later one still can', () => {
    const rules = compileRuleset(rulesetOf([{ name: 'f', enabled: true, strategies: [{ name: 'applicationHostname' }, { name: 'userWithId', parameters: { userIds: 'a,b' } }] }]));
    expect(isEnabled(rules, 'f', { userId: 'c' })).toBe(false);
    expect(isEnabled(rules, 'f', { userId: 'b' })).toBe(true);
  });

  it('a strategy naming a segment the ruleset lacks never matches; a present segment adds its constraints', () => {
    const segments = [{ id: 7, name: 'beta', constraints: [{ contextName: 'userId', operator: 'IN', values: ['u1'] }] }];
    const rules = compileRuleset(
      rulesetOf(
        [
          { name: 'present', enabled: true, strategies: [{ name: 'default', segments: [7] }] },
          { name: 'absent', enabled: true, strategies: [{ name: 'default', segments: [8] }] },
        ],
        segments,
      ),
    );
    expect(isEnabled(rules, 'present', { userId: 'u1' })).toBe(true);
    expect(isEnabled(rules, 'present', { userId: 'u2' })).toBe(false);
    expect(isEnabled(rules, 'absent', { userId: 'u1' })).toBe(false);
  });
});

describe('dependencies', () => {
  it('a cycle and a chain longer than one level turn the flags off without recursing', () => {
    const chain: ClientFeature[] = Array.from({ length: 50_000 }, (_, index) => ({ name: `f${index}`, enabled: true, strategies: [], dependencies: [{ feature: `f${index + 1}` }] }));
    chain.push({ name: 'f50000', enabled: true, strategies: [], dependencies: [{ feature: 'f0' }] });
    const rules = compileRuleset(rulesetOf(chain));
    expect(evaluateFlag(rules, 'f0', {})).toMatchObject({ enabled: false, reason: 'DEFAULT' });
    expect(findDependencyCycle(chain)).toHaveLength(50_002);
  });

  it('findDependencyCycle names the flags along the cycle and ignores missing parents', () => {
    expect(findDependencyCycle([{ name: 'a', dependencies: [{ feature: 'b' }] }, { name: 'b', dependencies: [{ feature: 'c' }] }, { name: 'c', dependencies: [{ feature: 'b' }] }])).toEqual(['b', 'c', 'b']);
    expect(findDependencyCycle([{ name: 'a', dependencies: [{ feature: 'a' }] }])).toEqual(['a', 'a']);
    expect(findDependencyCycle([{ name: 'a', dependencies: [{ feature: 'gone' }] }, { name: 'b', dependencies: [{ feature: 'a' }] }])).toBeUndefined();
  });
});

describe('IP parsing', () => {
  it('reads the address forms people write and refuses the rest', () => {
    expect(parseIp('::')?.words).toEqual([0, 0, 0, 0]);
    expect(parseIp('::1')?.words).toEqual([0, 0, 0, 1]);
    expect(parseIp('fe80::1:2')?.words).toEqual([0xfe800000, 0, 0, 0x10002]);
    expect(parseIp('::ffff:1.2.3.4')?.words).toEqual([0, 0, 0xffff, 0x01020304]);
    for (const bad of ['256.0.0.1', '1.2.3', '1::2::3', '12345::', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0', '']) expect(parseIp(bad)).toBeUndefined();
    expect(parseIpRange('10.0.0.0/33')).toBeUndefined();
    const everything = parseIpRange('0.0.0.0/0')!;
    expect(rangeContains(everything, parseIp('255.255.255.255')!)).toBe(true);
  });
});

describe('delta events', () => {
  it('hydration replaces, updates upsert, removals remove, and the input ruleset is left as it was', () => {
    const start = rulesetOf([{ name: 'old', enabled: true, strategies: [] }]);
    const next = applyDelta(start, [
      { eventId: 1, type: 'hydration', features: [{ name: 'a', enabled: true, strategies: [{ name: 'default', segments: [1] }] }], segments: [{ id: 1, constraints: [] }] },
      { eventId: 2, type: 'segment-removed', segmentId: 1 },
      { eventId: 3, type: 'feature-updated', feature: { name: 'b', enabled: true, strategies: [] } },
      { eventId: 4, type: 'something-new' } as never,
    ]);
    expect(next.features.map((feature) => feature.name)).toEqual(['a', 'b']);
    expect(start.features.map((feature) => feature.name)).toEqual(['old']);
    const rules = compileRuleset(next);
    expect(isEnabled(rules, 'a', {})).toBe(false);
    expect(isEnabled(rules, 'b', {})).toBe(true);
  });
});
