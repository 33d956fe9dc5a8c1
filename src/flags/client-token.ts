import type { FlagScope } from './source.js';

/**
 * Which flags a caller reads, from its `Authorization` header in Unleash's client token shape:
 * `<app>:<environment>.<secret>` (Unleash's `<project>:<environment>.<secret>`, with Promote's app in
 * the project's place; `*` stands for the server's own app, as Unleash's all-projects tokens do).
 * A `Bearer ` prefix is accepted, since OpenFeature providers are usually configured that way.
 *
 * With `promote server --auth tokens` the secret is an API token with a role in that app and
 * environment (checked by the server, src/server/auth.ts); without authentication it only chooses the
 * scope, and the flag endpoints stay on loopback like the rest of the API.
 */
export type TokenParse = { ok: true; scope: FlagScope; secret: string } | { ok: false; message: string };

// the store's rule for app and environment names
const NAME = /^[a-z][a-z0-9-]{0,62}$/;
const SHAPE = 'expected "<app>:<environment>.<secret>", e.g. "shop:production.0f3c…"';

export function scopeFromAuthorization(header: string | string[] | undefined, serverApp: string): TokenParse {
  if (header === undefined || header === '') return { ok: false, message: `the Authorization header is missing: ${SHAPE}` };
  if (Array.isArray(header)) return { ok: false, message: 'send one Authorization header, not several' };
  const token = header.replace(/^Bearer\s+/i, '').trim();
  const colon = token.indexOf(':');
  const dot = token.indexOf('.', colon + 1);
  if (colon <= 0 || dot < 0) return { ok: false, message: `the Authorization header is not a client token: ${SHAPE}` };
  const appPart = token.slice(0, colon);
  const environment = token.slice(colon + 1, dot);
  const secret = token.slice(dot + 1);
  const app = appPart === '*' ? serverApp : appPart;
  if (!NAME.test(app)) return { ok: false, message: `the token's app ${JSON.stringify(appPart)} is not an app name (lowercase letters, digits and dashes) or "*": ${SHAPE}` };
  if (!NAME.test(environment)) return { ok: false, message: `the token's environment ${JSON.stringify(environment)} is not an environment name (lowercase letters, digits and dashes): ${SHAPE}` };
  if (secret === '') return { ok: false, message: `the token has no secret after the environment: ${SHAPE}` };
  return { ok: true, scope: { app, environment }, secret };
}
