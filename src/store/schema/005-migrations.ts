import type { StoreMigration } from './index.js';

/**
 * The history of the app's schema migrations, per app and target database (`database_key`: a name for
 * the database a migration runs on, such as the environment). Each entry is chained to the one before
 * it, as Flyway checksums its history: chain_hash = sha256(previous_hash || name || checksum), checked
 * here by the database itself (src/migrations/checksum.ts computes the same). Entries are append-only:
 * only the phase moves forward (started -> completed | rolled_back | failed, completed -> rolled_back
 * while contract can still be undone), with the time it moved; nothing else changes and nothing is
 * deleted. A migration rolled back or failed may be started again, as a new entry.
 */
const sql = `
create table schema_migrations (
  app text not null references apps (name) on delete restrict,
  database_key text not null check (database_key ~ '^[A-Za-z0-9][A-Za-z0-9._:/@-]{0,127}$'),
  seq integer not null check (seq >= 1),
  -- the migration file name without its extension, as pgroll names migrations
  name text not null check (length(name) between 1 and 255 and name !~ '[[:cntrl:]]'),
  -- sha256 of the migration's operations as canonical JSON
  checksum text not null check (checksum ~ '^[0-9a-f]{64}$'),
  previous_hash text not null check (previous_hash ~ '^[0-9a-f]{64}$'),
  chain_hash text not null,
  phase text not null default 'started' check (phase in ('started', 'completed', 'rolled_back', 'failed')),
  version_schema text check (version_schema <> ''),
  actor text not null check (actor <> ''),
  started_at timestamptz not null default now(),
  completed_at timestamptz,
  rolled_back_at timestamptz,
  failed_at timestamptz,
  -- why it failed, or why it was rolled back
  error text,
  primary key (app, database_key, seq),
  check (chain_hash = encode(sha256(convert_to(previous_hash || name || checksum, 'UTF8')), 'hex')),
  -- the times say how far the entry went, and nothing more
  check (phase <> 'started' or (completed_at is null and rolled_back_at is null and failed_at is null)),
  check (phase <> 'completed' or (completed_at is not null and rolled_back_at is null and failed_at is null)),
  check (phase <> 'rolled_back' or (rolled_back_at is not null and failed_at is null)),
  check (phase <> 'failed' or (failed_at is not null and error is not null and completed_at is null and rolled_back_at is null))
);
-- a migration is applied (or being applied) at most once per database
create unique index schema_migrations_live on schema_migrations (app, database_key, name)
  where phase in ('started', 'completed');

-- search_path from current: the store schema, whatever the caller's search_path is
create function schema_migrations_guard() returns trigger language plpgsql set search_path from current as $$
begin
  if tg_op = 'INSERT' then
    if new.phase <> 'started' or new.completed_at is not null or new.rolled_back_at is not null or new.failed_at is not null then
      raise exception 'schema_migrations: a new entry starts in phase started'
        using errcode = 'integrity_constraint_violation';
    end if;
    if new.seq = 1 and new.previous_hash <> repeat('0', 64) then
      raise exception 'schema_migrations: the first entry of % on % follows the genesis hash', new.app, new.database_key
        using errcode = 'integrity_constraint_violation';
    end if;
    if new.seq > 1 and not exists (
      select 1 from schema_migrations
       where app = new.app and database_key = new.database_key and seq = new.seq - 1 and chain_hash = new.previous_hash
    ) then
      raise exception 'schema_migrations: entry % of % on % does not follow entry %', new.seq, new.app, new.database_key, new.seq - 1
        using errcode = 'integrity_constraint_violation';
    end if;
    return new;
  end if;
  if tg_op = 'UPDATE' then
    if (new.app, new.database_key, new.seq, new.name, new.checksum, new.previous_hash, new.chain_hash, new.version_schema, new.actor, new.started_at)
       is distinct from
       (old.app, old.database_key, old.seq, old.name, old.checksum, old.previous_hash, old.chain_hash, old.version_schema, old.actor, old.started_at) then
      raise exception 'schema_migrations is append-only: only the phase of an entry moves'
        using errcode = 'integrity_constraint_violation';
    end if;
    if new.phase is distinct from old.phase
       and not ((old.phase = 'started' and new.phase in ('completed', 'rolled_back', 'failed'))
                or (old.phase = 'completed' and new.phase = 'rolled_back')) then
      raise exception 'schema_migrations: % cannot go from % to %', old.name, old.phase, new.phase
        using errcode = 'integrity_constraint_violation';
    end if;
    if (old.completed_at is not null and new.completed_at is distinct from old.completed_at)
       or (old.rolled_back_at is not null and new.rolled_back_at is distinct from old.rolled_back_at)
       or (old.failed_at is not null and new.failed_at is distinct from old.failed_at)
       or (old.error is not null and new.error is distinct from old.error) then
      raise exception 'schema_migrations is append-only: what happened to % is recorded already', old.name
        using errcode = 'integrity_constraint_violation';
    end if;
    return new;
  end if;
  raise exception 'schema_migrations is append-only: % is not allowed', tg_op
    using errcode = 'integrity_constraint_violation';
end
$$;
create trigger schema_migrations_append_only before insert or update or delete on schema_migrations
  for each row execute function schema_migrations_guard();
create trigger schema_migrations_no_truncate before truncate on schema_migrations
  for each statement execute function schema_migrations_guard();
`;

const migrationHistory: StoreMigration = { version: 5, name: 'schema migration history', sql };
export default migrationHistory;
