// Flag propagation: time from a change committed in the flag store to an SDK evaluating the new value,
// over N changes, for Promote's SDK (server-sent events) and, on the same changes in the same run, the
// stock unleash-client polling /api/client/features.
//
//   npm run build && node bench/flags/propagation.mjs [--changes 100] [--unleash-refresh 1000]
//
// Options (all optional):
//   --changes N           flag changes measured (default 100); each flips a flexibleRollout between 0 and 100 %
//   --unleash-refresh MS  unleash-client's refreshInterval (default 1000; its default is 15000, which would
//                         make the run take about 12 minutes: pass 15000 to measure it)
//   --gap MS              least pause between changes (default 20); a random 0 to --unleash-refresh ms is
//                         added, so changes land at random points of the polling cycle (back-to-back changes
//                         would each land just after a poll and always wait a full interval)
//   --out FILE            where the JSON goes (default bench/results/flags-propagation-<date>.json)
//
// The clock starts just before the store write (setFlagRollout: one transaction, the revision bump and its
// NOTIFY) and stops when the SDK's evaluation returns the new value. `promote flags set` is the same write
// behind a CLI process start, which this leaves out: the CLI's own start-up is not propagation. Everything
// runs on 127.0.0.1 with an embedded PostgreSQL (durable: fsync on).
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Unleash } from 'unleash-client';
import { startApiStack } from '../lib/api-stack.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const dist = (path) => import(join(root, 'dist', path));
const { putFlag, setFlagRollout } = await dist('flags/store.js');
const { createFlagsClient } = await dist('index.js');

const { values: args } = parseArgs({
  options: {
    changes: { type: 'string', default: '100' },
    'unleash-refresh': { type: 'string', default: '1000' },
    gap: { type: 'string', default: '20' },
    out: { type: 'string' },
  },
});
const CHANGES = Number(args.changes);
const UNLEASH_REFRESH = Number(args['unleash-refresh']);
const GAP = Number(args.gap);
const startedAt = new Date();
const SCOPE = { app: 'shop', environment: 'production' };
const TOKEN = 'shop:production.bench';
const FLAG = 'bench-rollout';
const CONTEXT = { userId: 'user-42' };

const stack = await startApiStack({
  root,
  prefix: 'promote-flags-bench-',
  app: SCOPE.app,
  environments: [SCOPE.environment],
  prepare: (pool) => putFlag(pool, SCOPE, { name: FLAG, enabled: true, strategies: [{ name: 'flexibleRollout', parameters: { rollout: 0, stickiness: 'default', groupId: FLAG } }] }, { actor: 'bench' }),
});
const { pool, base } = stack;

const sdk = createFlagsClient({ url: base, token: TOKEN });
if ((await sdk.ready()) !== 'server') throw new Error('the SDK did not get the ruleset');
const unleash = new Unleash({ url: `${base}/api/`, appName: 'bench', refreshInterval: UNLEASH_REFRESH, disableMetrics: true, customHeaders: { Authorization: TOKEN } });
await new Promise((resolve) => unleash.once('synchronized', resolve));

/** Resolves with the milliseconds from `since` until `check()` holds, checked on every change event and every ms. */
function timeUntil(check, since, subscribe) {
  return new Promise((resolve) => {
    let done = false;
    const finish = () => {
      if (done || !check()) return;
      done = true;
      clearInterval(timer);
      unsubscribe();
      resolve(performance.now() - since);
    };
    const unsubscribe = subscribe(finish);
    const timer = setInterval(finish, 1);
    finish();
  });
}
const onSdkChange = (listener) => sdk.on('change', listener);
const onUnleashChange = (listener) => {
  unleash.on('changed', listener);
  return () => unleash.off('changed', listener);
};

const sdkTimes = [];
const unleashTimes = [];
const writeTimes = [];
for (let change = 1; change <= CHANGES; change += 1) {
  const on = change % 2 === 1;
  const started = performance.now();
  const sdkSeen = timeUntil(() => sdk.isEnabled(FLAG, CONTEXT) === on, started, onSdkChange);
  const unleashSeen = timeUntil(() => unleash.isEnabled(FLAG, CONTEXT) === on, started, onUnleashChange);
  await setFlagRollout(pool, SCOPE, FLAG, on ? 100 : 0, { actor: 'bench', reason: `propagation change ${change}` });
  writeTimes.push(performance.now() - started);
  sdkTimes.push(await sdkSeen);
  unleashTimes.push(await unleashSeen);
  await new Promise((resolve) => setTimeout(resolve, GAP + Math.random() * UNLEASH_REFRESH));
}

const summary = (times) => {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (ms) => Number(ms.toFixed(1));
  return { n: sorted.length, medianMs: round(at(0.5)), p90Ms: round(at(0.9)), maxMs: round(sorted[sorted.length - 1]), minMs: round(sorted[0]) };
};
const results = {
  storeWrite: summary(writeTimes),
  promoteSdk: { transport: 'server-sent events (/api/flags/stream)', ...summary(sdkTimes) },
  // the store write's own time taken out: what serving adds once the change is committed
  promoteSdkAfterCommit: summary(sdkTimes.map((ms, index) => ms - writeTimes[index])),
  unleashClient: { transport: `polling /api/client/features every ${UNLEASH_REFRESH} ms (ETag)`, ...summary(unleashTimes) },
};

console.log(`\nFlag propagation over ${CHANGES} changes (clock from just before the store write to the SDK evaluating the new value)\n`);
console.log('| client | transport | median ms | p90 ms | max ms | min ms |');
console.log('| --- | --- | ---: | ---: | ---: | ---: |');
console.log(`| store write alone (setFlagRollout, commit) | – | ${results.storeWrite.medianMs} | ${results.storeWrite.p90Ms} | ${results.storeWrite.maxMs} | ${results.storeWrite.minMs} |`);
console.log(`| Promote SDK | ${results.promoteSdk.transport} | ${results.promoteSdk.medianMs} | ${results.promoteSdk.p90Ms} | ${results.promoteSdk.maxMs} | ${results.promoteSdk.minMs} |`);
console.log(`| Promote SDK, after the commit | same, store write time taken out | ${results.promoteSdkAfterCommit.medianMs} | ${results.promoteSdkAfterCommit.p90Ms} | ${results.promoteSdkAfterCommit.maxMs} | ${results.promoteSdkAfterCommit.minMs} |`);
console.log(`| unleash-client | ${results.unleashClient.transport} | ${results.unleashClient.medianMs} | ${results.unleashClient.p90Ms} | ${results.unleashClient.maxMs} | ${results.unleashClient.minMs} |`);
console.log(`\nmedian ratio unleash-client / Promote SDK: ${(results.unleashClient.medianMs / results.promoteSdk.medianMs).toFixed(1)}x`);

const versions = await pool.query('select version()');
const path = writeResults({
  root,
  name: 'flags-propagation',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    startedAt: startedAt.toISOString(),
    changes: CHANGES,
    unleashRefreshMs: UNLEASH_REFRESH,
    gapMs: GAP,
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: versions.rows[0].version },
    results,
    samples: { promoteSdkMs: sdkTimes.map((ms) => Number(ms.toFixed(2))), unleashClientMs: unleashTimes.map((ms) => Number(ms.toFixed(2))), storeWriteMs: writeTimes.map((ms) => Number(ms.toFixed(2))) },
  },
});
console.log(`\nJSON: ${path}`);

unleash.destroy();
await sdk.close();
await stack.close();
