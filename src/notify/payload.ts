/**
 * What a webhook receives: the notification as JSON, or a Slack incoming-webhook message made from it.
 * The JSON form is built once, when the notification is queued, and stored; every attempt sends the
 * same bytes' worth of content with the same id.
 */
import type { NotificationKind } from '../spec/schema-notifications.js';
import type { NotificationFacts } from './kinds.js';

export interface Notification {
  /** the Standard Webhooks message id (also in the webhook-id header): stable across attempts */
  id: string;
  kind: NotificationKind | 'notification.test';
  app: string;
  environment: string;
  rolloutId: number;
  release: { version: string };
  phase: string;
  step?: { index: number; label?: string };
  reason?: string;
  occurredAt: string;
  /** the audit event it comes from: its place and hash in the chain */
  event: { seq: number; hash: string };
  dashboardUrl?: string;
}

export interface NotificationSource {
  seq: number;
  hash: string;
  app: string;
  environment: string;
  rolloutId: number;
  createdAt: Date;
}

/** The id of a notification: from the event's hash, so it is the same however often it is queued or sent. */
export function notificationId(hash: string): string {
  return `msg_${hash.slice(0, 32)}`;
}

/** The dashboard's page of a rollout, when the dashboard's public address is known. */
export function rolloutPageUrl(dashboardUrl: string | undefined, rolloutId: number): string | undefined {
  return dashboardUrl === undefined ? undefined : `${dashboardUrl.replace(/\/+$/, '')}/#/rollouts/${rolloutId}`;
}

export function buildNotification(source: NotificationSource, facts: NotificationFacts, context: { version: string; dashboardUrl?: string | undefined }): Notification {
  const page = rolloutPageUrl(context.dashboardUrl, source.rolloutId);
  return {
    id: notificationId(source.hash),
    kind: facts.kind,
    app: source.app,
    environment: source.environment,
    rolloutId: source.rolloutId,
    release: { version: context.version },
    phase: facts.phase,
    ...(facts.step ? { step: facts.step } : {}),
    ...(facts.reason !== undefined ? { reason: facts.reason } : {}),
    occurredAt: source.createdAt.toISOString(),
    event: { seq: source.seq, hash: source.hash },
    ...(page ? { dashboardUrl: page } : {}),
  };
}

const HEADLINES: Readonly<Record<Notification['kind'], string>> = {
  'rollout.started': 'rollout started',
  'step.completed': 'step completed',
  'rollout.paused': 'rollout paused',
  'analysis.failed': 'analysis failed',
  'rollout.rolledBack': 'rolled back',
  'rollout.healthy': 'healthy: serving all traffic',
  'rollout.aborted': 'rollout aborted',
  'rollout.degraded': 'degraded: needs a person',
  'notification.test': 'test notification',
};

/** Slack reads &, < and > as markup in mrkdwn text. */
function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/** Slack refuses a section text over 3000 characters and a field over 2000. */
function clip(text: string, limit: number): string {
  return text.length <= limit ? text : `${text.slice(0, limit - 1)}…`;
}

/** One line for the notification's `text`, which Slack shows in alerts and where blocks cannot be shown. */
export function summaryLine(notification: Notification): string {
  const step = notification.step ? ` (step ${notification.step.index + 1}${notification.step.label ? `: ${notification.step.label}` : ''})` : '';
  const reason = notification.reason ? ` — ${notification.reason}` : '';
  return `${notification.app} ${notification.release.version} in ${notification.environment}: ${HEADLINES[notification.kind]}${step}${reason}`;
}

/**
 * A Slack incoming-webhook message: `text` (the summary line) and `blocks`: a section with the headline
 * (a link to the rollout page when the dashboard's address is known) and the facts as fields.
 */
export function slackMessage(notification: Notification): { text: string; blocks: unknown[] } {
  const title = `rollout #${notification.rolloutId}`;
  const link = notification.dashboardUrl ? `<${notification.dashboardUrl}|${title}>` : title;
  const fields = [
    ['App', notification.app],
    ['Environment', notification.environment],
    ['Version', notification.release.version],
    ['Phase', notification.phase],
    ...(notification.step ? [['Step', `${notification.step.index + 1}${notification.step.label ? `: ${notification.step.label}` : ''}`]] : []),
    ...(notification.reason ? [['Reason', notification.reason]] : []),
  ] as const;
  return {
    text: clip(summaryLine(notification), 3000),
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text: clip(`*${escape(HEADLINES[notification.kind])}*: ${escape(notification.app)} ${escape(notification.release.version)} in ${escape(notification.environment)}, ${link}`, 3000) } },
      { type: 'section', fields: fields.map(([name, value]) => ({ type: 'mrkdwn', text: clip(`*${name}*\n${escape(value)}`, 2000) })) },
    ],
  };
}

/** The request body for a webhook of this format. */
export function requestBody(notification: Notification, format: 'json' | 'slack'): string {
  return JSON.stringify(format === 'slack' ? slackMessage(notification) : notification);
}
