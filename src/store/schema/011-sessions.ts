import type { StoreMigration } from './index.js';

/**
 * Dashboard sessions. The browser's cookie holds a session secret of its own, never the API token it
 * signed in with: signing out ends the session for good, and a copied cookie is worth one session,
 * not the token. Each use also checks the token, so revoking a token ends its sessions.
 */
const sql = `
create table sessions (
  id bigserial primary key,
  secret_sha256 text not null unique check (secret_sha256 ~ '^[0-9a-f]{64}$'),
  token_id bigint not null references tokens (id),
  created_at timestamptz not null default now(),
  expires_at timestamptz not null check (expires_at > created_at),
  ended_at timestamptz
);
create index sessions_token on sessions (token_id);
`;

const sessions: StoreMigration = { version: 11, name: 'dashboard sessions', sql };
export default sessions;
