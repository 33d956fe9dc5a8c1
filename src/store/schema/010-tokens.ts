import type { StoreMigration } from './index.js';

/**
 * API tokens. Only a sha256 of the secret is kept: the secret is shown once, at creation, and a
 * database dump or backup gives nobody a working token. A token is revoked, never deleted, so the
 * audit trail's actors stay explained. `bindings` holds the roles it grants: [{ role, app, environment }],
 * '*' for any.
 */
const sql = `
create table tokens (
  id bigserial primary key,
  name text not null check (length(name) between 1 and 100),
  secret_sha256 text not null unique check (secret_sha256 ~ '^[0-9a-f]{64}$'),
  -- the first characters of the secret, enough for a person to tell tokens apart in a list
  prefix text not null,
  bindings jsonb not null check (jsonb_typeof(bindings) = 'array' and jsonb_array_length(bindings) > 0),
  created_by text not null,
  created_at timestamptz not null default now(),
  expires_at timestamptz check (expires_at is null or expires_at > created_at),
  revoked_at timestamptz,
  revoked_by text,
  last_used_at timestamptz
);
create index tokens_name on tokens (name);
`;

const tokens: StoreMigration = { version: 10, name: 'api tokens', sql };
export default tokens;
