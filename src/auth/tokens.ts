import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { PromoteError } from '../errors.js';
import { appendEvent } from '../store/events.js';
import { query, toDate, toId, withTransaction, type Queryable } from '../store/queryable.js';
import { formatBinding, type RoleBinding } from './bindings.js';

/**
 * API tokens: `pmt_` and 43 characters of base64url (256 random bits). The secret is shown once and
 * stored as its sha256 — a slow password hash buys nothing against 256 random bits, and a fast one
 * keeps every request's check cheap. Creating and revoking one are audit events; the secret never is.
 */
export const TOKEN_PREFIX = 'pmt_';
export const TOKEN_PATTERN = /^pmt_[A-Za-z0-9_-]{43}$/;
const SHOWN_PREFIX_LENGTH = 10;
/** last_used_at is written at most this often per token: a busy dashboard would otherwise write on every request */
const LAST_USED_RESOLUTION_MS = 60_000;

export interface ApiToken {
  id: number;
  name: string;
  /** the secret's first characters, to recognise it */
  prefix: string;
  bindings: RoleBinding[];
  createdBy: string;
  createdAt: Date;
  expiresAt: Date | null;
  revokedAt: Date | null;
  revokedBy: string | null;
  lastUsedAt: Date | null;
}

interface TokenRow {
  id: string | number;
  name: string;
  prefix: string;
  bindings: RoleBinding[];
  created_by: string;
  created_at: Date | string;
  expires_at: Date | string | null;
  revoked_at: Date | string | null;
  revoked_by: string | null;
  last_used_at: Date | string | null;
}

const COLUMNS = 'id, name, prefix, bindings, created_by, created_at, expires_at, revoked_at, revoked_by, last_used_at';
const nullableDate = (value: Date | string | null): Date | null => (value === null ? null : toDate(value));

function toToken(row: TokenRow): ApiToken {
  return {
    id: toId(row.id),
    name: row.name,
    prefix: row.prefix,
    bindings: row.bindings,
    createdBy: row.created_by,
    createdAt: toDate(row.created_at),
    expiresAt: nullableDate(row.expires_at),
    revokedAt: nullableDate(row.revoked_at),
    revokedBy: row.revoked_by,
    lastUsedAt: nullableDate(row.last_used_at),
  };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

const TOKEN_NAME = /^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,99}$/;

export interface TokenRequest {
  name: string;
  bindings: RoleBinding[];
  expiresAt?: Date | null;
  /** who creates it, recorded */
  actor: string;
}

/** Creates a token; the returned secret exists nowhere else afterwards. */
export async function createToken(db: Queryable, request: TokenRequest, now = new Date()): Promise<{ token: ApiToken; secret: string }> {
  const { name, bindings, actor } = request;
  if (!TOKEN_NAME.test(name)) {
    throw new PromoteError(`token name ${JSON.stringify(name)}: expected 1 to 100 characters of letters, digits, space, . _ @ -, starting with a letter or digit (it names the person or system in the audit trail)`, { status: 400 });
  }
  if (bindings.length === 0) throw new PromoteError(`token ${name}: give it at least one role (--role)`, { status: 400 });
  const expiresAt = request.expiresAt ?? null;
  if (expiresAt !== null && !(expiresAt.getTime() > now.getTime())) throw new PromoteError(`token ${name}: the expiry ${expiresAt.toISOString()} is not in the future`, { status: 400 });
  const secret = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  const doing = `creating API token ${name}`;
  const token = await withTransaction(db, async (tx) => {
    const row = (
      await query<TokenRow>(tx, doing, `insert into promote.tokens (name, secret_sha256, prefix, bindings, created_by, expires_at) values ($1, $2, $3, $4, $5, $6) returning ${COLUMNS}`, [
        name,
        hashSecret(secret),
        secret.slice(0, SHOWN_PREFIX_LENGTH),
        JSON.stringify(bindings),
        actor,
        expiresAt,
      ])
    ).rows[0]!;
    const created = toToken(row);
    await appendEvent(tx, { type: 'token.created', actor, data: { token: created.id, name, prefix: created.prefix, roles: bindings.map(formatBinding), expiresAt: expiresAt?.toISOString() ?? null } });
    return created;
  });
  return { token, secret };
}

export type TokenCheck = { ok: true; token: ApiToken } | { ok: false; reason: string };

/** Checks a presented secret: known, not revoked, not expired. The reason is safe to show (no secret in it). */
export async function checkToken(db: Queryable, secret: string, now = new Date()): Promise<TokenCheck> {
  if (!TOKEN_PATTERN.test(secret)) return { ok: false, reason: `not a Promote API token (expected ${TOKEN_PREFIX} and 43 characters)` };
  const digest = hashSecret(secret);
  const row = (await query<TokenRow & { secret_sha256: string }>(db, 'checking an API token', `select ${COLUMNS}, secret_sha256 from promote.tokens where secret_sha256 = $1`, [digest])).rows[0];
  // the lookup is by digest; comparing again in constant time costs nothing and keeps timing flat
  if (!row || !timingSafeEqual(Buffer.from(row.secret_sha256), Buffer.from(digest))) return { ok: false, reason: 'unknown API token' };
  return stillValid(db, toToken(row), now);
}

/** A known token's own checks: not revoked, not expired; notes its use. */
async function stillValid(db: Queryable, token: ApiToken, now: Date): Promise<TokenCheck> {
  if (token.revokedAt) return { ok: false, reason: `API token ${token.name} (${token.prefix}…) was revoked at ${token.revokedAt.toISOString()}` };
  if (token.expiresAt && token.expiresAt.getTime() <= now.getTime()) return { ok: false, reason: `API token ${token.name} (${token.prefix}…) expired at ${token.expiresAt.toISOString()}` };
  if (!token.lastUsedAt || now.getTime() - token.lastUsedAt.getTime() >= LAST_USED_RESOLUTION_MS) {
    await query(db, `noting the use of API token ${token.name}`, 'update promote.tokens set last_used_at = $2 where id = $1', [token.id, now]);
  }
  return { ok: true, token };
}

export async function listTokens(db: Queryable, options: { includeRevoked?: boolean } = {}): Promise<ApiToken[]> {
  const where = options.includeRevoked ? '' : 'where revoked_at is null';
  return (await query<TokenRow>(db, 'listing API tokens', `select ${COLUMNS} from promote.tokens ${where} order by id`)).rows.map(toToken);
}

/** The active tokens an id or a name designates: an id is one token, a name every active token of that name. */
export async function findTokens(db: Queryable, idOrName: string): Promise<ApiToken[]> {
  const byId = /^\d{1,15}$/.test(idOrName);
  const found = (
    await query<TokenRow>(db, `finding API token ${idOrName}`, `select ${COLUMNS} from promote.tokens where ${byId ? 'id = $1' : 'name = $1'} and revoked_at is null order by id`, [byId ? Number(idOrName) : idOrName])
  ).rows.map(toToken);
  if (found.length === 0) throw new PromoteError(`no active API token ${byId ? `#${idOrName}` : `named ${JSON.stringify(idOrName)}`}`, { status: 404, hint: 'promote token list shows the active tokens' });
  return found;
}

/** Revokes the given tokens at once, with one event each. */
export async function revokeTokens(db: Queryable, tokens: readonly ApiToken[], actor: string, reason?: string): Promise<ApiToken[]> {
  return withTransaction(db, async (tx) => {
    const revoked: ApiToken[] = [];
    for (const token of tokens) {
      const row = (
        await query<TokenRow>(tx, `revoking API token ${token.name}`, `update promote.tokens set revoked_at = now(), revoked_by = $2 where id = $1 and revoked_at is null returning ${COLUMNS}`, [token.id, actor])
      ).rows[0];
      if (!row) continue; // revoked meanwhile by someone else: their event stands
      revoked.push(toToken(row));
      await appendEvent(tx, { type: 'token.revoked', actor, data: { token: token.id, name: token.name, prefix: token.prefix, ...(reason ? { reason } : {}) } });
    }
    return revoked;
  });
}

export async function countActiveTokens(db: Queryable, now = new Date()): Promise<number> {
  const row = (await query<{ count: number }>(db, 'counting active API tokens', 'select count(*)::int as count from promote.tokens where revoked_at is null and (expires_at is null or expires_at > $1)', [now])).rows[0];
  return row?.count ?? 0;
}

export const SESSION_PREFIX = 'pms_';
const SESSION_PATTERN = /^pms_[A-Za-z0-9_-]{43}$/;

/** Starts a dashboard session for a checked token; the returned secret goes in the cookie and nowhere else. */
export async function startSession(db: Queryable, token: ApiToken, expiresAt: Date): Promise<string> {
  const secret = SESSION_PREFIX + randomBytes(32).toString('base64url');
  await query(db, `starting a dashboard session for ${token.name}`, 'insert into promote.sessions (secret_sha256, token_id, expires_at) values ($1, $2, $3)', [hashSecret(secret), token.id, expiresAt]);
  return secret;
}

/** Checks a session cookie: a live session, and its token still valid (a revoked token ends its sessions). */
export async function checkSession(db: Queryable, secret: string, now = new Date()): Promise<TokenCheck> {
  if (!SESSION_PATTERN.test(secret)) return { ok: false, reason: 'not a Promote session; sign in again' };
  const row = (
    await query<TokenRow & { session_expires_at: Date | string; ended_at: Date | string | null }>(
      db,
      'checking a dashboard session',
      `select ${COLUMNS.split(', ').map((column) => `t.${column}`).join(', ')}, s.expires_at as session_expires_at, s.ended_at
         from promote.sessions s join promote.tokens t on t.id = s.token_id where s.secret_sha256 = $1`,
      [hashSecret(secret)],
    )
  ).rows[0];
  if (!row) return { ok: false, reason: 'unknown session; sign in again' };
  if (row.ended_at !== null) return { ok: false, reason: 'this session was signed out; sign in again' };
  if (toDate(row.session_expires_at).getTime() <= now.getTime()) return { ok: false, reason: 'this session expired; sign in again' };
  return stillValid(db, toToken(row), now);
}

/** Ends a session (signing out); an unknown or already ended one is left as it is. */
export async function endSession(db: Queryable, secret: string): Promise<void> {
  if (!SESSION_PATTERN.test(secret)) return;
  await query(db, 'ending a dashboard session', 'update promote.sessions set ended_at = now() where secret_sha256 = $1 and ended_at is null', [hashSecret(secret)]);
}
