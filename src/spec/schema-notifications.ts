/**
 * Notifications: webhooks told about rollout events (started, each step, paused, failed analysis,
 * rolled back, healthy). Delivery is durable and at-least-once; see src/notify/ and docs/notifications.md.
 */
import { z } from 'zod';
import { durationSchema } from './duration.js';
import { expectations, httpUrlSchema, nameSchema } from './schema-meta.js';

/** Every kind a webhook can ask for, in the order a rollout goes through them. */
export const notificationKinds = [
  'rollout.started',
  'step.completed',
  'rollout.paused',
  'analysis.failed',
  'rollout.rolledBack',
  'rollout.healthy',
  'rollout.aborted',
  'rollout.degraded',
] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/** What a webhook receives when it leaves `events` out: a rollout's story, without the rarer endings. */
export const defaultNotificationKinds: readonly NotificationKind[] = ['rollout.started', 'step.completed', 'rollout.paused', 'analysis.failed', 'rollout.rolledBack', 'rollout.healthy'];

const kindSchema = z
  .enum(notificationKinds)
  .register(expectations, { expected: `one of ${notificationKinds.join(', ')}` });

const webhookSchema = z
  .strictObject({
    name: nameSchema.describe('Webhook name: in logs, delivery records and `promote notify test --webhook <name>`.'),
    url: httpUrlSchema.describe('Where to POST. A Slack incoming-webhook URL is itself a secret: write it as `${SLACK_WEBHOOK_URL}`.'),
    secret: z
      .string()
      .min(1)
      .optional()
      .describe('Signing secret (Standard Webhooks: `whsec_` + base64, or any text), usually `${PROMOTE_WEBHOOK_SECRET}`. Without it, requests are not signed.'),
    events: z
      .array(kindSchema)
      .min(1)
      .optional()
      .describe(`Notification kinds to send; default: ${defaultNotificationKinds.join(', ')}.`),
    format: z.enum(['json', 'slack']).default('json').describe('json: the notification as a JSON object; slack: a Slack incoming-webhook message (text and blocks).'),
    timeout: durationSchema.prefault('10s').describe('How long one attempt may take; a timeout is retried.'),
    retries: z.number().int().min(0).max(20).default(5).describe('Attempts after the first before the delivery is recorded as failed.'),
  })
  .describe('An HTTP endpoint told about rollout events.');

export const notificationsSchema = z
  .strictObject({
    dashboardUrl: httpUrlSchema
      .optional()
      .describe('Public URL of the Promote dashboard (promote server), for links to the rollout page in notifications.'),
    webhooks: z.array(webhookSchema).default([]).describe('Webhooks, each told about the events it asks for.'),
  })
  .superRefine((notifications, ctx) => {
    const seen = new Map<string, number>();
    notifications.webhooks.forEach((webhook, index) => {
      const first = seen.get(webhook.name);
      if (first !== undefined) ctx.addIssue({ code: 'custom', path: ['webhooks', index, 'name'], message: `webhook name "${webhook.name}" is already used by webhooks[${first}]; each webhook needs its own name` });
      else seen.set(webhook.name, index);
      const events = webhook.events ?? [];
      const repeated = events.find((kind, at) => events.indexOf(kind) !== at);
      if (repeated !== undefined) ctx.addIssue({ code: 'custom', path: ['webhooks', index, 'events'], message: `"${repeated}" is listed twice` });
    });
  })
  .describe('Who is told about rollouts, and how.');

export type NotificationsSpec = z.output<typeof notificationsSchema>;
export type WebhookSpec = NotificationsSpec['webhooks'][number];
