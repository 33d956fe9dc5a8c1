import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signWebhook, verifyWebhook, WebhookVerificationError, webhookHeaders } from './webhook-verify.js';

const secret = `whsec_${Buffer.from('a key of thirty-two bytes, or so!').toString('base64')}`;
const body = JSON.stringify({ id: 'msg_1', kind: 'rollout.healthy' });
const now = Date.parse('2026-01-02T03:04:05Z');

describe('Standard Webhooks signatures', () => {
  it('signs id.timestamp.body with HMAC-SHA256 of the base64 key after whsec_', () => {
    // computed independently of signWebhook, from the scheme's definition
    const key = Buffer.from(secret.slice(6), 'base64');
    const expected = createHmac('sha256', key).update(`msg_1.1767323045.${body}`).digest('base64');
    expect(signWebhook(secret, 'msg_1', 1767323045, body)).toBe(`v1,${expected}`);
    // a secret without the prefix is used as text
    expect(signWebhook('plain', 'm', 1, 'b')).toBe(`v1,${createHmac('sha256', 'plain').update('m.1.b').digest('base64')}`);
  });

  it('verifies a genuine message and returns its body', () => {
    const headers = webhookHeaders(secret, 'msg_1', body, now);
    expect(verifyWebhook(secret, headers, body, { now })).toEqual({ id: 'msg_1', kind: 'rollout.healthy' });
    // as a receiver gets them: a Headers object, and a Buffer body
    expect(verifyWebhook(secret, new Headers(headers), Buffer.from(body), { now: now + 299_000 })).toEqual({ id: 'msg_1', kind: 'rollout.healthy' });
    // several signatures while a secret is rotated: one match is enough
    const rotated = { ...headers, 'webhook-signature': `v1,${Buffer.from('old').toString('base64')} ${headers['webhook-signature']}` };
    expect(verifyWebhook(secret, rotated, body, { now })).toBeTruthy();
  });

  it('refuses a tampered body, another secret, a stale or future timestamp and missing headers', () => {
    const headers = webhookHeaders(secret, 'msg_1', body, now);
    const fails = (run: () => unknown, message: RegExp) => {
      expect(run).toThrow(WebhookVerificationError);
      expect(run).toThrow(message);
    };
    fails(() => verifyWebhook(secret, headers, body.replace('healthy', 'rolledBack'), { now }), /no webhook-signature matches/);
    fails(() => verifyWebhook('whsec_b3RoZXI=', headers, body, { now }), /no webhook-signature matches/);
    fails(() => verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_2' }, body, { now }), /no webhook-signature matches/);
    fails(() => verifyWebhook(secret, headers, body, { now: now + 301_000 }), /more than the 300 s allowed/);
    fails(() => verifyWebhook(secret, headers, body, { now: now - 60_000, toleranceSeconds: 30 }), /more than the 30 s allowed/);
    fails(() => verifyWebhook(secret, { 'webhook-id': 'msg_1' }, body, { now }), /missing/);
    expect(() => verifyWebhook(secret, headers, body, { now: now + 400_000 })).toThrow(WebhookVerificationError);
  });
});
