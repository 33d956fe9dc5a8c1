// Flag evaluation benchmark: Promote's evaluator against the real `unleash-client` npm package, both
// evaluating the same realistic flag locally, in the same process and run.
//
//   npm run build && node bench/flags/evaluate.mjs [--seconds 3] [--rounds 5]
//
// Options (all optional):
//   --seconds S    measured seconds per implementation per round, throughput (default 3)
//   --rounds N     rounds; implementations alternate within a round, the median round is reported (default 5)
//   --samples N    single-evaluation timings per implementation for the latency percentiles (default 300000)
//   --out FILE     where the JSON goes (default bench/results/flags-evaluate-<date>.json)
//
// The flag: flexibleRollout at 50% (stickiness userId) with three constraints (environment IN, version
// SEMVER_GTE, email STR_ENDS_WITH case-insensitive), one segment (country IN), and two strategy variants.
// 10 000 contexts cycle through the evaluations; about 70% pass the constraints and segment, so most
// evaluations reach the rollout hash. unleash-client is bootstrapped with the same ruleset (no server:
// bootstrap data, metrics off, no polling) and used after its `ready` event. Before anything is timed,
// both must agree on isEnabled and on the variant name for every context, or the run stops.
//
// Latency: each sample times one call with process.hrtime.bigint(); the timer's own cost (an empty
// timed region, measured the same way) is reported beside it and not subtracted.
import { availableParallelism, cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const { compileRuleset, isEnabled, getVariant } = await import(join(root, 'dist', 'flags', 'evaluate.js'));
const { Unleash, InMemStorageProvider } = await import('unleash-client');
const unleashVersion = (await import('unleash-client/package.json', { with: { type: 'json' } })).default.version;

const { values: args } = parseArgs({
  options: {
    seconds: { type: 'string', default: '3' },
    rounds: { type: 'string', default: '5' },
    samples: { type: 'string', default: '300000' },
    out: { type: 'string' },
  },
});
const SECONDS = Number(args.seconds);
const ROUNDS = Number(args.rounds);
const SAMPLES = Number(args.samples);
const startedAt = new Date();
const FLAG = 'checkout.new-flow';

const ruleset = {
  version: 2,
  segments: [{ id: 1, name: 'nordics', constraints: [{ contextName: 'country', operator: 'IN', values: ['NO', 'SE', 'DK', 'FI'], inverted: false, caseInsensitive: false }] }],
  features: [
    {
      name: FLAG,
      enabled: true,
      type: 'release',
      strategies: [
        {
          name: 'flexibleRollout',
          parameters: { rollout: '50', stickiness: 'userId', groupId: FLAG },
          constraints: [
            { contextName: 'environment', operator: 'IN', values: ['production', 'staging'], inverted: false, caseInsensitive: false },
            { contextName: 'version', operator: 'SEMVER_GTE', value: '2.1.0', inverted: false, caseInsensitive: false },
            { contextName: 'email', operator: 'STR_ENDS_WITH', values: ['@example.com', '@example.org'], inverted: false, caseInsensitive: true },
          ],
          segments: [1],
          variants: [
            { name: 'control', weight: 500, weightType: 'fix', stickiness: 'default' },
            { name: 'new-layout', weight: 500, weightType: 'fix', stickiness: 'default' },
          ],
        },
      ],
      variants: [],
    },
  ],
};

// Deterministic contexts: about 70% pass every constraint and the segment.
const countries = ['NO', 'SE', 'DK', 'FI', 'NO', 'SE', 'DE'];
const contexts = Array.from({ length: 10_000 }, (_, index) => ({
  userId: `user-${index}`,
  sessionId: `session-${index}`,
  environment: index % 20 === 0 ? 'development' : 'production',
  properties: {
    version: index % 10 === 0 ? '2.0.9' : `2.${1 + (index % 3)}.${index % 7}`,
    email: index % 25 === 0 ? `user${index}@elsewhere.net` : `User${index}@Example.COM`,
    country: countries[index % countries.length],
  },
}));

const compiled = compileRuleset(ruleset);
const unleash = new Unleash({
  appName: 'promote-bench',
  url: 'http://127.0.0.1:9/api/',
  refreshInterval: 0,
  disableMetrics: true,
  bootstrap: { data: ruleset.features, segments: ruleset.segments },
  storageProvider: new InMemStorageProvider(),
  skipInstanceCountWarning: true,
});
unleash.on('error', () => undefined);
unleash.on('warn', () => undefined);
await new Promise((resolve, reject) => {
  unleash.once('ready', resolve);
  setTimeout(() => reject(new Error('unleash-client did not become ready from its bootstrap within 10 s')), 10_000).unref();
});

// Same answers, or nothing is worth timing.
let enabledCount = 0;
for (const context of contexts) {
  const ours = isEnabled(compiled, FLAG, context);
  const theirs = unleash.isEnabled(FLAG, context);
  const ourVariant = getVariant(compiled, FLAG, context).name;
  const theirVariant = unleash.getVariant(FLAG, context).name;
  if (ours !== theirs || ourVariant !== theirVariant) {
    throw new Error(`answers differ for ${JSON.stringify(context)}: promote ${ours}/${ourVariant}, unleash-client ${theirs}/${theirVariant}`);
  }
  if (ours) enabledCount++;
}
console.log(`agreement: ${contexts.length} contexts, same isEnabled and variant in both (${enabledCount} enabled)`);

const implementations = [
  { name: 'promote isEnabled', evaluate: (context) => isEnabled(compiled, FLAG, context) },
  { name: 'unleash-client isEnabled', evaluate: (context) => unleash.isEnabled(FLAG, context) },
  { name: 'promote getVariant', evaluate: (context) => getVariant(compiled, FLAG, context) },
  { name: 'unleash-client getVariant', evaluate: (context) => unleash.getVariant(FLAG, context) },
];

let sink = 0;
/** Evaluations per second over about `seconds`, in chunks of the whole context list. */
function throughput(evaluate, seconds) {
  const deadline = process.hrtime.bigint() + BigInt(Math.round(seconds * 1e9));
  const start = process.hrtime.bigint();
  let count = 0;
  let now = start;
  while (now < deadline) {
    for (let index = 0; index < contexts.length; index++) if (evaluate(contexts[index])) sink++;
    count += contexts.length;
    now = process.hrtime.bigint();
  }
  return count / (Number(now - start) / 1e9);
}

function latencies(evaluate, samples) {
  const timings = new Float64Array(samples);
  for (let index = 0; index < samples; index++) {
    const context = contexts[index % contexts.length];
    const before = process.hrtime.bigint();
    if (evaluate(context)) sink++;
    timings[index] = Number(process.hrtime.bigint() - before);
  }
  timings.sort();
  const at = (quantile) => timings[Math.min(samples - 1, Math.floor(quantile * samples))];
  return { p50_ns: at(0.5), p99_ns: at(0.99), p999_ns: at(0.999), max_ns: timings[samples - 1] };
}

function timerCost(samples) {
  const timings = new Float64Array(samples);
  for (let index = 0; index < samples; index++) {
    const before = process.hrtime.bigint();
    timings[index] = Number(process.hrtime.bigint() - before);
  }
  timings.sort();
  return { p50_ns: timings[Math.floor(samples / 2)], p99_ns: timings[Math.floor(samples * 0.99)] };
}

console.log(`machine: ${availableParallelism()} cores, ${cpus()[0]?.model ?? 'unknown cpu'}, node ${process.version}; unleash-client ${unleashVersion}`);
console.log(`plan: warm-up, then ${ROUNDS} rounds x ${SECONDS} s per implementation (alternating), then ${SAMPLES} timed single evaluations each\n`);
for (const implementation of implementations) throughput(implementation.evaluate, 1);

const rounds = implementations.map(() => []);
for (let round = 0; round < ROUNDS; round++) {
  const order = round % 2 === 0 ? implementations.map((_, index) => index) : implementations.map((_, index) => implementations.length - 1 - index);
  for (const index of order) rounds[index].push(throughput(implementations[index].evaluate, SECONDS));
}
const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
const timer = timerCost(SAMPLES);
const results = implementations.map((implementation, index) => ({
  name: implementation.name,
  evaluations_per_second: Math.round(median(rounds[index])),
  rounds: rounds[index].map(Math.round),
  ...latencies(implementation.evaluate, SAMPLES),
}));

const widths = [26, 14, 9, 9, 9];
const row = (cells) => `| ${cells.map((cell, index) => (index === 0 ? String(cell).padEnd(widths[index]) : String(cell).padStart(widths[index]))).join(' | ')} |`;
console.log(row(['implementation', 'evals/s', 'p50 ns', 'p99 ns', 'p99.9 ns']));
console.log(row(widths.map((width) => '-'.repeat(width))));
for (const result of results) console.log(row([result.name, result.evaluations_per_second.toLocaleString('en-US'), result.p50_ns, result.p99_ns, result.p999_ns]));
console.log(`\ntimer cost (empty timed region): p50 ${timer.p50_ns} ns, p99 ${timer.p99_ns} ns (included in the latencies above)`);

const ratios = ['isEnabled', 'getVariant'].map((call) => {
  const ours = results.find((result) => result.name === `promote ${call}`);
  const theirs = results.find((result) => result.name === `unleash-client ${call}`);
  return { call, throughput_ratio: Number((ours.evaluations_per_second / theirs.evaluations_per_second).toFixed(2)), p99_ratio: Number((theirs.p99_ns / ours.p99_ns).toFixed(2)) };
});
console.log('\nRatios (promote / unleash-client; above 1 means promote is faster)');
for (const ratio of ratios) console.log(`  ${ratio.call.padEnd(10)} throughput x${ratio.throughput_ratio}   p99 latency x${ratio.p99_ratio}`);

unleash.destroy();
const path = writeResults({
  root,
  name: 'flags-evaluate',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    startedAt: startedAt.toISOString(),
    machine: { cores: availableParallelism(), cpu: cpus()[0]?.model, node: process.version },
    unleashClient: unleashVersion,
    flag: ruleset,
    contexts: contexts.length,
    enabledContexts: enabledCount,
    secondsPerRound: SECONDS,
    samples: SAMPLES,
    timer,
    results,
    ratios,
    sink,
  },
});
console.log(`\nresults: ${path}`);
