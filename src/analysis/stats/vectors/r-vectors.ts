/**
 * Reads the vectors generate.R wrote (r-vectors.json) for the tests of ../: what R answers for each
 * case, so the tests compare with R without R being installed. Also the one comparison rule they all
 * use: |ours - R's| <= 1e-6 * max(1, |R's|), absolute for p-values and other numbers up to 1, relative
 * above (an interval of latencies in the thousands agrees to 6 significant digits).
 * Test support only (nothing in the product imports it); it asserts with node:assert, so it does not
 * pull the test runner into the build.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { Alternative } from '../input.js';

export const agreement = 1e-6;

type JsonNumber = number | 'Infinity' | '-Infinity';

interface LehmerSpec {
  lehmer: { seed: number; n: number; offset: number; scale: number };
}

export interface MannWhitneyVector {
  name: string;
  x: number[] | LehmerSpec;
  y: number[] | LehmerSpec;
  alternative: Alternative;
  confLevel: number;
  correct: boolean;
  mu: number;
  statistic: number;
  pValue: number;
  confInt: [JsonNumber, JsonNumber];
  estimate: number;
}

export interface TwoProportionVector {
  name: string;
  events: [number, number];
  totals: [number, number];
  alternative: Alternative;
  confLevel: number;
  correct: boolean;
  statistic: number;
  pValue: number;
  confInt: [number, number];
  estimate: [number, number];
}

export interface KsVector {
  name: string;
  x: number[];
  y: number[];
  alternative: Alternative;
  statistic: number;
  pValue: number;
}

export interface TailVector {
  name: string;
  candidate: number[];
  baseline: number[];
  quantile: number;
  confLevel: number;
  threshold: number;
  exceedances: number;
  pValue: number;
  confInt: [number, number];
}

export interface RVectors {
  generator: string;
  rVersion: string;
  mannWhitney: MannWhitneyVector[];
  twoProportion: TwoProportionVector[];
  ks: KsVector[];
  tail: TailVector[];
  pnorm: { x: number; lower: number; upper: number }[];
  qnorm: { p: number; lower: number; upper: number }[];
  hypergeometric: { atLeast: number; marked: number; unmarked: number; draws: number; upperTail: number }[];
  binomial: { atLeast: number; trials: number; probability: number; upperTail: number; confLevel: number; lowerBound: number }[];
}

export const rVectors = JSON.parse(readFileSync(new URL('./r-vectors.json', import.meta.url), 'utf8')) as RVectors;

export function toNumber(value: JsonNumber): number {
  return value === 'Infinity' ? Infinity : value === '-Infinity' ? -Infinity : value;
}

/** The Lehmer generator of generate.R: state <- 48271 * state mod (2^31 - 1), exact in doubles. */
export function lehmer({ seed, n, offset, scale }: LehmerSpec['lehmer']): number[] {
  const values: number[] = [];
  let state = seed;
  for (let i = 0; i < n; i++) {
    state = (48271 * state) % 2147483647;
    const u = state / 2147483647;
    values.push(offset + Math.floor(scale * 10 * (u * u)) / 10);
  }
  return values;
}

export function sampleOf(values: number[] | LehmerSpec): number[] {
  return Array.isArray(values) ? values : lehmer(values.lehmer);
}

/** Asserts agreement with R within 1e-6 (absolute up to 1, relative above); infinities must match. */
export function expectCloseToR(ours: number, theirs: number, what: string): void {
  if (!Number.isFinite(theirs)) {
    assert.equal(ours, theirs, `${what}: ours ${ours}, R ${theirs}`);
    return;
  }
  const allowed = agreement * Math.max(1, Math.abs(theirs));
  assert.ok(Math.abs(ours - theirs) <= allowed, `${what}: ours ${ours}, R ${theirs}, apart by ${Math.abs(ours - theirs)}, allowed ${allowed}`);
}
