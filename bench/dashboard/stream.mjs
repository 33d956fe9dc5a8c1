// Dashboard live updates: with N browsers on GET /api/stream (server-sent events), the time from a
// traffic weight change written to the store to the `traffic` event arriving at each of them, against
// the floor of the same run: a plain pg client LISTENing on promote_traffic directly. Plus the server
// process's memory per connected stream, and a count proving no client missed a change.
//
//   npm run build && node bench/dashboard/stream.mjs [--clients 1,100,1000] [--changes 50]
//
// Options (all optional):
//   --clients LIST  numbers of SSE clients, one round each on the same server (default 1,100,1000)
//   --changes N     measured weight changes per round (default 50), after one warm-up change
//   --gap MS        least pause between changes (default 50); a random 0 to 50 ms is added
//   --burst N       then N changes back to back, untimed: how many each client sees and whether its last
//                   event is the final state (default 20; 0 skips)
//   --out FILE      where the JSON goes (default bench/results/dashboard-stream-<date>.json)
//
// What is measured: the clock starts just before setTraffic (the write the controller's setWeight step
// and `promote traffic` make: one transaction, revision bump, audit event, NOTIFY promote_traffic on
// commit) and stops when a client's socket delivers the chunk holding the event, stamped with
// CLOCK_MONOTONIC (process.hrtime.bigint, one clock for all processes). The ratio SSE / LISTEN is on
// these same changes; "added" is, per change, a client's arrival minus the LISTEN peer's (the commit's
// own time cancels out: the notification leaves PostgreSQL at the commit). The Promote API server
// (buildServer from dist/server/app.js; the stream's hub: one LISTEN connection, a getTraffic read per
// notification, then one write per browser) runs in this process; the clients and the LISTEN peer run
// in a forked process (stream-clients.mjs), so their parsing is not on the server's event loop.
// Memory: this process's RSS and V8 heap after a full GC, before the clients connect and after they
// connected and got a warm-up change; (after - before) / N is the cost of one open stream (noise for
// small N). CPU: this process's user + system time over the measured changes, per change.
//
// Left out: browsers (EventSource, rendering), TLS and any proxy; the dashboard's page fetching the
// rollout after an event; rollout and audit events (sent too, on every change, but not timed). The
// clients share one process, so with 1000 clients the last stamps also carry that process's time to
// read the sockets before it (a few µs each). Everything runs on 127.0.0.1 with an embedded
// PostgreSQL (durable: fsync on); the bench's own writes share the server's process and pool.
import { fork } from 'node:child_process';
import { availableParallelism, cpus, totalmem } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { startApiStack } from '../lib/api-stack.mjs';
import { writeResults } from '../lib/results.mjs';

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, '..', '..');
const dist = (path) => import(join(root, 'dist', path));
const { setTraffic } = await dist('store/traffic.js');

const { values: args } = parseArgs({
  options: {
    clients: { type: 'string', default: '1,100,1000' },
    changes: { type: 'string', default: '50' },
    gap: { type: 'string', default: '50' },
    burst: { type: 'string', default: '20' },
    out: { type: 'string' },
  },
});
const ROUNDS = args.clients.split(',').map(Number);
const CHANGES = Number(args.changes);
const GAP = Number(args.gap);
const BURST = Number(args.burst);
if (ROUNDS.some((n) => !Number.isInteger(n) || n < 1) || !(CHANGES >= 1)) throw new Error('--clients takes a list of positive integers, --changes a positive integer');
const startedAt = new Date();
const APP = 'shop';
const ENVIRONMENT = 'production';

// a full GC before each memory reading, so the figures are what the streams hold, not garbage
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc');
const memory = () => {
  gc();
  gc();
  const { rss, heapUsed, external, arrayBuffers } = process.memoryUsage();
  return { rss, heapUsed, external, arrayBuffers };
};
const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

const stack = await startApiStack({ root, prefix: 'promote-stream-bench-', app: APP, environments: ['staging', ENVIRONMENT] });
const { pool, base } = stack;

let weight = 0;
/** One routing change as the controller makes it; returns its revision and when the write started and returned. */
async function change(reason) {
  weight = (weight % 99) + 1;
  const config = { versions: [{ name: '1.0.0', weight: 100 - weight, upstreams: [] }, { name: '2.0.0', weight, upstreams: [] }], stable: '1.0.0' };
  const started = nowMs();
  const stored = await setTraffic(pool, { app: APP, environment: ENVIRONMENT, config, actor: 'bench', reason });
  return { revision: stored.revision, started, committed: nowMs() };
}

/** The forked clients, with a promise per message type answered in order. */
function startClients(count) {
  const child = fork(join(here, 'stream-clients.mjs'), [base, stack.databaseUrl, String(count)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const queues = new Map();
  let failure;
  const failed = new Promise((_resolve, reject) => {
    failure = reject;
  });
  failed.catch(() => undefined);
  child.on('message', (message) => queues.get(message.type)?.shift()?.(message));
  child.on('exit', (code) => failure(new Error(`the stream clients' process exited (code ${code}) before the round ended`)));
  const next = (type) => Promise.race([new Promise((resolve) => queues.set(type, [...(queues.get(type) ?? []), resolve])), failed]);
  return {
    ready: next('ready'),
    async expect(revision, timeoutMs) {
      const answer = next('arrived');
      child.send({ type: 'expect', revision, timeoutMs });
      return answer;
    },
    async counts(from, to) {
      const answer = next('counts');
      child.send({ type: 'counts', from, to });
      return answer;
    },
    async close() {
      child.removeAllListeners('exit');
      const exited = new Promise((resolve) => child.once('exit', resolve));
      child.send({ type: 'close' });
      await exited;
    },
  };
}

const summary = (times) => {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  const round = (ms) => Number(ms.toFixed(2));
  return { n: sorted.length, p50Ms: round(at(0.5)), p99Ms: round(at(0.99)), maxMs: round(sorted[sorted.length - 1]) };
};

const rounds = [];
for (const clients of ROUNDS) {
  const before = memory();
  const peers = startClients(clients);
  await peers.ready;
  // the hub starts its LISTEN connection with its first subscriber: the warm-up waits for it (a change
  // made before it listens reaches nobody, and is retried)
  let warm = false;
  for (let attempt = 1; attempt <= 5 && !warm; attempt += 1) {
    const { revision } = await change('warm-up');
    const arrived = await peers.expect(revision, 3_000);
    warm = arrived.listenAt !== null && arrived.clientsAt.every((at) => at !== null);
  }
  if (!warm) throw new Error(`warming up ${clients} streams: no change reached every client in 5 tries`);
  const after = memory();

  const listenMs = [];
  const sseMs = [];
  const lastClientMs = [];
  const sseAddedMs = [];
  const lastClientAddedMs = [];
  const writeMs = [];
  const revisions = [];
  let lost = 0;
  const cpuBefore = process.cpuUsage();
  for (let index = 1; index <= CHANGES; index += 1) {
    const { revision, started, committed } = await change(`stream bench change ${index}`);
    revisions.push(revision);
    writeMs.push(committed - started);
    const arrived = await peers.expect(revision);
    if (arrived.listenAt === null) lost += 1;
    else listenMs.push(arrived.listenAt - started);
    let last = 0;
    for (const at of arrived.clientsAt) {
      if (at === null) {
        lost += 1;
        continue;
      }
      sseMs.push(at - started);
      if (arrived.listenAt !== null) sseAddedMs.push(at - arrived.listenAt);
      last = Math.max(last, at - started);
    }
    lastClientMs.push(last);
    if (arrived.listenAt !== null) lastClientAddedMs.push(last - (arrived.listenAt - started));
    await new Promise((resolve) => setTimeout(resolve, GAP + Math.random() * 50));
  }
  const cpu = process.cpuUsage(cpuBefore);
  // every client once per measured change, counted by the clients themselves
  const counts = await peers.counts(revisions[0], revisions[revisions.length - 1]);
  const received = counts.perClient.filter((n) => n === CHANGES).length;

  // a burst: BURST changes back to back (each write awaited, no pause), as a rollout's quick steps or
  // two operators might; not timed, only what each client ends up showing and how many it saw
  let burst;
  if (BURST > 0) {
    const made = [];
    for (let index = 1; index <= BURST; index += 1) made.push((await change(`stream bench burst ${index}`)).revision);
    const final = made[made.length - 1];
    await peers.expect(final);
    // frames for earlier revisions still on the way land after the final one: give them time
    await new Promise((resolve) => setTimeout(resolve, 1_000));
    const seen = await peers.counts(made[0], final);
    const sorted = [...seen.perClient].sort((a, b) => a - b);
    burst = {
      changes: BURST,
      listenSaw: seen.listen,
      clientsSawMin: sorted[0],
      clientsSawMedian: sorted[Math.floor(sorted.length / 2)],
      // a client whose last traffic event is not the final revision shows stale weights until the next change
      clientsShowingStale: seen.lastRevision.filter((revision) => revision !== final).length,
      duplicates: seen.duplicates - counts.duplicates,
    };
  }
  await peers.close();
  rounds.push({
    clients,
    changes: CHANGES,
    lostDeliveries: lost,
    duplicates: counts.duplicates,
    clientsWithEveryChange: received,
    burst,
    storeWrite: summary(writeMs),
    listen: summary(listenMs),
    sse: summary(sseMs),
    sseLastClient: summary(lastClientMs),
    // per change, a client's arrival minus the LISTEN peer's: what the server's hub adds
    sseAdded: summary(sseAddedMs),
    lastClientAdded: summary(lastClientAddedMs),
    // this process's CPU over the measured changes (server + the bench's writes), per change
    serverCpuMsPerChange: Number(((cpu.user + cpu.system) / 1000 / CHANGES).toFixed(2)),
    memory: {
      before,
      after,
      rssPerClientBytes: Math.round((after.rss - before.rss) / clients),
      heapPerClientBytes: Math.round((after.heapUsed - before.heapUsed) / clients),
    },
  });
  console.error(`  ${clients} clients: done (${lost} lost)`);
}

const kb = (bytes) => (bytes / 1024).toFixed(1);
const mb = (bytes) => (bytes / 2 ** 20).toFixed(1);
console.log(`\nDashboard live updates over ${CHANGES} traffic changes per round (clock from just before the store write to the event's arrival)`);
console.log("ratio = SSE / LISTEN on the same changes; added = a client's arrival minus the LISTEN peer's, per change (what serving adds)\n");
console.log('| clients | receiver | p50 ms | p99 ms | max ms | ratio p50 | ratio p99 | added p50 ms | added p99 ms | added max ms |');
console.log('| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
const ratio = (a, b) => (a / b).toFixed(2);
for (const round of rounds) {
  const { clients, storeWrite: w, listen: l, sse: s, sseLastClient: last, sseAdded: sa, lastClientAdded: la } = round;
  console.log(`| ${clients} | store write alone (setTraffic) | ${w.p50Ms} | ${w.p99Ms} | ${w.maxMs} | | | | | |`);
  console.log(`| ${clients} | LISTEN (floor) | ${l.p50Ms} | ${l.p99Ms} | ${l.maxMs} | 1.00 | 1.00 | | | |`);
  console.log(`| ${clients} | SSE, every client | ${s.p50Ms} | ${s.p99Ms} | ${s.maxMs} | ${ratio(s.p50Ms, l.p50Ms)} | ${ratio(s.p99Ms, l.p99Ms)} | ${sa.p50Ms} | ${sa.p99Ms} | ${sa.maxMs} |`);
  console.log(`| ${clients} | SSE, last client of each change | ${last.p50Ms} | ${last.p99Ms} | ${last.maxMs} | ${ratio(last.p50Ms, l.p50Ms)} | ${ratio(last.p99Ms, l.p99Ms)} | ${la.p50Ms} | ${la.p99Ms} | ${la.maxMs} |`);
}
console.log('\n| clients | RSS before MB | RSS after MB | RSS per client KB | heap before MB | heap after MB | heap per client KB | server CPU ms per change | deliveries | lost | duplicates |');
console.log('| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |');
for (const round of rounds) {
  const { memory: m } = round;
  console.log(`| ${round.clients} | ${mb(m.before.rss)} | ${mb(m.after.rss)} | ${kb(m.rssPerClientBytes)} | ${mb(m.before.heapUsed)} | ${mb(m.after.heapUsed)} | ${kb(m.heapPerClientBytes)} | ${round.serverCpuMsPerChange} | ${round.sse.n} of ${round.clients * round.changes} | ${round.lostDeliveries} | ${round.duplicates} |`);
}
if (BURST > 0) {
  console.log(`\nBurst: ${BURST} changes back to back (untimed); a client is stale when its last traffic event is not the final revision\n`);
  console.log('| clients | LISTEN saw | SSE client saw (min) | SSE client saw (median) | clients showing stale weights | duplicate events |');
  console.log('| ---: | ---: | ---: | ---: | ---: | ---: |');
  for (const { clients, burst: b } of rounds) console.log(`| ${clients} | ${b.listenSaw} of ${b.changes} | ${b.clientsSawMin} | ${b.clientsSawMedian} | ${b.clientsShowingStale} | ${b.duplicates} |`);
}

const versions = await pool.query('select version()');
const path = writeResults({
  root,
  name: 'dashboard-stream',
  script: fileURLToPath(import.meta.url),
  startedAt,
  out: args.out,
  body: {
    startedAt: startedAt.toISOString(),
    changes: CHANGES,
    gapMs: GAP,
    machine: { cpus: availableParallelism(), model: cpus()[0]?.model, memoryGb: Math.round(totalmem() / 2 ** 30), node: process.version, postgres: versions.rows[0].version },
    rounds,
  },
});
console.log(`\nJSON: ${path}`);

await stack.close();

const lost = rounds.filter((round) => round.lostDeliveries > 0 || round.clientsWithEveryChange < round.clients);
if (lost.length > 0) {
  console.error(`\nLOST EVENTS: ${lost.map((round) => `${round.clients} clients: ${round.lostDeliveries} deliveries missing, ${round.clients - round.clientsWithEveryChange} clients without every change`).join('; ')}`);
  process.exitCode = 1;
}
