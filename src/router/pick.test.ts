import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PromoteError } from '../errors.js';
import { murmur3 } from '../flags/murmur3.js';
import { BUCKETS, compileTraffic, pick, stickyBucket, type CompiledTraffic, type RequestFacts } from './pick.js';
import type { TrafficConfig } from './traffic.js';
import { seededRandom as seeded } from '../system/seeded-random.js';

const noRandom = (): number => {
  throw new Error('random() must not be called here');
};

interface FakeRequest {
  method?: string;
  path?: string;
  headers?: Record<string, string>;
  cookies?: Record<string, string>;
}

function request(facts: FakeRequest = {}): RequestFacts {
  const headers = new Map(Object.entries(facts.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  const cookies = new Map(Object.entries(facts.cookies ?? {}));
  return {
    method: facts.method ?? 'GET',
    path: facts.path ?? '/',
    header: (name) => headers.get(name.toLowerCase()),
    cookie: (name) => cookies.get(name),
  };
}

function table(versions: Array<[name: string, weight: number]>, extra: Partial<TrafficConfig> = {}): TrafficConfig {
  return {
    revision: 1,
    versions: versions.map(([name, weight], index) => ({ name, weight, upstreams: [`http://127.0.0.1:${4100 + index}`] })),
    stable: versions[versions.length - 1]![0],
    ...extra,
  };
}

const twoVersions = (canaryWeight: number, extra: Partial<TrafficConfig> = {}): TrafficConfig =>
  table(
    [
      ['v2', canaryWeight],
      ['v1', Math.round((100 - canaryWeight) * 100) / 100],
    ],
    { stable: 'v1', canary: 'v2', ...extra },
  );

/** 2 to 4 weights in hundredths of a percent that add up to 100 %. */
const hundredthsArbitrary = fc
  .array(fc.integer({ min: 0, max: BUCKETS }), { minLength: 1, maxLength: 3 })
  .map((cuts) => {
    const sorted = [0, ...cuts.sort((a, b) => a - b), BUCKETS];
    return sorted.slice(1).map((value, index) => value - sorted[index]!);
  });

const tableOf = (hundredths: number[], extra: Partial<TrafficConfig> = {}): TrafficConfig =>
  table(
    hundredths.map((value, index) => [`v${index}`, value / 100]),
    extra,
  );

function count(compiled: CompiledTraffic, picks: number, random: () => number, facts: () => RequestFacts = () => request()): Map<string, number> {
  const counts = new Map<string, number>(compiled.versions.map((name) => [name, 0]));
  for (let index = 0; index < picks; index++) {
    const decision = pick(compiled, facts(), random);
    counts.set(decision.version, (counts.get(decision.version) ?? 0) + 1);
  }
  return counts;
}

/** Asserts each observed count is within `sigmas` standard deviations of the binomial around its share. */
function expectSplit(counts: Map<string, number>, shares: Map<string, number> | ReadonlyMap<string, number>, picks: number, sigmas = 5): void {
  for (const [name, share] of shares) {
    const p = share / 100;
    const observed = counts.get(name) ?? 0;
    if (p === 0 || p === 1) {
      expect(observed, name).toBe(p * picks);
      continue;
    }
    const sd = Math.sqrt(picks * p * (1 - p));
    expect(Math.abs(observed - picks * p), `${name}: ${observed} of ${picks} for ${share}%`).toBeLessThanOrEqual(sigmas * sd);
  }
}

describe('pick: weights', () => {
  it('converges to the configured weights for arbitrary weight vectors', () => {
    const picks = 200_000;
    fc.assert(
      fc.property(hundredthsArbitrary, fc.integer(), (hundredths, seed) => {
        const compiled = compileTraffic(tableOf(hundredths));
        const counts = count(compiled, picks, seeded(seed));
        expectSplit(counts, new Map(hundredths.map((value, index) => [`v${index}`, value / 100])), picks);
      }),
      { numRuns: 15 },
    );
  });

  it('gives each version exactly its weight in buckets', () => {
    fc.assert(
      fc.property(hundredthsArbitrary, (hundredths) => {
        const compiled = compileTraffic(tableOf(hundredths));
        let cumulative = 0;
        hundredths.forEach((value, index) => {
          cumulative += value;
          expect(compiled.bounds[index]).toBe(cumulative);
          expect(compiled.shares.get(`v${index}`)).toBeCloseTo(value / 100, 10);
        });
      }),
    );
  });

  it('says why: a random bucket is reason "weight"', () => {
    const decision = pick(compileTraffic(twoVersions(50)), request({ path: '/a?b=1' }), () => 0.2);
    expect(decision).toEqual({ version: 'v2', reason: 'weight', path: '/a?b=1' });
  });

  it('survives a random source that returns 1 or NaN', () => {
    const compiled = compileTraffic(twoVersions(50));
    expect(pick(compiled, request(), () => 1).version).toBe('v1');
    expect(pick(compiled, request(), () => Number.NaN).version).toBe('v2');
  });

  it('blue-green: 0 and 100 send everything one way', () => {
    const random = seeded(7);
    expect([...count(compileTraffic(twoVersions(0)), 10_000, random)]).toEqual([
      ['v2', 0],
      ['v1', 10_000],
    ]);
    expect([...count(compileTraffic(twoVersions(100)), 10_000, random)]).toEqual([
      ['v2', 10_000],
      ['v1', 0],
    ]);
  });
});

describe('pick: stickiness', () => {
  const stickyHeader = { sticky: { header: 'X-User-Id' } };

  it('sends the same key to the same version every time, whatever random() says', () => {
    fc.assert(
      fc.property(hundredthsArbitrary, fc.string({ minLength: 1 }), fc.integer(), (hundredths, key, seed) => {
        const compiled = compileTraffic(tableOf(hundredths, stickyHeader));
        const random = seeded(seed);
        const first = pick(compiled, request({ headers: { 'x-user-id': key } }), random);
        expect(first.reason).toBe('sticky');
        for (let index = 0; index < 5; index++) {
          expect(pick(compiled, request({ headers: { 'X-USER-ID': key } }), random).version).toBe(first.version);
        }
      }),
    );
  });

  it('puts a key in the version whose cumulative range holds murmur3(key) % 10000', () => {
    fc.assert(
      fc.property(hundredthsArbitrary, fc.string({ minLength: 1, unit: 'binary' }), (hundredths, key) => {
        const compiled = compileTraffic(tableOf(hundredths, stickyHeader));
        const bucket = murmur3(key) % 10_000;
        expect(stickyBucket(key)).toBe(bucket);
        let cumulative = 0;
        const expected = hundredths.findIndex((value) => bucket < (cumulative += value));
        expect(pick(compiled, request({ headers: { 'x-user-id': key } }), noRandom).version).toBe(`v${expected}`);
      }),
    );
  });

  it('never moves a key off the first version while its weight grows', () => {
    fc.assert(
      fc.property(
        hundredthsArbitrary,
        fc.array(fc.nat(), { minLength: 1, maxLength: 10 }),
        fc.array(fc.string({ minLength: 1 }), { minLength: 1, maxLength: 50 }),
        (hundredths, takes, keys) => {
          // Grow the first version step by step, taking the weight from the later versions in any way.
          let weights = hundredths;
          let previous = compileTraffic(tableOf(weights, stickyHeader));
          for (const take of takes) {
            const next = [...weights];
            let wanted = take % (BUCKETS + 1);
            for (let index = 1; index < next.length && wanted > 0; index++) {
              const moved = Math.min(next[index]!, wanted);
              next[index]! -= moved;
              next[0]! += moved;
              wanted -= moved;
            }
            const compiled = compileTraffic(tableOf(next, stickyHeader));
            for (const key of keys) {
              const facts = request({ headers: { 'x-user-id': key } });
              const before = pick(previous, facts, noRandom).version;
              const after = pick(compiled, facts, noRandom).version;
              if (before === 'v0') expect(after).toBe('v0');
              // A key changes version only when a boundary crossed its bucket.
              if (before !== after) {
                const bucket = stickyBucket(key);
                const owner = (bounds: Int32Array): number => bounds.findIndex((bound) => bucket < bound);
                expect(owner(previous.bounds)).not.toBe(owner(compiled.bounds));
              }
            }
            weights = next;
            previous = compiled;
          }
        },
      ),
    );
  });

  it('canary growing 0 -> 100: the set of sticky clients on the canary only grows', () => {
    const keys = Array.from({ length: 2_000 }, (_, index) => `user-${index}`);
    let onCanary = new Set<string>();
    for (let weight = 0; weight <= 100; weight += 5) {
      const compiled = compileTraffic(twoVersions(weight, stickyHeader));
      const now = new Set(keys.filter((key) => pick(compiled, request({ headers: { 'x-user-id': key } }), noRandom).version === 'v2'));
      for (const key of onCanary) expect(now.has(key)).toBe(true);
      onCanary = now;
    }
    expect(onCanary.size).toBe(keys.length);
  });

  it('assigns a new cookie key on the first visit and keeps the client there afterwards', () => {
    const compiled = compileTraffic(twoVersions(30, { sticky: { cookie: 'promote_sticky' } }));
    const random = seeded(42);
    for (let visit = 0; visit < 200; visit++) {
      const first = pick(compiled, request(), random);
      expect(first.reason).toBe('sticky');
      expect(first.setCookie).toMatch(/^promote_sticky=[0-9a-f]{16}; Path=\/; HttpOnly; SameSite=Lax; Max-Age=2592000$/);
      const key = /^promote_sticky=([0-9a-f]{16});/.exec(first.setCookie!)![1]!;
      const again = pick(compiled, request({ cookies: { promote_sticky: key } }), noRandom);
      expect(again).toEqual({ version: first.version, reason: 'sticky', path: '/' });
    }
  });

  it('new cookie keys split new visitors by the weights', () => {
    const compiled = compileTraffic(twoVersions(12.34, { sticky: { cookie: 'sid' } }));
    const picks = 100_000;
    expectSplit(count(compiled, picks, seeded(3)), compiled.shares, picks);
  });

  it('prefers the sticky header over the sticky cookie and sets no cookie when the header decides', () => {
    const compiled = compileTraffic(twoVersions(50, { sticky: { header: 'X-User-Id', cookie: 'sid' } }));
    const key = 'alice';
    const byHeader = pick(compiled, request({ headers: { 'x-user-id': key }, cookies: { sid: 'something-else' } }), noRandom);
    expect(byHeader).toEqual(pick(compiled, request({ cookies: { sid: key } }), noRandom));
    expect(byHeader.setCookie).toBeUndefined();
  });

  it('without a sticky cookie, a missing sticky header means a random bucket', () => {
    const compiled = compileTraffic(twoVersions(50, { sticky: { header: 'X-User-Id' } }));
    const decision = pick(compiled, request({ headers: { 'x-user-id': '' } }), () => 0.9);
    expect(decision).toEqual({ version: 'v1', reason: 'weight', path: '/' });
  });
});

describe('pick: overrides', () => {
  const override = { override: { header: 'X-Promote-Version', cookie: 'promote_version' } };
  const compiled = compileTraffic(
    table(
      [
        ['v3', 0],
        ['v2', 0],
        ['v1', 100],
      ],
      { stable: 'v1', canary: 'v3', sticky: { header: 'X-User-Id' }, ...override },
    ),
  );

  it.each([
    ['canary', 'v3'],
    ['stable', 'v1'],
    ['v2', 'v2'],
    ['v3', 'v3'],
  ])('the header value %j wins over weights and stickiness -> %s', (value, version) => {
    const decision = pick(compiled, request({ headers: { 'x-promote-version': value, 'x-user-id': 'bob' } }), noRandom);
    expect(decision).toEqual({ version, reason: 'override', path: '/' });
  });

  it('the cookie works too', () => {
    expect(pick(compiled, request({ cookies: { promote_version: 'canary' } }), noRandom)).toMatchObject({ version: 'v3', reason: 'override' });
  });

  it('the header wins over the cookie', () => {
    const facts = request({ headers: { 'X-Promote-Version': 'v2' }, cookies: { promote_version: 'canary' } });
    expect(pick(compiled, facts, noRandom).version).toBe('v2');
  });

  it('unknown values fall through: header to cookie, cookie to stickiness or weights', () => {
    expect(pick(compiled, request({ headers: { 'x-promote-version': 'v9' }, cookies: { promote_version: 'v2' } }), noRandom).version).toBe('v2');
    expect(pick(compiled, request({ headers: { 'x-promote-version': 'V2' }, cookies: { promote_version: 'nope' } }), () => 0.5)).toEqual({
      version: 'v1',
      reason: 'weight',
      path: '/',
    });
    expect(pick(compiled, request({ headers: { 'x-promote-version': 'Canary', 'x-user-id': 'carol' } }), noRandom).reason).toBe('sticky');
  });

  it('"canary" is unknown when the table has no canary', () => {
    const noCanary = compileTraffic(twoVersions(0, { canary: undefined, ...override }));
    expect(pick(noCanary, request({ headers: { 'x-promote-version': 'canary' } }), () => 0.5)).toMatchObject({ version: 'v1', reason: 'weight' });
  });

  it('overrides win over the circuit breaker: a tester asked for that version', () => {
    const breaker = compileTraffic(twoVersions(50, override), new Set(['v1']));
    expect(pick(breaker, request({ headers: { 'x-promote-version': 'canary' } }), noRandom).version).toBe('v2');
  });
});

describe('pick: circuit breaker', () => {
  const config = table(
    [
      ['c', 10],
      ['b', 30],
      ['a', 60],
    ],
    { stable: 'a', canary: 'c' },
  );

  it('gives an unavailable version nothing and the others their share in proportion', () => {
    const compiled = compileTraffic(config, new Set(['a', 'c']));
    expect(compiled.shares.get('b')).toBe(0);
    expect(compiled.shares.get('c')).toBeCloseTo(14.28, 10);
    expect(compiled.shares.get('a')).toBeCloseTo(85.72, 10);
    const picks = 200_000;
    const counts = count(compiled, picks, seeded(11));
    expect(counts.get('b')).toBe(0);
    expectSplit(counts, new Map([['c', 100 / 7], ['a', 600 / 7]]), picks);
  });

  it('proportional for arbitrary weights and availability', () => {
    fc.assert(
      fc.property(hundredthsArbitrary, fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }), (hundredths, up) => {
        const available = new Set(hundredths.map((_, index) => `v${index}`).filter((_, index) => up[index]));
        const compiled = compileTraffic(tableOf(hundredths), available);
        const total = hundredths.reduce((sum, value, index) => sum + (up[index] ? value : 0), 0);
        expect(compiled.fallback).toBe(total === 0);
        if (total === 0) return;
        hundredths.forEach((value, index) => {
          const share = compiled.shares.get(`v${index}`)!;
          if (!up[index]) expect(share).toBe(0);
          // exact up to the 0.01 % bucket granularity
          else expect(Math.abs(share - (value / total) * 100)).toBeLessThanOrEqual(0.01 + 1e-9);
        });
        expect(compiled.bounds[compiled.bounds.length - 1]).toBe(BUCKETS);
      }),
    );
  });

  it('keeps stickiness in bucket order while a version is out', () => {
    const compiled = compileTraffic({ ...config, sticky: { header: 'X-User-Id' } }, new Set(['a', 'c']));
    for (let index = 0; index < 500; index++) {
      expect(pick(compiled, request({ headers: { 'x-user-id': `u${index}` } }), noRandom).version).not.toBe('b');
    }
  });

  it('falls back to stable when no version is available', () => {
    const compiled = compileTraffic({ ...config, sticky: { cookie: 'sid' } }, new Set());
    expect(compiled.fallback).toBe(true);
    const decision = pick(compiled, request({ cookies: { sid: 'k' } }), noRandom);
    expect(decision).toEqual({ version: 'a', reason: 'fallback', path: '/' });
  });

  it('falls back to stable when only versions at weight 0 are available', () => {
    const compiled = compileTraffic(twoVersions(100), new Set(['v1']));
    expect(pick(compiled, request(), () => 0.1)).toEqual({ version: 'v1', reason: 'fallback', path: '/' });
  });

  it('ignores unknown names in the available set', () => {
    const compiled = compileTraffic(twoVersions(25), new Set(['v1', 'v2', 'v9']));
    expect(Array.from(compiled.bounds)).toEqual([2500, 10_000]);
  });
});

describe('pick: API routes', () => {
  const routes = (apiRoutes: TrafficConfig['apiRoutes'], extra: Partial<TrafficConfig> = {}): CompiledTraffic =>
    compileTraffic(
      table(
        [
          ['v3', 0],
          ['v2', 100],
          ['v1', 0],
        ],
        { stable: 'v2', canary: 'v3', apiRoutes, ...extra },
      ),
    );

  it.each([
    ['/v1', true],
    ['/v1/', true],
    ['/v1/orders', true],
    ['/v1?x=1', true],
    ['/v1/orders?x=/v2', true],
    ['/v10', false],
    ['/v10/orders', false],
    ['/v', false],
    ['/', false],
    ['/api/v1', false],
    ['/V1', false],
  ])('prefix /v1 matches %j segment-wise: %s', (path, matches) => {
    const compiled = routes([{ pathPrefix: '/v1', version: 'v1' }]);
    const decision = pick(compiled, request({ path }), () => 0.5);
    expect(decision.reason).toBe(matches ? 'api-route' : 'weight');
    expect(decision.version).toBe(matches ? 'v1' : 'v2');
  });

  it('a trailing slash in the prefix changes nothing; "/" matches everything', () => {
    expect(pick(routes([{ pathPrefix: '/v1/', version: 'v1' }]), request({ path: '/v1' }), noRandom).version).toBe('v1');
    expect(pick(routes([{ pathPrefix: '/v1/', version: 'v1' }]), request({ path: '/v10' }), () => 0).reason).toBe('weight');
    expect(pick(routes([{ pathPrefix: '/', version: 'v1', stripPrefix: true }]), request({ path: '/x?y' }), noRandom)).toMatchObject({
      version: 'v1',
      path: '/x?y',
    });
  });

  it.each([
    ['/v1/orders?x=1', '/orders?x=1'],
    ['/v1/orders', '/orders'],
    ['/v1', '/'],
    ['/v1/', '/'],
    ['/v1?x=1&y=/v1', '/?x=1&y=/v1'],
  ])('strips the prefix from %j -> %j, keeping the query', (path, forwarded) => {
    const compiled = routes([{ pathPrefix: '/v1', version: 'v1', stripPrefix: true }]);
    expect(pick(compiled, request({ path }), noRandom)).toEqual({ version: 'v1', reason: 'api-route', path: forwarded });
  });

  it('matches an exact header value', () => {
    const compiled = routes([{ header: { name: 'Accept-Version', value: '1' }, version: 'v1' }]);
    expect(pick(compiled, request({ headers: { 'accept-version': '1' } }), noRandom).version).toBe('v1');
    expect(pick(compiled, request({ headers: { 'accept-version': '1.0' } }), () => 0.5).version).toBe('v2');
    expect(pick(compiled, request(), () => 0.5).version).toBe('v2');
  });

  it('needs both the prefix and the header when a route has both', () => {
    const compiled = routes([{ pathPrefix: '/api', header: { name: 'Accept-Version', value: '1' }, version: 'v1' }]);
    expect(pick(compiled, request({ path: '/api/x', headers: { 'accept-version': '1' } }), noRandom).version).toBe('v1');
    expect(pick(compiled, request({ path: '/api/x' }), () => 0.5).version).toBe('v2');
    expect(pick(compiled, request({ path: '/other', headers: { 'accept-version': '1' } }), () => 0.5).version).toBe('v2');
  });

  it('the first matching route wins', () => {
    const compiled = routes([
      { pathPrefix: '/v1/legacy', version: 'v3' },
      { pathPrefix: '/v1', version: 'v1' },
    ]);
    expect(pick(compiled, request({ path: '/v1/legacy/x' }), noRandom).version).toBe('v3');
    expect(pick(compiled, request({ path: '/v1/x' }), noRandom).version).toBe('v1');
  });

  it('wins over overrides, stickiness, the circuit breaker and mirroring', () => {
    const config = table(
      [
        ['v3', 50],
        ['v2', 50],
        ['v1', 0],
      ],
      {
        stable: 'v2',
        canary: 'v3',
        apiRoutes: [{ pathPrefix: '/v1', version: 'v1' }],
        override: { header: 'X-Promote-Version', cookie: 'promote_version' },
        sticky: { cookie: 'sid' },
        mirror: { percent: 100 },
      },
    );
    const facts = request({ path: '/v1/x', headers: { 'x-promote-version': 'canary' }, cookies: { promote_version: 'stable' } });
    expect(pick(compileTraffic(config), facts, noRandom)).toEqual({ version: 'v1', reason: 'api-route', path: '/v1/x' });
    expect(pick(compileTraffic(config, new Set(['v2'])), facts, noRandom).version).toBe('v1');
  });

  it('adds Deprecation, Sunset and Link headers in the exact formats of RFC 9745 and RFC 8594', () => {
    const compiled = routes([
      {
        pathPrefix: '/v1',
        version: 'v1',
        deprecated: { since: '2025-06-30', sunset: '2026-01-01T00:00:00Z', link: 'https://example.com/deprecations/v1' },
      },
      { pathPrefix: '/v0', version: 'v1', deprecated: {} },
      { pathPrefix: '/beta', version: 'v3', deprecated: { since: 'Mon, 30 Jun 2025 12:00:00 GMT', sunset: '2025-12-31T23:59:59+01:00' } },
    ]);
    expect(pick(compiled, request({ path: '/v1/a' }), noRandom).responseHeaders).toEqual({
      Deprecation: '@1751241600',
      Sunset: 'Thu, 01 Jan 2026 00:00:00 GMT',
      Link: '<https://example.com/deprecations/v1>; rel="deprecation"',
    });
    expect(pick(compiled, request({ path: '/v0' }), noRandom).responseHeaders).toEqual({ Deprecation: 'true' });
    expect(pick(compiled, request({ path: '/beta' }), noRandom).responseHeaders).toEqual({
      Deprecation: '@1751284800',
      Sunset: 'Wed, 31 Dec 2025 22:59:59 GMT',
    });
  });
});

describe('pick: mirror', () => {
  it('mirrors the configured percent of eligible requests', () => {
    const compiled = compileTraffic(twoVersions(0, { mirror: { percent: 12.5 } }));
    const random = seeded(5);
    const picks = 200_000;
    let mirrored = 0;
    let unexpected = 0;
    const facts = request();
    for (let index = 0; index < picks; index++) {
      const decision = pick(compiled, facts, random);
      if (decision.version !== 'v1' || (decision.mirrorTo !== undefined && decision.mirrorTo !== 'v2')) unexpected++;
      if (decision.mirrorTo !== undefined) mirrored++;
    }
    expect(unexpected).toBe(0);
    const sd = Math.sqrt(picks * 0.125 * 0.875);
    expect(Math.abs(mirrored - picks * 0.125)).toBeLessThanOrEqual(5 * sd);
  });

  it('respects arbitrary percents statistically and never mirrors to the chosen version', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: BUCKETS }), fc.integer({ min: 0, max: BUCKETS }), fc.integer(), (canary, percent, seed) => {
        const compiled = compileTraffic(twoVersions(canary / 100, { mirror: { percent: percent / 100 } }));
        const random = seeded(seed);
        const picks = 20_000;
        let onStable = 0;
        let mirrored = 0;
        let mirroredToItself = 0;
        const facts = request();
        for (let index = 0; index < picks; index++) {
          const decision = pick(compiled, facts, random);
          if (decision.version === 'v2') {
            if (decision.mirrorTo !== undefined) mirroredToItself++;
            continue;
          }
          onStable++;
          if (decision.mirrorTo !== undefined) mirrored++;
        }
        expect(mirroredToItself).toBe(0);
        const p = percent / BUCKETS;
        if (p === 0 || p === 1) expect(mirrored).toBe(p * onStable);
        else expect(Math.abs(mirrored - onStable * p)).toBeLessThanOrEqual(5 * Math.sqrt(onStable * p * (1 - p)) + 1);
      }),
      { numRuns: 25 },
    );
  });

  it.each(['POST', 'PUT', 'PATCH', 'DELETE'])('never mirrors %s by default', (method) => {
    const compiled = compileTraffic(twoVersions(0, { mirror: { percent: 100 } }));
    for (let index = 0; index < 100; index++) {
      expect(pick(compiled, request({ method }), Math.random).mirrorTo).toBeUndefined();
    }
  });

  it.each(['GET', 'HEAD', 'OPTIONS'])('mirrors %s by default', (method) => {
    const compiled = compileTraffic(twoVersions(0, { mirror: { percent: 100 } }));
    expect(pick(compiled, request({ method }), () => 0.5).mirrorTo).toBe('v2');
  });

  it('mirrors only the configured methods, to the configured version', () => {
    const config = table(
      [
        ['v3', 0],
        ['v2', 0],
        ['v1', 100],
      ],
      { stable: 'v1', canary: 'v3', mirror: { percent: 100, version: 'v2', methods: ['post', 'GET'] } },
    );
    const compiled = compileTraffic(config);
    expect(pick(compiled, request({ method: 'POST' }), () => 0.5).mirrorTo).toBe('v2');
    expect(pick(compiled, request({ method: 'GET' }), () => 0.5).mirrorTo).toBe('v2');
    expect(pick(compiled, request({ method: 'HEAD' }), () => 0.5).mirrorTo).toBeUndefined();
  });

  it('does not mirror to an unavailable version', () => {
    const compiled = compileTraffic(twoVersions(0, { mirror: { percent: 100 } }), new Set(['v1']));
    expect(compiled.mirror).toBeUndefined();
    expect(pick(compiled, request(), () => 0.5).mirrorTo).toBeUndefined();
  });

  it('mirrors overridden requests too, unless they already go to the mirror version', () => {
    const compiled = compileTraffic(
      twoVersions(0, { mirror: { percent: 100 }, override: { header: 'X-Promote-Version', cookie: 'promote_version' } }),
    );
    expect(pick(compiled, request({ headers: { 'x-promote-version': 'stable' } }), () => 0.5)).toMatchObject({ version: 'v1', mirrorTo: 'v2' });
    expect(pick(compiled, request({ headers: { 'x-promote-version': 'canary' } }), noRandom).mirrorTo).toBeUndefined();
  });
});

describe('compileTraffic: validation', () => {
  const valid = (): TrafficConfig => ({
    revision: 3,
    versions: [
      { name: 'v2', weight: 10, upstreams: ['http://127.0.0.1:4102'] },
      { name: 'v1', weight: 90, upstreams: ['http://127.0.0.1:4101', 'https://v1.internal:8443/base'] },
    ],
    stable: 'v1',
    canary: 'v2',
    sticky: { cookie: 'sid', header: 'X-User-Id' },
    override: { header: 'X-Promote-Version', cookie: 'promote_version' },
    apiRoutes: [{ pathPrefix: '/v1', version: 'v1', stripPrefix: true, deprecated: { since: '2025-01-01', sunset: '2026-01-01', link: '/docs/v1' } }],
    mirror: { percent: 5, methods: ['GET'] },
  });

  it('accepts a valid table', () => {
    const compiled = compileTraffic(valid());
    expect(compiled.revision).toBe(3);
    expect(compiled.versions).toEqual(['v2', 'v1']);
    expect(compiled.upstreams.get('v1')).toEqual(['http://127.0.0.1:4101', 'https://v1.internal:8443/base']);
  });

  it('accepts weights at 0.01 granularity even when floating point is inexact', () => {
    const compiled = compileTraffic(
      table([
        ['a', 0.1],
        ['b', 0.2],
        ['c', 33.33],
        ['d', 66.37],
      ]),
    );
    expect(Array.from(compiled.bounds)).toEqual([10, 30, 3363, 10_000]);
  });

  const cases: Array<[string, (config: TrafficConfig) => unknown, string]> = [
    ['a weight above 100', (c) => (c.versions[1]!.weight = 100.001), 'versions[1].weight: expected 0 to 100 in steps of 0.01, got 100.001'],
    ['a weight finer than 0.01', (c) => (c.versions[0]!.weight = 10.005), 'versions[0].weight: expected 0 to 100 in steps of 0.01, got 10.005'],
    ['a negative weight', (c) => (c.versions[0]!.weight = -1), 'versions[0].weight: expected 0 to 100 in steps of 0.01, got -1'],
    ['a weight that is not a number', (c) => ((c.versions[0] as { weight: unknown }).weight = '10'), 'versions[0].weight: expected 0 to 100 in steps of 0.01, got "10"'],
    ['weights not adding up to 100', (c) => (c.versions[1]!.weight = 89.5), 'versions: the weights must add up to 100, got 99.5'],
    ['no versions', (c) => (c.versions = []), 'versions: expected a non-empty list'],
    ['a duplicate name', (c) => (c.versions[1]!.name = 'v2'), 'versions[1].name: "v2" is listed twice'],
    ['an empty name', (c) => (c.versions[0]!.name = ''), 'versions[0].name: expected 1 to 128 characters'],
    ['no upstreams', (c) => (c.versions[0]!.upstreams = []), 'versions[0].upstreams: expected a non-empty list of http(s) URLs'],
    ['a non-http upstream', (c) => (c.versions[1]!.upstreams[1] = 'ftp://x'), 'versions[1].upstreams[1]: expected an http(s) URL, got "ftp://x"'],
    ['a relative upstream', (c) => (c.versions[0]!.upstreams[0] = '127.0.0.1:4102'), 'versions[0].upstreams[0]: expected an http(s) URL'],
    ['an unlisted stable', (c) => (c.stable = 'v0'), 'stable: expected one of the listed versions ("v2", "v1"), got "v0"'],
    ['an unlisted canary', (c) => (c.canary = 'v3'), 'canary: expected one of the listed versions'],
    ['a bad revision', (c) => (c.revision = 1.5), 'revision: expected a whole number'],
    ['sticky with nothing', (c) => (c.sticky = {}), 'sticky: expected a cookie or a header'],
    ['a bad sticky header', (c) => (c.sticky = { header: 'X User' }), 'sticky.header: expected a header name, got "X User"'],
    ['a bad sticky cookie', (c) => (c.sticky = { cookie: 'a;b' }), 'sticky.cookie: expected a cookie name'],
    ['a missing override header', (c) => ((c.override as { header?: string }).header = undefined), 'override.header: expected a header name'],
    ['a bad override cookie', (c) => (c.override!.cookie = ''), 'override.cookie: expected a cookie name'],
    ['an api route to an unlisted version', (c) => (c.apiRoutes![0]!.version = 'v0'), 'apiRoutes[0].version: expected one of the listed versions'],
    ['an api route prefix without /', (c) => (c.apiRoutes![0]!.pathPrefix = 'v1'), 'apiRoutes[0].pathPrefix: expected a path starting with /'],
    ['an api route prefix with a query', (c) => (c.apiRoutes![0]!.pathPrefix = '/v1?x'), 'apiRoutes[0].pathPrefix: expected a path starting with /'],
    ['an api route matching nothing', (c) => (c.apiRoutes = [{ version: 'v1' }]), 'apiRoutes[0]: expected a pathPrefix or a header to match'],
    [
      'stripping without a prefix',
      (c) => (c.apiRoutes = [{ header: { name: 'Accept-Version', value: '1' }, version: 'v1', stripPrefix: true }]),
      'apiRoutes[0].stripPrefix: needs a pathPrefix',
    ],
    ['a bad api route header name', (c) => (c.apiRoutes = [{ header: { name: '', value: '1' }, version: 'v1' }]), 'apiRoutes[0].header.name: expected a header name'],
    ['a bad deprecation date', (c) => (c.apiRoutes![0]!.deprecated!.since = 'yesterday'), 'apiRoutes[0].deprecated.since: expected a date'],
    ['a local-time sunset', (c) => (c.apiRoutes![0]!.deprecated!.sunset = '2026-01-01T00:00:00'), 'apiRoutes[0].deprecated.sunset: expected a date'],
    ['an impossible date', (c) => (c.apiRoutes![0]!.deprecated!.sunset = '2026-13-45'), 'apiRoutes[0].deprecated.sunset: not a valid date'],
    ['a deprecation link with spaces', (c) => (c.apiRoutes![0]!.deprecated!.link = '/a b'), 'apiRoutes[0].deprecated.link: expected an http(s) URL or a path'],
    ['a mirror percent above 100', (c) => (c.mirror!.percent = 101), 'mirror.percent: expected 0 to 100 in steps of 0.01, got 101'],
    ['a mirror to an unlisted version', (c) => (c.mirror!.version = 'v9'), 'mirror.version: expected one of the listed versions'],
    ['a mirror with no canary to default to', (c) => (c.canary = undefined), 'mirror.version: required when the routing table has no canary'],
    ['an empty mirror method list', (c) => (c.mirror!.methods = []), 'mirror.methods: expected a non-empty list of HTTP methods'],
    ['a bad mirror method', (c) => (c.mirror!.methods = ['GET', 'GE T']), 'mirror.methods[1]: expected an HTTP method'],
  ];

  it.each(cases)('rejects %s, naming the field', (_, change, message) => {
    const config = valid();
    change(config);
    expect(() => compileTraffic(config)).toThrow(PromoteError);
    expect(() => compileTraffic(config)).toThrow(message);
  });

  it('rejects something that is not a table at all', () => {
    expect(() => compileTraffic(null as unknown as TrafficConfig)).toThrow('routing table: expected an object, got null');
  });
});

describe('pick: blue-green preview', () => {
  const facts = (headers: Record<string, string>): RequestFacts => ({ method: 'GET', path: '/', header: (name) => headers[name.toLowerCase()], cookie: () => undefined });
  it('sends a request carrying the preview header to the previewed version, whatever its value and the weights', () => {
    const compiled = compileTraffic({ revision: 1, versions: [{ name: 'green', weight: 0, upstreams: ['http://127.0.0.1:1'] }, { name: 'blue', weight: 100, upstreams: ['http://127.0.0.1:2'] }], stable: 'blue', preview: { header: 'X-Promote-Preview', version: 'green' } });
    expect(pick(compiled, facts({ 'x-promote-preview': 'anything' }), () => 0.5)).toMatchObject({ version: 'green', reason: 'override' });
    expect(pick(compiled, facts({}), () => 0.5)).toMatchObject({ version: 'blue', reason: 'weight' });
  });
  it('refuses a preview of a version that is not in the table', () => {
    expect(() => compileTraffic({ revision: 1, versions: [{ name: 'blue', weight: 100, upstreams: ['http://127.0.0.1:2'] }], stable: 'blue', preview: { header: 'X-Promote-Preview', version: 'green' } })).toThrow(/preview\.version: expected one of the versions \(blue\)/);
  });
});
