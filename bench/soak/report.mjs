// The soak's report from its raw samples: per metric first/last/min/max and the least-squares slope
// per minute after the warm-up; the same figures at each cycle's end (one state: a cycle over, one
// release serving) with the slope per cycle; connections at the end against the warm-up's level;
// requests served and failed, the failures outside the bad release's own cycles listed; the ledger.
import { slope, summariseSeries } from './probe.mjs';

const round = (value, places = 3) => Math.round(value * 10 ** places) / 10 ** places;

/** [label, how to read it from a sample, unit] */
export const METRICS = [
  ...['router', 'controller'].flatMap((name) => [
    [`${name} RSS`, (s) => s.processes[name]?.rssMb, 'MB'],
    [`${name} heap used`, (s) => s.processes[name]?.heapUsedMb, 'MB'],
    // ArrayBuffers, Buffers and WebAssembly memory outside the V8 heap
    [`${name} external`, (s) => s.processes[name]?.externalMb, 'MB'],
    [`${name} open fds`, (s) => s.processes[name]?.fds, 'fds'],
    [`${name} TCP sockets`, (s) => s.processes[name]?.tcp?.total, 'sockets'],
    [`${name} TCP in CLOSE_WAIT`, (s) => s.processes[name]?.tcp?.closeWait, 'sockets'],
  ]),
  ['state store connections', (s) => s.connections?.store?.total, 'connections'],
  ['app database connections', (s) => s.connections?.app?.total, 'connections'],
  ['orders service processes', (s) => s.instances, 'processes'],
];

function series(samples, read) {
  return samples.map((sample) => [sample.minute, read(sample)]).filter(([, value]) => typeof value === 'number' && Number.isFinite(value));
}

export function summariseSoak({ startedAt, warmedAt, samples, cycles, loadReport, ledger, options }) {
  const after = samples.filter((sample) => sample.minute >= warmedAt);
  // the warm-up's level: its second half, once the pools have filled
  const warm = samples.filter((sample) => sample.minute >= warmedAt / 2 && sample.minute < warmedAt);
  // the first cycle's level: pools and keep-alive connections have met a whole rollout once by its end,
  // so what the run holds beyond it is what later cycles added
  const first = samples.filter((sample) => sample.cycle === 1);
  const last = samples[samples.length - 1];
  const ends = cycles.map((cycle) => cycle.sample);
  const metrics = {};
  for (const [label, read, unit] of METRICS) {
    const perCycle = ends.map((sample, index) => [index + 1, read(sample)]).filter(([, value]) => typeof value === 'number');
    const levelOf = (some) => {
      const values = some.map(read).filter((value) => typeof value === 'number');
      return values.length ? round(Math.max(...values)) : null;
    };
    metrics[label] = {
      unit,
      ...summariseSeries(series(after, read)),
      warmUpLevel: levelOf(warm),
      firstCycleLevel: levelOf(first),
      end: last === undefined ? null : (read(last) ?? null),
      atCycleEnds: perCycle.map(([, value]) => round(value)),
      slopePerCycle: round(slope(perCycle)),
    };
  }

  const badPhases = new Set(cycles.filter((cycle) => cycle.kind === 'bad').map((cycle) => `cycle-${cycle.cycle}-bad`));
  const phases = loadReport.phases;
  const unexpected = phases.filter((phase) => !badPhases.has(phase.name) && phase.failed > 0);
  const inBad = phases.filter((phase) => badPhases.has(phase.name));
  const badFailures = {};
  for (const phase of inBad) for (const [what, count] of Object.entries(phase.failures)) badFailures[what] = (badFailures[what] ?? 0) + count;
  const kinds = {};
  for (const cycle of cycles) kinds[cycle.kind] = (kinds[cycle.kind] ?? 0) + 1;
  // per kind: median and largest seconds of the cycle, and of the rollout alone
  const timing = {};
  const median = (values) => values.sort((a, b) => a - b)[Math.floor((values.length - 1) / 2)];
  for (const kind of Object.keys(kinds)) {
    const of = cycles.filter((cycle) => cycle.kind === kind);
    const cycleSeconds = of.map((cycle) => cycle.seconds);
    const rolloutSeconds = of.map((cycle) => cycle.rolloutSeconds).filter((value) => typeof value === 'number');
    timing[kind] = { cycleMedian: round(median(cycleSeconds), 1), cycleMax: round(Math.max(...cycleSeconds), 1), rolloutMedian: round(median(rolloutSeconds), 1), rolloutMax: round(Math.max(...rolloutSeconds), 1) };
  }

  return {
    startedAt: new Date(startedAt).toISOString(),
    options,
    minutes: round(last?.minute ?? 0, 2),
    warmUpMinutes: round(warmedAt, 2),
    cycles: {
      total: cycles.length,
      byKind: kinds,
      timing,
      unexpected: cycles.filter((cycle) => !cycle.expected).map(({ sample: _sample, ...cycle }) => cycle),
      list: cycles.map(({ sample: _sample, ...cycle }) => ({ ...cycle, seconds: round(cycle.seconds, 1), rolloutSeconds: cycle.rolloutSeconds === null ? null : round(cycle.rolloutSeconds, 1) })),
    },
    requests: {
      served: loadReport.total.ok,
      failed: loadReport.total.failed,
      // the failures that count: outside the bad release's own cycles (target 0)
      failedOutsideBadCycles: unexpected.reduce((sum, phase) => sum + phase.failed, 0),
      unexpectedFailures: unexpected.map((phase) => ({ phase: phase.name, failed: phase.failed, failures: phase.failures, samples: phase.failureSamples })),
      // what the bad release's canaries cost before analysis sent traffic back: only its 500s on GET /orders/:id
      inBadCycles: { failed: inBad.reduce((sum, phase) => sum + phase.failed, 0), byKind: badFailures, onlyGetOrder: inBad.every((phase) => phase.byRoute.get.failed === phase.failed && Object.keys(phase.failures).every((what) => what === 'HTTP 500')) },
      mismatches: loadReport.total.mismatches,
      rate: loadReport.total.rate,
      latencyMs: loadReport.total.latencyMs,
    },
    ledger: { ok: ledger.ok, checked: ledger.checked, missing: ledger.missing.length, problems: ledger.problems.length, summary: ledger.summary },
    metrics,
    samples: samples.map(({ minute, ...rest }) => ({ minute: round(minute, 3), ...rest })),
  };
}

/** the report as markdown tables, for the terminal and docs/BENCHMARKS.md */
export function formatSoak(report) {
  const lines = [];
  lines.push(`${report.minutes} min (${report.warmUpMinutes} min warm-up), ${report.options.users} users at ${report.options.rate} req/s`);
  lines.push(`cycles: ${report.cycles.total} (${Object.entries(report.cycles.byKind).map(([kind, n]) => `${n} ${kind}`).join(', ')}); unexpected outcomes: ${report.cycles.unexpected.length}`);
  for (const [kind, t] of Object.entries(report.cycles.timing)) lines.push(`  ${kind}: cycle median ${t.cycleMedian} s (max ${t.cycleMax}), rollout alone median ${t.rolloutMedian} s (max ${t.rolloutMax})`);
  const r = report.requests;
  lines.push(`requests: ${r.served} served, ${r.failed} failed: ${r.failedOutsideBadCycles} outside the bad release's cycles, ${r.inBadCycles.failed} in them (${JSON.stringify(r.inBadCycles.byKind)}, only GET /orders/:id: ${r.inBadCycles.onlyGetOrder}); mismatches ${r.mismatches}; p99 ${r.latencyMs.p99} ms`);
  for (const failure of r.unexpectedFailures) lines.push(`  unexpected in ${failure.phase}: ${JSON.stringify(failure.failures)} ${failure.samples.join(' | ')}`);
  lines.push(`ledger: ${report.ledger.summary}`);
  lines.push('');
  lines.push('| metric (after warm-up) | first | last | min | max | slope per minute | warm-up level | first cycle level | end | slope per cycle |');
  lines.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const [label, m] of Object.entries(report.metrics)) {
    const f = (value) => (value === null || value === undefined ? '–' : Number(value.toFixed(value >= 100 ? 0 : 1)));
    lines.push(`| ${label} (${m.unit}) | ${f(m.first)} | ${f(m.last)} | ${f(m.min)} | ${f(m.max)} | ${m.slopePerMinute?.toFixed(3) ?? '–'} | ${f(m.warmUpLevel)} | ${f(m.firstCycleLevel)} | ${f(m.end)} | ${m.slopePerCycle.toFixed(3)} |`);
  }
  return lines.join('\n');
}
