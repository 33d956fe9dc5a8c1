import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createExperimenter, experimentSampled, type ExperimentResult, type ExperimenterOptions } from './experiment.js';

/** A recording reporter: the reporter is not under test here, only what the experimenter tells it. */
function recorder() {
  const counts = new Map<string, number>();
  const observations: Array<{ name: string; value: number }> = [];
  return {
    counts,
    observations,
    count: (name: string, n = 1) => void counts.set(name, (counts.get(name) ?? 0) + n),
    observe: (name: string, value: number) => void observations.push({ name, value }),
  };
}

function setup(options: Omit<ExperimenterOptions, 'reporter' | 'onResult'> = {}) {
  const reporter = recorder();
  const results: ExperimentResult[] = [];
  const experimenter = createExperimenter({ ...options, reporter, onResult: (result) => results.push(result) });
  return { experimenter, reporter, results };
}

const sleep = <T>(ms: number, value?: T) => new Promise<T>((resolve) => setTimeout(() => resolve(value as T), ms));

describe('experiments', () => {
  it('returns the control and reports a match when both sides agree', async () => {
    const { experimenter, reporter, results } = setup();
    const value = await experimenter.run({ name: 'prices', use: () => ({ total: 3 }), try: () => Promise.resolve({ total: 3 }) });
    expect(value).toEqual({ total: 3 });
    await experimenter.settled();
    expect(results.map((r) => r.outcome)).toEqual(['match']);
    expect(reporter.counts.get('experiment.match')).toBe(1);
    expect(reporter.counts.get('experiment.prices.match')).toBe(1);
    expect(reporter.observations).toHaveLength(1);
    expect(reporter.observations[0]!.name).toBe('experiment.candidate_ms');
  });

  it('reports a mismatch, and an ignore rule that holds turns it into ignored', async () => {
    const { experimenter, reporter, results } = setup();
    await experimenter.run({ name: 'totals', use: () => 10, try: () => 11 });
    await experimenter.run({ name: 'totals', use: () => 10, try: () => 11, ignore: [() => false, (a, b) => Math.abs(a - b) <= 1] });
    await experimenter.run({ name: 'totals', use: () => 10, try: () => 13, ignore: [(a, b) => Math.abs(a - b) <= 1] });
    await experimenter.settled();
    expect(results.map((r) => r.outcome)).toEqual(['mismatch', 'ignored', 'mismatch']);
    expect(reporter.counts.get('experiment.totals.mismatch')).toBe(2);
    expect(reporter.counts.get('experiment.totals.ignored')).toBe(1);
  });

  it('uses a custom compare, and onResult sees cleaned values', async () => {
    const { experimenter, results } = setup();
    const row = (id: number, at: string) => ({ id, at, secret: 'pw' });
    await experimenter.run({
      name: 'rows',
      use: () => row(1, 'mon'),
      try: () => row(1, 'tue'),
      compare: (a, b) => a.id === b.id,
      clean: (value) => ({ id: value.id }),
    });
    await experimenter.settled();
    expect(results[0]).toMatchObject({ outcome: 'match', control: { id: 1 }, candidate: { id: 1 } });
    expect(JSON.stringify(results[0])).not.toContain('pw');
  });

  it('a compare that throws is outcome error, never the caller', async () => {
    const { experimenter, results } = setup();
    const value = await experimenter.run({ name: 'cmp', use: () => 1, try: () => 2, compare: () => { throw new Error('bad compare'); } });
    expect(value).toBe(1);
    await experimenter.settled();
    expect(results[0]!.outcome).toBe('error');
    expect(results[0]!.error).toContain('bad compare');
  });

  it('propagates the control error; the same error on both sides is a match, one side only a mismatch', async () => {
    const { experimenter, results } = setup();
    const boom = new Error('no such order');
    await expect(experimenter.run({ name: 'errs', use: () => Promise.reject(boom), try: () => Promise.reject(new Error('no such order')) })).rejects.toBe(boom);
    await expect(experimenter.run({ name: 'errs', use: () => { throw boom; }, try: () => 1 })).rejects.toBe(boom);
    expect(await experimenter.run({ name: 'errs', use: () => 1, try: () => { throw new Error('candidate broke'); } })).toBe(1);
    await experimenter.settled();
    expect(results.map((r) => r.outcome)).toEqual(['match', 'mismatch', 'mismatch']);
    expect(results[2]).toMatchObject({ error: 'candidate broke', candidate: { error: 'candidate broke' } });
  });

  it('a candidate that never settles or sleeps 5 s does not delay the control; the timeout is reported later', async () => {
    const { experimenter, reporter, results } = setup();
    for (const candidate of [() => new Promise<number>(() => undefined), () => sleep(5000, 2)]) {
      const before = results.length;
      const started = performance.now();
      const value = await experimenter.run({ name: 'slow', use: () => sleep(30, 1), try: candidate, timeoutMs: 200 });
      const took = performance.now() - started;
      expect(value).toBe(1);
      expect(took).toBeLessThan(150);
      expect(experimenter.inFlight('slow')).toBe(1);
      expect(results).toHaveLength(before); // judged only once the budget ran out
      await experimenter.settled();
      expect(performance.now() - started).toBeGreaterThanOrEqual(195);
      expect(experimenter.inFlight('slow')).toBe(0);
    }
    expect(results.map((r) => r.outcome)).toEqual(['timeout', 'timeout']);
    expect(results[0]!.candidateMs).toBeUndefined();
    expect(reporter.counts.get('experiment.slow.timeout')).toBe(2);
  });

  it('over the concurrency cap runs only the control and reports skipped', async () => {
    const { experimenter, results } = setup({ maxConcurrent: 2 });
    const release: Array<() => void> = [];
    let tried = 0;
    const candidate = () => {
      tried++;
      return new Promise<number>((resolve) => release.push(() => resolve(1)));
    };
    const values = await Promise.all([1, 2, 3, 4].map(() => experimenter.run({ name: 'cap', use: () => 1, try: candidate })));
    expect(values).toEqual([1, 1, 1, 1]);
    expect(tried).toBe(2);
    expect(experimenter.inFlight('cap')).toBe(2);
    expect(experimenter.inFlight('other')).toBe(0);
    release.forEach((go) => go());
    await experimenter.settled();
    expect(results.map((r) => r.outcome).sort()).toEqual(['match', 'match', 'skipped', 'skipped']);
    // room again once the candidates settled
    await experimenter.run({ name: 'cap', use: () => 1, try: () => 1 });
    await experimenter.settled();
    expect(results.at(-1)!.outcome).toBe('match');
  });

  it('onResult and a reporter that throw never reach the caller', async () => {
    const experimenter = createExperimenter({
      reporter: { count: () => { throw new Error('reporter down'); }, observe: () => { throw new Error('reporter down'); } },
      onResult: () => { throw new Error('app handler broke'); },
    });
    expect(await experimenter.run({ name: 'quiet', use: () => 5, try: () => 6 })).toBe(5);
    await expect(experimenter.settled()).resolves.toBeUndefined();
  });

  it('refuses a malformed spec with the field named', () => {
    const experimenter = createExperimenter();
    const base = { use: () => 1, try: () => 1 };
    expect(() => experimenter.run({ ...base, name: 'Bad Name' })).toThrow(/name must match/);
    expect(() => experimenter.run({ ...base, name: 'ok', sampleRate: 0.5 })).toThrow(/key is required/);
    expect(() => experimenter.run({ ...base, name: 'ok', sampleRate: 2, key: 'k' })).toThrow(/sampleRate must be a number from 0 to 1/);
    expect(() => experimenter.run({ ...base, name: 'ok', timeoutMs: 0 })).toThrow(/timeoutMs must be a positive/);
  });
});

describe('sampling', () => {
  it('decides the same way per key across experimenters', async () => {
    const seen = async (experimenter: ReturnType<typeof createExperimenter>, keys: string[]) => {
      const tried: string[] = [];
      for (const key of keys) await experimenter.run({ name: 'sampled', key, sampleRate: 0.3, use: () => 0, try: () => void tried.push(key) as unknown as number });
      return tried;
    };
    const keys = Array.from({ length: 300 }, (_, i) => `user-${i}`);
    const first = await seen(createExperimenter({ maxConcurrent: 1000 }), keys);
    const second = await seen(createExperimenter({ maxConcurrent: 1000 }), [...keys].reverse());
    expect(first.length).toBeGreaterThan(50);
    expect(first.length).toBeLessThan(150);
    expect([...second].sort()).toEqual([...first].sort());
    expect(first).toEqual(keys.filter((key) => experimentSampled('sampled', key, 0.3)));
  });

  it('samples a fraction of keys close to the rate (property)', () => {
    fc.assert(
      fc.property(fc.double({ min: 0, max: 1, noNaN: true }), fc.string({ maxLength: 8 }), fc.stringMatching(/^[a-z][a-z0-9_-]{0,10}$/), (rate, prefix, name) => {
        const n = 4000;
        let hits = 0;
        for (let i = 0; i < n; i++) if (experimentSampled(name, `${prefix}${i}`, rate)) hits++;
        // 4000 keys: a standard deviation of at most 0.8 %; 4 % is five of them
        expect(Math.abs(hits / n - rate)).toBeLessThan(0.04);
        if (rate === 0) expect(hits).toBe(0);
        if (rate === 1) expect(hits).toBe(n);
      }),
      { numRuns: 60 },
    );
  });

  it('an unsampled key runs only the control', async () => {
    const { experimenter, results } = setup();
    let tried = 0;
    expect(await experimenter.run({ name: 'never', key: 'k', sampleRate: 0, use: () => 7, try: () => ++tried })).toBe(7);
    await experimenter.settled();
    expect(tried).toBe(0);
    expect(results).toHaveLength(0);
  });
});
