/**
 * Webhook delivery against a real HTTP receiver on loopback and a real store: retries after a 500, a
 * dropped connection and a timeout; each notification accepted once, signed, in order per rollout; no
 * retry of a 4xx; Retry-After honoured; giving up recorded; a receiver down at first; two controllers'
 * notifiers never sending one delivery twice. The audit events are appended directly: what turns a
 * real rollout into them is notifications-rollout.test.ts's subject.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { startRollout } from '../../src/engine/start.js';
import { claimDeliveries, listDeliveries, queueNotifications, type Delivery } from '../../src/notify/queue.js';
import { Notifier, type NotifierOptions } from '../../src/notify/notifier.js';
import type { Notification } from '../../src/notify/payload.js';
import { verifyWebhook } from '../../src/sdk/webhook-verify.js';
import { parseSpec, type PromoteSpec, type WebhookSpec } from '../../src/spec/index.js';
import { appendEvent, createRelease, upsertApp } from '../../src/store/index.js';
import { freePort } from '../../src/system/processes.js';
import { seededRandom } from '../../src/system/seeded-random.js';
import { createStorePool } from '../helpers/database.js';
import { startWebhookReceiver, type ReceiverAnswer, type WebhookReceiver } from '../helpers/webhook-receiver.js';
import { afterFile } from '../helpers/cleanup.js';

const SECRET = `whsec_${Buffer.from('notification test secret key 32b').toString('base64')}`;
const SPEC = `version: 1
app: { name: shop }
environments:
  - { name: staging, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: canary }
  - { name: production, database: postgres://localhost/shop, target: { type: external, url: "http://127.0.0.1:1/{{version}}" }, strategy: canary }
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

describe('webhook delivery', () => {
  let pool: pg.Pool;
  let spec: PromoteSpec;
  const rollouts: Record<'staging' | 'production', number> = { staging: 0, production: 0 };

  beforeAll(async () => {
    ({ pool } = await createStorePool());
    const parsed = parseSpec(SPEC, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error(parsed.problems.map((problem) => problem.message).join('\n'));
    spec = parsed.spec;
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: '2.0.0', digest: `sha256:${'2'.repeat(64)}`, migrationChecksums: {} });
    rollouts.staging = (await startRollout(pool, { spec, environment: 'staging', version: '2.0.0', actor: 'test' })).id;
    rollouts.production = (await startRollout(pool, { spec, environment: 'production', version: '2.0.0', actor: 'test', skipEnvironmentGate: 'test' })).id;
  });

  const webhook = (name: string, url: string, extra: Partial<WebhookSpec> = {}): WebhookSpec => ({ name, url, secret: SECRET, format: 'json', timeout: 2000, retries: 5, ...extra });

  /** A started notifier; its first round has run, so the webhook's cursor is at the events so far. */
  async function notifier(webhooks: WebhookSpec[], options: Partial<NotifierOptions> = {}): Promise<Notifier> {
    const running = new Notifier({ pool, app: 'shop', notifications: { webhooks }, pollMs: 20, baseDelayMs: 50, maxDelayMs: 400, random: seededRandom(1), ...options });
    await running.round();
    running.start();
    afterFile('stopping a notifier', () => running.stop());
    return running;
  }

  /** A rollout's story as the engine records it: started, two steps, healthy. Four notifications. */
  async function story(environment: 'staging' | 'production'): Promise<void> {
    const scope = { actor: 'controller', app: 'shop', environment, rolloutId: rollouts[environment] };
    await appendEvent(pool, { ...scope, type: 'rollout.phase', data: { from: 'Pending', to: 'Progressing', reason: 'rolling out 2.0.0' } });
    await appendEvent(pool, { ...scope, type: 'action.started', data: { action: { id: 'x' } } });
    await appendEvent(pool, { ...scope, type: 'step.completed', data: { step: 0, label: 'setWeight 50', summary: '50% of traffic on 2.0.0' } });
    await appendEvent(pool, { ...scope, type: 'step.completed', data: { step: 1, label: 'promote', summary: 'all traffic on 2.0.0' } });
    await appendEvent(pool, { ...scope, type: 'rollout.phase', data: { from: 'Progressing', to: 'Healthy', reason: '2.0.0 serves all traffic' } });
  }

  async function settled(name: string, count: number): Promise<Delivery[]> {
    for (let waited = 0; waited < 30_000; waited += 50) {
      const deliveries = await listDeliveries(pool, 'shop', { webhook: name });
      if (deliveries.length === count && deliveries.every((each) => each.status !== 'pending')) return deliveries;
      await sleep(50);
    }
    const deliveries = await listDeliveries(pool, 'shop', { webhook: name });
    throw new Error(`deliveries of ${name} did not settle within 30 s: ${JSON.stringify(deliveries.map((each) => [each.kind, each.status, each.attempts, each.lastError]))}`);
  }

  /** Every accepted request verifies, no message was accepted twice, and each rollout's arrived in event order. */
  function checkAccepted(receiver: WebhookReceiver): Notification[] {
    const accepted = receiver.accepted();
    const bodies = accepted.map((request) => verifyWebhook(SECRET, request.headers as Record<string, string>, request.body) as Notification);
    expect(new Set(bodies.map((body) => body.id)).size).toBe(bodies.length);
    for (const rolloutId of new Set(bodies.map((body) => body.rolloutId))) {
      const seqs = bodies.filter((body) => body.rolloutId === rolloutId).map((body) => body.event.seq);
      expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    }
    return bodies;
  }

  it('retries after a 500 and after a dropped connection; each notification arrives once, signed, with a stable id, in order per rollout', async () => {
    // the first attempt at each rollout's first message fails (a 500 for staging's, a dropped connection
    // for production's) while the later messages could go at once: they must wait for it
    const receiver = await startWebhookReceiver(({ body }, attempt): ReceiverAnswer => {
      const notification = JSON.parse(body) as Notification;
      if (attempt > 1 || notification.kind !== 'rollout.started') return 200;
      return notification.environment === 'staging' ? 500 : 'drop';
    });
    await notifier([webhook('flaky', receiver.url)]);
    await Promise.all([story('staging'), story('production')]);
    const deliveries = await settled('flaky', 8);
    for (const rolloutId of [rollouts.staging, rollouts.production]) {
      expect(deliveries.filter((each) => each.rolloutId === rolloutId).map((each) => [each.kind, each.status, each.attempts])).toEqual(
        ['rollout.started', 'step.completed', 'step.completed', 'rollout.healthy'].map((kind) => [kind, 'delivered', kind === 'rollout.started' ? 2 : 1]),
      );
    }
    const bodies = checkAccepted(receiver);
    expect(bodies).toHaveLength(8);
    expect(bodies.filter((body) => body.environment === 'staging').map((body) => body.kind)).toEqual(['rollout.started', 'step.completed', 'step.completed', 'rollout.healthy']);
    // the retry carried the id of the failed attempt: a receiver that saw both can drop the repeat
    for (const body of bodies) expect(receiver.requests.filter((request) => request.id === body.id)).toHaveLength(body.kind === 'rollout.started' ? 2 : 1);
    const healthy = bodies.find((body) => body.kind === 'rollout.healthy' && body.environment === 'production')!;
    expect(healthy).toMatchObject({ app: 'shop', rolloutId: rollouts.production, release: { version: '2.0.0' }, phase: 'Healthy', reason: '2.0.0 serves all traffic' });
  });

  it('does not replay history to a new webhook', async () => {
    const receiver = await startWebhookReceiver();
    await notifier([webhook('late', receiver.url)]);
    await story('staging');
    await settled('late', 4);
    expect(receiver.accepted()).toHaveLength(4);
  });

  it('retries a timeout, and honours Retry-After on 429', async () => {
    const receiver = await startWebhookReceiver((_, attempt) => (attempt === 1 ? 'hang' : attempt === 2 ? { status: 429, headers: { 'retry-after': '1' } } : 200));
    await notifier([webhook('slow', receiver.url, { timeout: 300, events: ['rollout.healthy'] })]);
    await story('staging');
    const [delivery] = await settled('slow', 1);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 3, lastStatus: 200 });
    const [, limited, third] = receiver.requests;
    // backoff alone would have tried again within 400 ms
    expect(third!.at - limited!.at).toBeGreaterThanOrEqual(950);
    checkAccepted(receiver);
  });

  it('does not retry a 4xx, and records why', async () => {
    const receiver = await startWebhookReceiver(() => ({ status: 400, body: 'unknown field' }));
    await notifier([webhook('picky', receiver.url, { events: ['rollout.started'] })]);
    await story('production');
    const [delivery] = await settled('picky', 1);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 1, lastStatus: 400 });
    expect(delivery!.lastError).toBe('not retried: webhook picky answered HTTP 400: unknown field');
    expect(receiver.requests).toHaveLength(1);
  });

  it('gives up after the retries and records the last failure, without the secret or URL', async () => {
    const receiver = await startWebhookReceiver(() => 503);
    await notifier([webhook('down', receiver.url, { retries: 2, events: ['rollout.healthy'], secret: 'plain-secret-text' })]);
    await story('staging');
    const [delivery] = await settled('down', 1);
    expect(delivery).toMatchObject({ status: 'failed', attempts: 3, lastStatus: 503 });
    expect(delivery!.lastError).toBe('gave up after 3 attempts: webhook down answered HTTP 503: ok');
    expect(receiver.requests).toHaveLength(3);
    const stored = JSON.stringify(await listDeliveries(pool, 'shop'));
    expect(stored).not.toContain('plain-secret-text');
  });

  it('delivers to a receiver that was down when the notification was due', async () => {
    const port = await freePort();
    await notifier([webhook('later', `http://127.0.0.1:${port}/hook`, { events: ['rollout.started', 'rollout.healthy'], retries: 10 })]);
    await story('production');
    for (let waited = 0; waited < 20_000; waited += 50) {
      const [first] = await listDeliveries(pool, 'shop', { webhook: 'later' });
      if ((first?.attempts ?? 0) >= 2) break;
      await sleep(50);
    }
    const [refused] = await listDeliveries(pool, 'shop', { webhook: 'later' });
    expect(refused).toMatchObject({ status: 'pending', lastStatus: null });
    expect(refused!.lastError).toMatch(/^sending to webhook later: .*ECONNREFUSED/);
    const receiver = await startWebhookReceiver(() => 200, { port });
    const deliveries = await settled('later', 2);
    expect(deliveries.map((each) => each.status)).toEqual(['delivered', 'delivered']);
    expect(checkAccepted(receiver).map((body) => body.kind)).toEqual(['rollout.started', 'rollout.healthy']);
  });

  it('stops at once with an attempt in flight, which does not count and is sent by the next controller', async () => {
    let hangFirst = true;
    const receiver = await startWebhookReceiver(() => {
      if (!hangFirst) return 200;
      hangFirst = false;
      return 'hang';
    });
    const hook = webhook('handover', receiver.url, { timeout: 60_000, events: ['rollout.started'] });
    const first = await notifier([hook]);
    await story('production');
    for (let waited = 0; waited < 20_000 && receiver.requests.length === 0; waited += 20) await sleep(20);
    expect(receiver.requests).toHaveLength(1);
    // within the minute the attempt could still take: stopping cuts it short
    const stopping = Date.now();
    await first.stop();
    expect(Date.now() - stopping).toBeLessThan(10_000);
    const [released] = await listDeliveries(pool, 'shop', { webhook: 'handover' });
    expect(released).toMatchObject({ status: 'pending', attempts: 0 });
    await notifier([hook]);
    const [delivery] = await settled('handover', 1);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 1 });
    expect(receiver.requests.map((request) => request.id)).toEqual([delivery!.id, delivery!.id]);
  });

  it('sends what is queued before it stops, when given the time', async () => {
    const receiver = await startWebhookReceiver();
    const last = await notifier([webhook('flush', receiver.url)], { pollMs: 60_000 });
    // as `promote deploy --wait` does: the rollout ends and the engine closes straight away
    await story('staging');
    await last.stop({ flushMs: 10_000 });
    expect(checkAccepted(receiver).map((body) => body.kind)).toEqual(['rollout.started', 'step.completed', 'step.completed', 'rollout.healthy']);
    expect((await listDeliveries(pool, 'shop', { webhook: 'flush' })).map((each) => each.status)).toEqual(['delivered', 'delivered', 'delivered', 'delivered']);
  });

  it('a delivery claimed by a controller that died is tried again once its lease runs out', async () => {
    const receiver = await startWebhookReceiver();
    const hook = webhook('orphan', receiver.url, { events: ['rollout.healthy'] });
    await queueNotifications(pool, 'shop', hook);
    await story('production');
    // a controller queues and claims the delivery, then dies before its attempt
    await queueNotifications(pool, 'shop', hook);
    const [claimed] = await claimDeliveries(pool, 'shop', 'orphan', { limit: 1, leaseMs: 1000 });
    const claimedAt = Date.now();
    expect(claimed).toMatchObject({ kind: 'rollout.healthy', attempts: 1 });
    await notifier([hook]);
    const [delivery] = await settled('orphan', 1);
    expect(delivery).toMatchObject({ status: 'delivered', attempts: 2 });
    expect(receiver.requests).toHaveLength(1);
    expect(receiver.requests[0]!.at - claimedAt).toBeGreaterThanOrEqual(900);
  });

  it('two controllers sharing the store send each notification once', async () => {
    const random = seededRandom(5);
    const receiver = await startWebhookReceiver((_, attempt) => (attempt === 1 && random() < 0.3 ? 500 : 200));
    const shared = webhook('shared', receiver.url);
    await notifier([shared], { random: seededRandom(2) });
    await notifier([shared], { random: seededRandom(3) });
    await Promise.all([story('staging'), story('production'), story('staging')]);
    await settled('shared', 12);
    expect(checkAccepted(receiver)).toHaveLength(12);
  });
});
