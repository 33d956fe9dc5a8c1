import { describe, expect, it } from 'vitest';
import { describeValue, formatProblem } from './problems.js';
import { parseSpec } from './load.js';

const base = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`;

const parse = (notifications: string, env: Record<string, string> = {}) => parseSpec(`${base}notifications:\n${notifications}`, { file: 'promote.yaml', env });
const messages = (notifications: string, env: Record<string, string> = {}) => {
  const result = parse(notifications, env);
  return result.ok ? [] : result.problems.map(formatProblem);
};

describe('notifications in promote.yaml', () => {
  it('fills in the defaults and takes the secret from the environment', () => {
    const result = parse(`  dashboardUrl: https://promote.example.com
  webhooks:
    - name: team
      url: https://hooks.example.com/promote
      secret: \${PROMOTE_WEBHOOK_SECRET}
`, { PROMOTE_WEBHOOK_SECRET: 'whsec_c2VjcmV0' });
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.spec.notifications).toEqual({
      dashboardUrl: 'https://promote.example.com',
      webhooks: [{ name: 'team', url: 'https://hooks.example.com/promote', secret: 'whsec_c2VjcmV0', format: 'json', timeout: 10_000, retries: 5 }],
    });
  });

  it('reports each mistake with its line, and never shows the secret', () => {
    const found = messages(`  webhooks:
    - name: team
      url: ftp://hooks.example.com
      events: [rollout.started, rollout.finished]
      format: teams
      secret: 12345678
      retries: -1
    - name: team
      url: https://hooks.example.com
      timeout: 10
`);
    expect(found).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^promote\.yaml:13:12 notifications\.webhooks\[0\]\.url: .*http:\/\/ or https:\/\/ URL/),
        expect.stringMatching(/^promote\.yaml:14:33 notifications\.webhooks\[0\]\.events\[1\]: .*rollout\.started, step\.completed/),
        expect.stringMatching(/^promote\.yaml:15:15 notifications\.webhooks\[0\]\.format: /),
        expect.stringMatching(/^promote\.yaml:16:15 notifications\.webhooks\[0\]\.secret: /),
        expect.stringMatching(/^promote\.yaml:17:16 notifications\.webhooks\[0\]\.retries: /),
        expect.stringMatching(/^promote\.yaml:20:16 notifications\.webhooks\[1\]\.timeout: .*write a unit: 10s/),
      ]),
    );
    expect(found.join('\n')).not.toContain('12345678');
  });

  it('never describes a webhook URL in a message: a Slack webhook URL carries its key in the path', () => {
    expect(describeValue('https://hooks.slack.com/services/T000/B000/XXXXKEY', ['notifications', 'webhooks', 0, 'url'])).toBeUndefined();
    // other URLs are still described, their credentials masked
    expect(describeValue('https://example.com/health', ['environments', 0, 'url'])).toContain('example.com');
  });

  it('refuses two webhooks of one name and a kind listed twice', () => {
    expect(messages(`  webhooks:
    - { name: team, url: "https://a.example.com", events: [rollout.healthy, rollout.healthy] }
    - { name: team, url: "https://b.example.com" }
`)).toEqual([
      expect.stringMatching(/^promote\.yaml:12:59 notifications\.webhooks\[0\]\.events: "rollout\.healthy" is listed twice/),
      expect.stringMatching(/^promote\.yaml:13:15 notifications\.webhooks\[1\]\.name: webhook name "team" is already used by webhooks\[0\]/),
    ]);
  });

  it('says which variable a secret is missing', () => {
    const found = messages(`  webhooks:
    - { name: team, url: "https://hooks.example.com", secret: "\${PROMOTE_WEBHOOK_SECRET}" }
`);
    expect(found).toEqual([expect.stringMatching(/^promote\.yaml:12:63 notifications\.webhooks\[0\]\.secret: environment variable PROMOTE_WEBHOOK_SECRET is not set/)]);
  });
});
