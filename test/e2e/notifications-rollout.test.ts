/**
 * Real rollouts, run by the engine as `promote controller` and `promote server` run it (createEngine),
 * tell their webhooks what happened: a healthy canary (started, every step, paused, healthy) and one
 * whose analysis fails (analysis.failed, rolled back), the latter also to a Slack-format webhook with a
 * link to the dashboard. The cheapest real rollout: an external target (no processes to start) and a
 * command provider whose measurement depends on the version.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEngine } from '../../src/engine/runtime.js';
import { startRollout } from '../../src/engine/start.js';
import type { Notification } from '../../src/notify/payload.js';
import { verifyWebhook } from '../../src/sdk/webhook-verify.js';
import { loadSpecOrThrow, type PromoteSpec } from '../../src/spec/index.js';
import { createRelease, upsertApp } from '../../src/store/index.js';
import { addCommand } from '../../src/store/rollout-engine.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'a-plain-text-signing-secret';

describe('rollouts notify their webhooks', () => {
  let pool: pg.Pool;
  let spec: PromoteSpec;
  let team: WebhookReceiver;
  let chat: WebhookReceiver;
  let engine: ReturnType<typeof createEngine>;

  beforeAll(async () => {
    const store = await createStorePool();
    pool = store.pool;
    [team, chat] = [await startWebhookReceiver(), await startWebhookReceiver()];
    const folder = await scratchFolder('promote-notify-');
    // the external target's versions "run" at the receiver: readiness only needs a TCP connection
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:${team.port}/{{version}}", readiness: { interval: 50ms } }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - pause: {}
      - analysis: { templates: [errors] }
      - promote: {}
analysis:
  templates:
    errors:
      provider: { type: command, run: 'case "$PROMOTE_VERSION" in *bad*) echo 0.5;; *) echo 0;; esac' }
      judge: { type: threshold, condition: "value < 0.1" }
      interval: 100ms
      count: 1
notifications:
  dashboardUrl: https://promote.example.com
  webhooks:
    - { name: team, url: "${team.url}", secret: "\${PROMOTE_WEBHOOK_SECRET}" }
    - { name: chat, url: "${chat.url}", format: slack, events: [analysis.failed, rollout.rolledBack] }
`,
    );
    spec = await loadSpecOrThrow(join(folder, 'promote.yaml'), { PROMOTE_WEBHOOK_SECRET: SECRET });
    await upsertApp(pool, { name: 'shop' });
    for (const version of ['1.0.0', '2.0.0', '3.0.0-bad']) await createRelease(pool, { app: 'shop', version, digest: `sha256:${version.charCodeAt(0).toString(16).padEnd(64, '0')}`, migrationChecksums: {} });
    engine = createEngine(spec, { pool, databaseUrl: store.url, configDir: folder, pollMs: 100 });
    await engine.controller.start();
  });
  afterAll(async () => {
    await engine?.close();
  });

  /** Runs a rollout to its end, resuming it whenever it pauses (as the person watching it would). */
  async function rollOut(version: string): Promise<{ id: number; phase: string }> {
    const rollout = await startRollout(pool, { spec, environment: 'staging', version, actor: 'ann' });
    engine.controller.wake(rollout.id);
    let resumed = -1;
    for (let waited = 0; waited < 60_000; waited += 50) {
      const row = (await pool.query<{ phase: string; current_step: number }>('select phase, current_step from promote.rollouts where id = $1', [rollout.id])).rows[0]!;
      if (['Healthy', 'RolledBack', 'Aborted', 'Degraded'].includes(row.phase)) return { id: rollout.id, phase: row.phase };
      if (row.phase === 'Paused' && resumed !== row.current_step) {
        resumed = row.current_step;
        await addCommand(pool, rollout.id, { kind: 'resume', actor: 'ann' });
      }
      await sleep(50);
    }
    throw new Error(`rollout of ${version} did not end within 60 s`);
  }

  /** The verified notifications of one rollout, once `last` has arrived. */
  async function notificationsOf(receiver: WebhookReceiver, rolloutId: number, last: string, secret?: string): Promise<Notification[]> {
    for (let waited = 0; waited < 30_000; waited += 50) {
      const bodies = receiver.accepted().map((request) => (secret ? verifyWebhook(secret, request.headers as Record<string, string>, request.body) : JSON.parse(request.body)) as Notification);
      const mine = bodies.filter((body) => body.rolloutId === rolloutId || (body as { text?: string }).text !== undefined);
      if (mine.some((body) => body.kind === last || JSON.stringify(body).includes(last))) return mine;
      await sleep(50);
    }
    throw new Error(`no ${last} notification of rollout ${rolloutId} within 30 s`);
  }

  it('a healthy canary: started, each step, paused, healthy, in order and signed', async () => {
    await rollOut('1.0.0');
    const rollout = await rollOut('2.0.0');
    expect(rollout.phase).toBe('Healthy');
    const received = await notificationsOf(team, rollout.id, 'rollout.healthy', SECRET);
    expect(received.map((each) => [each.kind, each.step?.index ?? null])).toEqual([
      ['rollout.started', null],
      ['step.completed', 0],
      ['rollout.paused', null],
      ['step.completed', 1],
      ['step.completed', 2],
      ['step.completed', 3],
      ['rollout.healthy', null],
    ]);
    const [started, setWeight, paused] = received;
    expect(started).toMatchObject({ app: 'shop', environment: 'staging', release: { version: '2.0.0' }, phase: 'Progressing', dashboardUrl: `https://promote.example.com/#/rollouts/${rollout.id}` });
    expect(setWeight).toMatchObject({ phase: 'Progressing', step: { index: 0, label: 'setWeight 50' }, reason: '50% of traffic on 2.0.0' });
    expect(paused).toMatchObject({ phase: 'Paused', reason: expect.stringContaining('until resumed') as string });
    expect(received.at(-1)).toMatchObject({ phase: 'Healthy', reason: '2.0.0 serves all traffic' });
    // the audit event each came from: a receiver can check it against `promote history`
    const events = await pool.query<{ seq: string; hash: string }>('select seq, hash from promote.events where rollout_id = $1', [rollout.id]);
    const hashes = new Map(events.rows.map((row) => [Number(row.seq), row.hash]));
    for (const each of received) expect(hashes.get(each.event.seq)).toBe(each.event.hash);
    // the Slack webhook asked only for failures: nothing yet
    expect(chat.requests).toHaveLength(0);
  });

  it('a failing analysis: analysis.failed, then rolled back, to both webhooks', async () => {
    const rollout = await rollOut('3.0.0-bad');
    expect(rollout.phase).toBe('RolledBack');
    const received = await notificationsOf(team, rollout.id, 'rollout.rolledBack', SECRET);
    expect(received.map((each) => each.kind)).toEqual(['rollout.started', 'step.completed', 'rollout.paused', 'step.completed', 'analysis.failed', 'rollout.rolledBack']);
    const failed = received.find((each) => each.kind === 'analysis.failed')!;
    expect(failed).toMatchObject({ step: { index: 2 }, phase: 'Progressing', release: { version: '3.0.0-bad' } });
    expect(failed.reason).toMatch(/errors/);
    expect(received.at(-1)).toMatchObject({ phase: 'RolledBack', reason: expect.stringContaining('traffic is back on 2.0.0') as string });

    const slack = await notificationsOf(chat, rollout.id, 'rolled back');
    const messages = slack as unknown as Array<{ text: string; blocks: Array<{ type: string; text?: { text: string }; fields?: Array<{ text: string }> }> }>;
    expect(messages.map((message) => message.text)).toEqual([expect.stringMatching(/^shop 3\.0\.0-bad in staging: analysis failed \(step 3\) — /), expect.stringMatching(/^shop 3\.0\.0-bad in staging: rolled back — /)]);
    for (const message of messages) {
      expect(message.blocks[0]!.text!.text).toContain(`<https://promote.example.com/#/rollouts/${rollout.id}|rollout #${rollout.id}>`);
      expect(message.blocks[1]!.fields!.map((field) => field.text.split('\n')[0])).toEqual(['*App*', '*Environment*', '*Version*', '*Phase*', ...(message.text.includes('step 3') ? ['*Step*'] : []), '*Reason*']);
    }
    // no secret on the Slack webhook: its requests carry an id and a time, and no signature
    expect(chat.requests[0]!.headers['webhook-id']).toMatch(/^msg_/);
    expect(chat.requests[0]!.headers['webhook-signature']).toBeUndefined();
  });
});
