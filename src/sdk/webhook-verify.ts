/**
 * Webhook signatures as the Standard Webhooks scheme defines them (https://www.standardwebhooks.com),
 * so a receiver can check a Promote notification with this function or any Standard Webhooks library:
 *
 *   webhook-id:        the message id, the same on every attempt (drop repeats by it)
 *   webhook-timestamp: seconds since the epoch when this attempt was signed
 *   webhook-signature: "v1,<base64 of HMAC-SHA256(key, `${id}.${timestamp}.${body}`)>", several
 *                      separated by spaces while a secret is being rotated
 *
 * The key is the base64 after `whsec_` for a Standard Webhooks secret, else the secret's UTF-8 bytes.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export type WebhookHeaders = Headers | Readonly<Record<string, string | string[] | undefined>>;

export interface VerifyWebhookOptions {
  /** how far the timestamp may be from now, either way (default 300 s): a replayed old message fails */
  toleranceSeconds?: number;
  /** for tests: the current time in milliseconds */
  now?: number;
}

/** Why a webhook did not verify; the message says which check failed, never the secret. */
export class WebhookVerificationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookVerificationError';
  }
}

function keyOf(secret: string): Buffer {
  if (secret.startsWith('whsec_')) return Buffer.from(secret.slice('whsec_'.length), 'base64');
  return Buffer.from(secret, 'utf8');
}

/** The `webhook-signature` value for one message: `v1,<base64>`. */
export function signWebhook(secret: string, id: string, timestamp: number, body: string): string {
  const mac = createHmac('sha256', keyOf(secret)).update(`${id}.${timestamp}.${body}`).digest('base64');
  return `v1,${mac}`;
}

/** The three signing headers of one attempt of a message. */
export function webhookHeaders(secret: string, id: string, body: string, now: number = Date.now()): Record<'webhook-id' | 'webhook-timestamp' | 'webhook-signature', string> {
  const timestamp = Math.floor(now / 1000);
  return { 'webhook-id': id, 'webhook-timestamp': String(timestamp), 'webhook-signature': signWebhook(secret, id, timestamp, body) };
}

function header(headers: WebhookHeaders, name: string): string | undefined {
  if (typeof (headers as Headers).get === 'function') return (headers as Headers).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | string[] | undefined>>;
  const key = Object.keys(record).find((each) => each.toLowerCase() === name);
  const value = key === undefined ? undefined : record[key];
  return Array.isArray(value) ? value.join(' ') : value;
}

/**
 * Checks a received webhook and returns its parsed JSON body. Throws WebhookVerificationError when a
 * header is missing, the timestamp is outside the tolerance, or no signature matches the raw body
 * (pass the body exactly as received: re-serialised JSON will not match).
 */
export function verifyWebhook(secret: string, headers: WebhookHeaders, body: string | Buffer, options: VerifyWebhookOptions = {}): unknown {
  const id = header(headers, 'webhook-id');
  const timestampText = header(headers, 'webhook-timestamp');
  const signatures = header(headers, 'webhook-signature');
  if (!id || !timestampText || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature header');
  if (!/^\d{1,12}$/.test(timestampText)) throw new WebhookVerificationError(`webhook-timestamp "${timestampText.slice(0, 20)}" is not a number of seconds`);
  const timestamp = Number(timestampText);
  const tolerance = options.toleranceSeconds ?? 300;
  const now = Math.floor((options.now ?? Date.now()) / 1000);
  if (Math.abs(now - timestamp) > tolerance) {
    throw new WebhookVerificationError(`webhook-timestamp is ${now - timestamp} s from now, more than the ${tolerance} s allowed (a replay, or a clock out of step)`);
  }
  const text = typeof body === 'string' ? body : body.toString('utf8');
  const expected = Buffer.from(signWebhook(secret, id, timestamp, text).slice('v1,'.length), 'base64');
  const matches = signatures.split(' ').some((each) => {
    const [version, value] = each.split(',', 2);
    if (version !== 'v1' || value === undefined) return false;
    const given = Buffer.from(value, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('no webhook-signature matches the body: the body was changed, or the secret differs');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new WebhookVerificationError('the signed body is not JSON');
  }
}
