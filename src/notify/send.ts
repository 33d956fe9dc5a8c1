/**
 * One attempt at delivering a notification: a signed POST, and what its answer means for the next
 * attempt. Nothing here may carry the secret or the URL (a Slack webhook URL is a credential) into an
 * error: failures name the webhook.
 */
import { describeCause, redactSecrets } from '../errors.js';
import { webhookHeaders } from '../sdk/webhook-verify.js';
import type { WebhookSpec } from '../spec/schema-notifications.js';

export interface AttemptResult {
  outcome: 'delivered' | 'retry' | 'refused';
  /** the HTTP status, when the receiver answered */
  status?: number;
  /** what went wrong, safe to store and log */
  error?: string;
  /** the receiver's Retry-After, in ms, on 429 and 503 */
  retryAfterMs?: number;
  /** the start of the receiver's answer, for `promote notify test` and the delivery record */
  body?: string;
}

const BODY_KEPT = 2000;

/** The text with the webhook's secret and URL taken out. */
export function redactWebhook(webhook: Pick<WebhookSpec, 'url' | 'secret' | 'name'>, text: string): string {
  let safe = text;
  for (const secret of [webhook.secret, webhook.url]) {
    if (secret !== undefined && secret.length >= 4) safe = safe.split(secret).join(secret === webhook.url ? `<webhook ${webhook.name}>` : '***');
  }
  return redactSecrets(safe);
}

/**
 * Retry-After as seconds or an HTTP date; undefined when absent or unreadable. An hour at most: a
 * receiver asking for a day must not hold the rollout's later notifications that long.
 */
export function parseRetryAfter(value: string | null, now: number = Date.now()): number | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  const ms = /^\d+$/.test(trimmed) ? Number(trimmed) * 1000 : Date.parse(trimmed) - now;
  if (!Number.isFinite(ms)) return undefined;
  return Math.min(Math.max(ms, 0), 3_600_000);
}

/**
 * 408 and 429 mean "later", and so do 5xx; any other 4xx means the request itself is wrong and would be
 * again. Redirects are not followed (a POST to a moved webhook is a configuration to fix), nor retried.
 */
function isRetriable(status: number): boolean {
  return status === 408 || status === 429 || status >= 500;
}

export async function attemptDelivery(webhook: WebhookSpec, id: string, body: string, options: { signal?: AbortSignal; now?: number } = {}): Promise<AttemptResult> {
  const now = options.now ?? Date.now();
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'Promote-Webhook/1',
    // unsigned without a secret, but the id and time still let receivers drop repeats
    ...(webhook.secret ? webhookHeaders(webhook.secret, id, body, now) : { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(now / 1000)) }),
  };
  const timeout = AbortSignal.timeout(webhook.timeout);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let response: Response;
  try {
    response = await fetch(webhook.url, { method: 'POST', headers, body, signal, redirect: 'manual' });
  } catch (error) {
    const timedOut = timeout.aborted && !(options.signal?.aborted ?? false);
    const cause = error instanceof Error && error.cause !== undefined ? error.cause : error;
    const what = timedOut ? `no answer within ${webhook.timeout} ms` : describeCause(cause);
    return { outcome: 'retry', error: redactWebhook(webhook, `sending to webhook ${webhook.name}: ${what}`) };
  }
  let text = '';
  try {
    text = (await response.text()).slice(0, BODY_KEPT);
  } catch {
    // the status is the answer; a body cut short changes nothing
  }
  const status = response.status;
  if (status >= 200 && status < 300) return { outcome: 'delivered', status, body: text };
  const retryAfterMs = status === 429 || status === 503 ? parseRetryAfter(response.headers.get('retry-after'), now) : undefined;
  const error = redactWebhook(webhook, `webhook ${webhook.name} answered HTTP ${status}${text ? `: ${text.slice(0, 200)}` : ''}`);
  return { outcome: isRetriable(status) ? 'retry' : 'refused', status, error, body: text, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) };
}

/**
 * Exponential backoff with jitter: attempt n waits between half and all of base·2^(n-1), capped, so
 * controllers retrying after one outage do not all knock at once. `random` is seeded in tests.
 */
export function retryDelay(attempt: number, random: () => number, options: { baseMs: number; maxMs: number }): number {
  const full = Math.min(options.maxMs, options.baseMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(full / 2 + random() * (full / 2));
}
