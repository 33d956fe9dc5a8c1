import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { ReportedFailure, UsageError } from '../../errors.js';
import { requestBody, type Notification } from '../../notify/payload.js';
import { attemptDelivery } from '../../notify/send.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';
import { loadConfig } from '../spec.js';

export function registerNotify(program: Command, context: () => CliContext): void {
  const notify = program.command('notify').description('webhook notifications of rollout events (promote.yaml notifications)');
  notify
    .command('test')
    .description("send a test notification to the webhooks now, once each, and print each receiver's answer")
    .option('--webhook <name>', 'only this webhook')
    .option('--json', 'print the answers as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote notify test\n  $ promote notify test --webhook team-chat\n\nThe test notification has kind "notification.test" and rolloutId 0; it is signed like any other.\n')
    .action(async (options: { webhook?: string; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const webhooks = spec.notifications?.webhooks ?? [];
      if (webhooks.length === 0) throw new UsageError(`${spec.app.name} has no webhooks`, { hint: 'add notifications.webhooks to promote.yaml; see docs/notifications.md' });
      const chosen = options.webhook === undefined ? webhooks : webhooks.filter((webhook) => webhook.name === options.webhook);
      if (chosen.length === 0) throw new UsageError(`--webhook "${options.webhook}" is not a webhook of ${spec.app.name}: expected one of ${webhooks.map((webhook) => webhook.name).join(', ')}`);
      const answers = await Promise.all(
        chosen.map(async (webhook) => {
          const notification = testNotification(spec.app.name, spec.environments[0]!.name, ctx.io.env.PROMOTE_ACTOR);
          const started = performance.now();
          const result = await attemptDelivery(webhook, notification.id, requestBody(notification, webhook.format));
          return { webhook: webhook.name, delivered: result.outcome === 'delivered', ...(result.status !== undefined ? { status: result.status } : {}), ms: Math.round(performance.now() - started), ...(result.error ? { error: result.error } : {}), body: result.body ?? '' };
        }),
      );
      if (options.json) printJson(ctx.io, answers);
      else {
        for (const answer of answers) {
          if (!answer.delivered) printLine(ctx.io, `${answer.webhook}: not delivered (${answer.ms} ms): ${answer.error}`);
          else printLine(ctx.io, `${answer.webhook}: HTTP ${answer.status} in ${answer.ms} ms${answer.body ? `\n  ${answer.body.slice(0, 500).replace(/\n/g, '\n  ')}` : ''}`);
        }
      }
      const failed = answers.filter((answer) => !answer.delivered);
      if (failed.length > 0) throw new ReportedFailure(`${failed.length} webhook(s) did not accept the test notification`);
    });
}

function testNotification(app: string, environment: string, actor: string | undefined): Notification {
  return {
    id: `msg_test_${randomBytes(12).toString('hex')}`,
    kind: 'notification.test',
    app,
    environment,
    rolloutId: 0,
    release: { version: 'test' },
    phase: 'Healthy',
    reason: `a test notification sent by \`promote notify test\`${actor ? ` (${actor})` : ''}`,
    occurredAt: new Date().toISOString(),
    event: { seq: 0, hash: '' },
  };
}
