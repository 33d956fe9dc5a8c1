/**
 * `promote notify test`: one signed test notification to each webhook now, and each receiver's answer
 * printed; a refusal fails the command without retrying, and neither secret nor URL is printed.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Notification } from '../../src/notify/payload.js';
import { verifyWebhook } from '../../src/sdk/webhook-verify.js';
import { runInProcess } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

const SECRET = 'whsec_dGVzdCBzZWNyZXQgZm9yIHRoZSBjbGk=';

describe('promote notify test', () => {
  let folder: string;
  let good: WebhookReceiver;
  let gone: WebhookReceiver;
  const env = { PROMOTE_WEBHOOK_SECRET: SECRET, PROMOTE_ACTOR: 'ann' };

  beforeAll(async () => {
    [good, gone] = [await startWebhookReceiver(() => ({ status: 202, body: 'thanks' })), await startWebhookReceiver(() => ({ status: 404, body: 'no such hook' }))];
    folder = await scratchFolder('promote-notify-cli-');
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - { name: staging, database: postgres://localhost/shop, target: { type: process, command: node server.js }, strategy: canary }
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
notifications:
  webhooks:
    - { name: team, url: "${good.url}", secret: "\${PROMOTE_WEBHOOK_SECRET}" }
    - { name: old-chat, url: "${gone.url}", format: slack, secret: "\${PROMOTE_WEBHOOK_SECRET}" }
`,
    );
  });

  it('sends one signed test notification and prints the answer', async () => {
    const result = await runInProcess(['notify', 'test', '--webhook', 'team'], { cwd: folder, env });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/^team: HTTP 202 in \d+ ms\n {2}thanks\n$/);
    expect(good.requests).toHaveLength(1);
    const body = verifyWebhook(SECRET, good.requests[0]!.headers, good.requests[0]!.body) as Notification;
    expect(body).toMatchObject({ kind: 'notification.test', app: 'shop', environment: 'staging', rolloutId: 0, reason: expect.stringContaining('(ann)') as string });
    expect(gone.requests).toHaveLength(0);
  });

  it('fails when a receiver refuses, once, naming the webhook and never its URL or secret', async () => {
    const result = await runInProcess(['notify', 'test', '--json'], { cwd: folder, env });
    expect(result.code).toBe(1);
    const answers = JSON.parse(result.stdout) as Array<{ webhook: string; delivered: boolean; status: number; error?: string }>;
    expect(answers.map(({ webhook, delivered, status }) => ({ webhook, delivered, status }))).toEqual([
      { webhook: 'team', delivered: true, status: 202 },
      { webhook: 'old-chat', delivered: false, status: 404 },
    ]);
    expect(answers[1]!.error).toBe('webhook old-chat answered HTTP 404: no such hook');
    expect(gone.requests).toHaveLength(1);
    // the Slack format reached the Slack-format webhook
    expect(JSON.parse(gone.requests[0]!.body)).toMatchObject({ text: expect.stringContaining('test notification') as string, blocks: expect.any(Array) as unknown[] });
    expect(result.stdout + result.stderr).not.toContain(SECRET);
    expect(result.stdout + result.stderr).not.toContain(gone.url);
  });

  it('names the webhooks when --webhook names none of them', async () => {
    const result = await runInProcess(['notify', 'test', '--webhook', 'teem'], { cwd: folder, env });
    expect(result.code).toBe(2);
    expect(result.stderr).toBe('error: --webhook "teem" is not a webhook of shop: expected one of team, old-chat\n');
  });
});
