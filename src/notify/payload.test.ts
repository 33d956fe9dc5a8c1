import { describe, expect, it } from 'vitest';
import { buildNotification, notificationId, requestBody, slackMessage } from './payload.js';

const hash = 'ab'.repeat(32);
const source = { seq: 42, hash, app: 'shop', environment: 'production', rolloutId: 9, createdAt: new Date('2026-03-01T10:00:00.000Z') };

describe('notification payloads', () => {
  it('JSON: every field of the contract, the id from the event hash', () => {
    const notification = buildNotification(source, { kind: 'analysis.failed', phase: 'Progressing', step: { index: 2 }, reason: 'errors <5%> & more' }, { version: '2.0.0', dashboardUrl: 'https://promote.example.com/' });
    expect(JSON.parse(requestBody(notification, 'json'))).toEqual({
      id: notificationId(hash),
      kind: 'analysis.failed',
      app: 'shop',
      environment: 'production',
      rolloutId: 9,
      release: { version: '2.0.0' },
      phase: 'Progressing',
      step: { index: 2 },
      reason: 'errors <5%> & more',
      occurredAt: '2026-03-01T10:00:00.000Z',
      event: { seq: 42, hash },
      dashboardUrl: 'https://promote.example.com/#/rollouts/9',
    });
    expect(notification.id).toBe(`msg_${'ab'.repeat(16)}`);
  });

  it('Slack: text plus a section naming app, environment, version, phase, reason and the rollout page', () => {
    const notification = buildNotification(source, { kind: 'rollout.rolledBack', phase: 'RolledBack', reason: 'analysis failed: <errors> & latency' }, { version: '2.0.0', dashboardUrl: 'https://promote.example.com' });
    const message = slackMessage(notification);
    expect(message.text).toBe('shop 2.0.0 in production: rolled back — analysis failed: <errors> & latency');
    const [headline, facts] = message.blocks as Array<{ type: string; text?: { type: string; text: string }; fields?: Array<{ type: string; text: string }> }>;
    expect(headline?.type).toBe('section');
    expect(headline?.text?.type).toBe('mrkdwn');
    expect(headline?.text?.text).toContain('<https://promote.example.com/#/rollouts/9|rollout #9>');
    expect(facts?.fields?.map((field) => field.text)).toEqual([
      '*App*\nshop',
      '*Environment*\nproduction',
      '*Version*\n2.0.0',
      '*Phase*\nRolledBack',
      // Slack's markup characters are escaped, so a reason cannot inject a link
      '*Reason*\nanalysis failed: &lt;errors&gt; &amp; latency',
    ]);
    expect(JSON.parse(requestBody(notification, 'slack'))).toEqual(message);
  });

  it('Slack without a dashboard address: no link, and no link markup', () => {
    const notification = buildNotification(source, { kind: 'step.completed', phase: 'Progressing', step: { index: 0, label: 'setWeight 10' } }, { version: '2.0.0' });
    const message = slackMessage(notification);
    expect(notification.dashboardUrl).toBeUndefined();
    expect(JSON.stringify(message)).not.toContain('<http');
    expect(message.text).toBe('shop 2.0.0 in production: step completed (step 1: setWeight 10)');
    expect(JSON.stringify(message.blocks)).toContain('*Step*\\n1: setWeight 10');
  });

  it('Slack clips a long reason to what Slack accepts', () => {
    const notification = buildNotification(source, { kind: 'rollout.degraded', phase: 'Degraded', reason: 'x'.repeat(5000) }, { version: '2.0.0' });
    const message = slackMessage(notification);
    expect(message.text.length).toBeLessThanOrEqual(3000);
    for (const field of (message.blocks[1] as { fields: Array<{ text: string }> }).fields) expect(field.text.length).toBeLessThanOrEqual(2000);
  });
});
