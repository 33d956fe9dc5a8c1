// The clients of bench/dashboard/stream.mjs, in their own process (forked, talking over IPC) so that
// parsing N event streams does not run on the server's event loop, which is what is measured.
//
// It opens N raw node:http GET /api/stream requests and one plain pg client LISTENing on
// promote_traffic (the floor), and stamps each `traffic` event / notification with the machine's
// monotonic clock (process.hrtime.bigint, CLOCK_MONOTONIC: the same clock in every process), taken
// when the chunk arrives, before it is parsed.
//
// Messages in:  { type: 'expect', revision, timeoutMs? }-> answers { type: 'arrived', revision, listenAt, clientsAt: [ms|null] }
//                                                 once every client and the listener have it, or after --timeout
//               { type: 'counts', from, to }   -> { type: 'counts', perClient: [distinct revisions seen in from..to], listen,
//                                                 lastRevision: [per client], duplicates }
//               { type: 'close' }              -> closes everything and exits
// Message out first: { type: 'ready' } once every stream has sent its first bytes and LISTEN is on.
import http from 'node:http';
import pg from 'pg';

const [base, databaseUrl, clientsArg, timeoutArg] = process.argv.slice(2);
const CLIENTS = Number(clientsArg);
const TIMEOUT_MS = Number(timeoutArg ?? 10_000);
/** connections opened at once: a thousand SYNs in one go would overflow the listen backlog and time the kernel's retries */
const OPEN_BATCH = 100;

const nowMs = () => Number(process.hrtime.bigint()) / 1e6;

/** per client: revision -> arrival ms; the listener has one too */
const arrivals = Array.from({ length: CLIENTS }, () => new Map());
const listenArrivals = new Map();
/** per client: the revision of the last traffic event, in arrival order (what a dashboard would show) */
const lastRevision = new Array(CLIENTS).fill(null);
let duplicates = 0;
let waiting = [];
const requests = [];

function record(map, revision, at) {
  if (map.has(revision)) duplicates += 1;
  else map.set(revision, at);
  if (waiting.length > 0) settle();
}

function complete(revision) {
  return listenArrivals.has(revision) && arrivals.every((map) => map.has(revision));
}

function answer(revision) {
  process.send({ type: 'arrived', revision, listenAt: listenArrivals.get(revision) ?? null, clientsAt: arrivals.map((map) => map.get(revision) ?? null) });
}

function settle() {
  waiting = waiting.filter(({ revision, timer }) => {
    if (!complete(revision)) return true;
    clearTimeout(timer);
    answer(revision);
    return false;
  });
}

/** Parses one event stream; only `traffic` events are decoded (rollout and audit events are skipped unread). */
function openStream(index) {
  return new Promise((resolve, reject) => {
    const request = http.get(`${base}/api/stream`, { agent: false }, (response) => {
      if (response.statusCode !== 200) {
        reject(new Error(`opening event stream ${index}: HTTP ${response.statusCode}`));
        return;
      }
      response.setEncoding('utf8');
      let buffer = '';
      let opened = false;
      response.on('data', (chunk) => {
        const at = nowMs();
        if (!opened) {
          opened = true;
          resolve();
        }
        buffer += chunk;
        let end;
        while ((end = buffer.indexOf('\n\n')) !== -1) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          if (!block.startsWith('event: traffic\n')) continue;
          const data = block.slice(block.indexOf('data: ') + 6);
          const { revision } = JSON.parse(data);
          lastRevision[index] = revision;
          record(arrivals[index], revision, at);
        }
      });
      response.on('error', () => undefined);
    });
    request.on('error', reject);
    requests.push(request);
  });
}

const listener = new pg.Client({ connectionString: databaseUrl });
listener.on('notification', (message) => {
  const at = nowMs();
  record(listenArrivals, JSON.parse(message.payload ?? '{}').revision, at);
});
await listener.connect();
await listener.query('listen promote_traffic');

for (let first = 0; first < CLIENTS; first += OPEN_BATCH) {
  const batch = [];
  for (let index = first; index < Math.min(CLIENTS, first + OPEN_BATCH); index += 1) batch.push(openStream(index));
  await Promise.all(batch);
}

process.on('message', async (message) => {
  if (message.type === 'expect') {
    const { revision } = message;
    if (complete(revision)) answer(revision);
    else {
      const timer = setTimeout(() => {
        waiting = waiting.filter((entry) => entry.revision !== revision);
        answer(revision);
      }, message.timeoutMs ?? TIMEOUT_MS);
      waiting.push({ revision, timer });
    }
  } else if (message.type === 'counts') {
    const { from, to } = message;
    const within = (map) => [...map.keys()].filter((revision) => revision >= from && revision <= to).length;
    process.send({ type: 'counts', perClient: arrivals.map(within), listen: within(listenArrivals), lastRevision, duplicates });
  } else if (message.type === 'close') {
    for (const request of requests) request.destroy();
    await listener.end().catch(() => undefined);
    process.disconnect();
  }
});
process.send({ type: 'ready' });
