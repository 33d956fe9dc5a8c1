import { request as httpRequest, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { sendCommand } from '../engine/commands.js';
import { startRollout } from '../engine/start.js';
import { putFlag } from '../flags/store.js';
import { parseSpec, type PromoteSpec } from '../spec/index.js';
import { appendEvent, createRelease, setTraffic, upsertApp } from '../store/index.js';
import { buildServer } from './app.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

interface Message {
  id?: string;
  event?: string;
  data?: string;
  comment?: string;
}

/** A real SSE client over node:http: parses frames as they arrive and waits for one that matches. */
function openStream(base: string, headers: Record<string, string> = {}) {
  const messages: Message[] = [];
  const waiters: Array<{ match: (message: Message) => boolean; resolve: (message: Message) => void }> = [];
  let response: IncomingMessage | undefined;
  let ended = false;
  const opened = new Promise<IncomingMessage>((resolve, reject) => {
    const outgoing = httpRequest(`${base}/api/stream`, { headers }, (incoming) => {
      response = incoming;
      let buffer = '';
      incoming.setEncoding('utf8');
      incoming.on('data', (chunk: string) => {
        buffer += chunk;
        let end: number;
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const message: Message = {};
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) message.comment = line.slice(1).trim();
            const [field, ...rest] = line.split(': ');
            if (field === 'id' || field === 'event' || field === 'data') message[field] = rest.join(': ');
          }
          messages.push(message);
          for (const waiter of [...waiters]) {
            if (waiter.match(message)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.resolve(message);
            }
          }
        }
      });
      incoming.on('end', () => (ended = true));
      resolve(incoming);
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
  const next = (match: (message: Message) => boolean, what: string, timeoutMs = 15_000) =>
    new Promise<Message>((resolve, reject) => {
      const found = messages.find(match);
      if (found) return resolve(found);
      const timer = setTimeout(() => reject(new Error(`no ${what} within ${timeoutMs} ms; got ${JSON.stringify(messages)}`)), timeoutMs);
      waiters.push({ match, resolve: (message) => (clearTimeout(timer), resolve(message)) });
    });
  return { opened, messages, next, isEnded: () => ended, close: () => response?.destroy() };
}

describe('GET /api/stream', () => {
  let db: pg.Pool;
  let spec: PromoteSpec;
  let api: FastifyInstance;
  let base: string;
  let rolloutId: number;

  beforeAll(async () => {
    ({ pool: db } = await createStorePool());
    const parsed = parseSpec(specText, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    await upsertApp(db, { name: 'shop' });
    await createRelease(db, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
    rolloutId = (await startRollout(db, { spec, environment: 'staging', version: '1.0.0', actor: 'alice' })).id;
    api = await buildServer({ pool: db, spec, web: false });
    base = await api.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await api?.close();
  });

  it('sends rollout, audit event, traffic and flags changes as they happen, over one LISTEN connection', async () => {
    const first = openStream(base);
    const second = openStream(base);
    const response = await first.opened;
    await second.opened;
    expect(response.statusCode).toBe(200);
    expect(response.headers['content-type']).toBe('text/event-stream; charset=utf-8');
    await first.next((message) => message.comment === 'connected', 'the opening comment');
    // both browsers share the server's one listening connection
    await expect.poll(async () => Number((await db.query<{ count: string }>(`select count(*) from pg_stat_activity where datname = current_database() and query like 'listen %'`)).rows[0]?.count), { timeout: 10_000 }).toBe(1);

    await sendCommand(db, { app: 'shop', environment: 'staging', kind: 'pause', actor: 'bob', reason: 'look first' });
    const rollout = await first.next((message) => message.event === 'rollout', 'a rollout event');
    expect(JSON.parse(rollout.data!)).toMatchObject({ id: rolloutId, app: 'shop', environment: 'staging', currentStep: expect.any(Number) as number, weights: expect.any(Object) as object });

    const appended = await appendEvent(db, { type: 'test.note', actor: 'carol', app: 'shop', rolloutId, data: { note: 'hello' } });
    const event = await second.next((message) => message.event === 'event' && message.id === String(appended.seq), 'the audit event');
    expect(JSON.parse(event.data!)).toMatchObject({ seq: appended.seq, type: 'test.note', actor: 'carol', rolloutId, data: { note: 'hello' } });

    const traffic = await setTraffic(db, { app: 'shop', environment: 'staging', config: { versions: [{ name: '1.0.0', weight: 10, upstreams: [] }, { name: '0.9.0', weight: 90, upstreams: [] }], stable: '0.9.0' }, actor: 'dave' });
    const trafficMessage = await first.next((message) => message.event === 'traffic', 'a traffic event');
    expect(JSON.parse(trafficMessage.data!)).toEqual({ environment: 'staging', weights: { '1.0.0': 10, '0.9.0': 90 }, revision: traffic.revision });

    await putFlag(db, { app: 'shop', environment: 'staging' }, { name: 'checkout', enabled: true }, { actor: 'erin' });
    const flags = await first.next((message) => message.event === 'flags', 'a flags event');
    expect(JSON.parse(flags.data!)).toMatchObject({ environment: 'staging', revision: expect.any(Number) as number });
    first.close();
    second.close();
  });

  it('resends the audit events after Last-Event-ID, oldest first', async () => {
    const before = await appendEvent(db, { type: 'test.missed', actor: 'carol', app: 'shop', rolloutId, data: { n: 1 } });
    const missed = await appendEvent(db, { type: 'test.missed', actor: 'carol', app: 'shop', rolloutId, data: { n: 2 } });
    const stream = openStream(base, { 'last-event-id': String(before.seq) });
    const resent = await stream.next((message) => message.event === 'event', 'a resent event');
    expect(resent.id).toBe(String(missed.seq));
    expect(JSON.parse(resent.data!)).toMatchObject({ type: 'test.missed', data: { n: 2 } });
    // the event before Last-Event-ID is not sent again
    expect(stream.messages.filter((message) => message.id === String(before.seq))).toEqual([]);
    stream.close();
  });

  it('listens again after PostgreSQL drops its connection, and sends what happened meanwhile', async () => {
    const stream = openStream(base);
    await stream.opened;
    await stream.next((message) => message.comment === 'connected', 'the opening comment');
    const listening = `select pid from pg_stat_activity where datname = current_database() and query like 'listen %'`;
    await expect.poll(async () => (await db.query(listening)).rowCount, { timeout: 10_000 }).toBe(1);
    const before = (await db.query<{ pid: number }>(listening)).rows[0]!.pid;
    await db.query('select pg_terminate_backend($1)', [before]);
    // written while nobody listens: reaches the browser by the audit tail
    const missed = await appendEvent(db, { type: 'test.while-down', actor: 'carol', app: 'shop', rolloutId, data: {} });
    await stream.next((message) => message.event === 'event' && message.id === String(missed.seq), 'the event written while the listener was down');
    // one new listening connection, not the dropped one
    await expect.poll(async () => (await db.query<{ pid: number }>(listening)).rows.filter((row) => row.pid !== before).length, { timeout: 15_000 }).toBe(1);
    await setTraffic(db, { app: 'shop', environment: 'staging', config: { versions: [{ name: '1.0.0', weight: 30, upstreams: [] }, { name: '0.9.0', weight: 70, upstreams: [] }], stable: '0.9.0' }, actor: 'dave' });
    const traffic = await stream.next((message) => message.event === 'traffic' && message.data!.includes('"1.0.0":30'), 'a traffic event after the listener came back');
    expect(JSON.parse(traffic.data!)).toMatchObject({ environment: 'staging', weights: { '1.0.0': 30, '0.9.0': 70 } });
    stream.close();
  });

  it('sends each traffic revision at most once, in order, and the last one of a burst always', async () => {
    const stream = openStream(base);
    await stream.opened;
    // written all at once: they commit faster than the hub reads them
    const written = await Promise.all(
      Array.from({ length: 20 }, (_, index) => setTraffic(db, { app: 'shop', environment: 'staging', config: { versions: [{ name: '1.0.0', weight: index + 1, upstreams: [] }, { name: '0.9.0', weight: 99 - index, upstreams: [] }], stable: '0.9.0' }, actor: 'dave' })),
    );
    const last = Math.max(...written.map((traffic) => traffic.revision));
    await stream.next((message) => message.event === 'traffic' && (JSON.parse(message.data!) as { revision: number }).revision === last, 'the burst\'s last revision');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const revisions = stream.messages.filter((message) => message.event === 'traffic').map((message) => (JSON.parse(message.data!) as { revision: number }).revision);
    expect(new Set(revisions).size, `revisions sent: ${revisions.join(', ')}`).toBe(revisions.length);
    expect(revisions, `revisions sent: ${revisions.join(', ')}`).toEqual([...revisions].sort((a, b) => a - b));
    expect(revisions.at(-1)).toBe(last);
    stream.close();
  });

  it('opens a stream only once changes reach it: a change made the moment it opens is sent', async () => {
    // a server of its own, so its LISTEN starts with this first browser
    const own = await buildServer({ pool: db, spec, web: false });
    try {
      const stream = openStream(await own.listen({ host: '127.0.0.1', port: 0 }));
      await stream.opened;
      const traffic = await setTraffic(db, { app: 'shop', environment: 'staging', config: { versions: [{ name: '1.0.0', weight: 42, upstreams: [] }, { name: '0.9.0', weight: 58, upstreams: [] }], stable: '0.9.0' }, actor: 'dave' });
      const message = await stream.next((each) => each.event === 'traffic' && (JSON.parse(each.data!) as { revision: number }).revision === traffic.revision, 'the traffic change made as the stream opened', 5_000);
      expect(JSON.parse(message.data!)).toMatchObject({ weights: { '1.0.0': 42, '0.9.0': 58 } });
      stream.close();
    } finally {
      await own.close();
    }
  });

  it('tells a browser the stream is open only once its starting point in the audit trail is known, so an event it then causes is sent', async () => {
    // the starting point is max(seq) of promote.events: a lock on the table holds that read
    const locker = await db.connect();
    let stream: ReturnType<typeof openStream> | undefined;
    try {
      await locker.query('begin');
      await locker.query('lock table promote.events in access exclusive mode');
      stream = openStream(base);
      const early = await Promise.race([stream.opened.then(() => 'opened'), new Promise((resolve) => setTimeout(() => resolve('not yet'), 500))]);
      // reported open before its start was read, an event appended now would be taken as seen and never sent
      expect(early).toBe('not yet');
      await locker.query('commit');
      await stream.opened;
      const appended = await appendEvent(db, { type: 'test.after-open', actor: 'carol', app: 'shop', rolloutId, data: {} });
      await stream.next((message) => message.event === 'event' && message.id === String(appended.seq), 'the event appended once the stream was open');
    } finally {
      await locker.query('rollback').catch(() => undefined);
      locker.release();
      stream?.close();
    }
  });

  it('ends open streams when the server closes, and the close does not hang', async () => {
    const own = await buildServer({ pool: db, spec, web: false });
    const ownBase = await own.listen({ host: '127.0.0.1', port: 0 });
    const stream = openStream(ownBase);
    await stream.opened;
    await stream.next((message) => message.comment === 'connected', 'the opening comment');
    await own.close();
    await expect.poll(() => stream.isEnded(), { timeout: 5_000 }).toBe(true);
  });
});
