/**
 * The compare judge: the candidate against the stable baseline over the same window, by the test the
 * template names. It first makes sure there is something to judge, and says "no data" otherwise,
 * never "failed": no baseline measurement, no samples or counts, or fewer than `minSamples` per
 * version (the usual state of a canary at 1% of little traffic). Two constant samples are
 * Inconclusive: with nothing spread out there is nothing for a test to weigh, and a metric stuck at
 * one value is more often a broken query than a verdict (equal constants are simply no change). Then
 * the test's finding goes through the one verdict rule of ./verdict.ts.
 */
import { isConstant } from '../stats/input.js';
import type { Judgement, MetricData } from '../types.js';
import { countsOf, samplesOf, type Samples, type Version } from './data.js';
import { distributionFinding } from './distribution.js';
import { formatNumber } from './format.js';
import { ratesFinding } from './rates.js';
import { shiftFinding } from './shift.js';
import type { CompareJudgeSpec } from './specs.js';
import { tailFinding } from './tail.js';
import { decide, type Finding } from './verdict.js';

const noData = (reason: string, statistics: Record<string, unknown> = {}): Judgement => ({
  verdict: 'NoData',
  reason,
  statistics: { judge: 'compare', ...statistics },
});

function shortOf(spec: CompareJudgeSpec, sizes: Record<Version, number>, unit: string): string | undefined {
  const short = (Object.entries(sizes) as [Version, number][]).filter(([, size]) => size < spec.minSamples);
  if (short.length === 0) return undefined;
  return `too little data: ${short.map(([version, size]) => `${version} ${size} ${unit}`).join(', ')}, ${spec.minSamples} needed per version`;
}

function judgeCounts(spec: CompareJudgeSpec, candidateData: MetricData, baselineData: MetricData): Judgement {
  const candidate = countsOf(candidateData, 'candidate');
  const baseline = countsOf(baselineData, 'baseline');
  if (candidate === undefined || baseline === undefined) {
    return noData(`no counts (events and total) from the ${candidate === undefined ? 'candidate' : 'baseline'}`, { test: spec.test });
  }
  const tooFew = shortOf(spec, { candidate: candidate.total, baseline: baseline.total }, 'counted');
  if (tooFew !== undefined) return noData(tooFew, { test: spec.test, n: { candidate: candidate.total, baseline: baseline.total } });
  return decide(spec, ratesFinding(spec, candidate, baseline));
}

type SampleFinding = (spec: CompareJudgeSpec, candidate: number[], baseline: number[]) => Finding;

function judgeSamples(spec: CompareJudgeSpec, candidateData: MetricData, baselineData: MetricData, find: SampleFinding): Judgement {
  const candidate = samplesOf(candidateData, 'candidate');
  const baseline = samplesOf(baselineData, 'baseline');
  if (candidate === undefined || baseline === undefined) {
    return noData(`no samples from the ${candidate === undefined ? 'candidate' : 'baseline'}`, { test: spec.test });
  }
  const dropped = droppedRecord(candidate, baseline);
  const n = { candidate: candidate.values.length, baseline: baseline.values.length };
  const tooFew = shortOf(spec, n, 'samples');
  if (tooFew !== undefined) return noData(tooFew, { test: spec.test, n, ...dropped });

  const [first, other] = [candidate.values[0]!, baseline.values[0]!];
  if (isConstant(candidate.values) && isConstant(baseline.values) && first !== other) {
    return {
      verdict: 'Inconclusive',
      reason: `every candidate sample is ${formatNumber(first)} and every baseline sample ${formatNumber(other)}: constant samples leave a ${spec.test} test nothing to weigh (a stuck metric?)`,
      statistics: { judge: 'compare', test: spec.test, n, candidate: { constant: first }, baseline: { constant: other }, ...dropped },
    };
  }
  const finding = find(spec, candidate.values, baseline.values);
  return decide(spec, { ...finding, statistics: { ...finding.statistics, ...dropped } });
}

function droppedRecord(candidate: Samples, baseline: Samples): Record<string, unknown> {
  if (candidate.droppedNaN === 0 && baseline.droppedNaN === 0) return {};
  return { droppedNaN: { candidate: candidate.droppedNaN, baseline: baseline.droppedNaN } };
}

export function compareJudge(spec: CompareJudgeSpec, candidate: MetricData, baseline: MetricData | undefined): Judgement {
  if (baseline === undefined) return noData('no baseline measurement to compare with', { test: spec.test });
  switch (spec.test) {
    case 'twoProportion':
      return judgeCounts(spec, candidate, baseline);
    case 'mannWhitney':
      return judgeSamples(spec, candidate, baseline, shiftFinding);
    case 'ks':
      return judgeSamples(spec, candidate, baseline, distributionFinding);
    case 'tail':
      return judgeSamples(spec, candidate, baseline, tailFinding);
  }
}
