/**
 * pgroll's own example migrations, run unchanged and in their ledger order on a real PostgreSQL:
 * each one starts, rolls back to exactly the schema it found, starts again and completes, leaving
 * nothing of Promote's behind. The files are read from ../shared/conformance/pgroll (never copied).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { pgrollConformance, pgrollValidators, withPgrollConformance } from '../../test/helpers/conformance.js';
import { createMigrationDatabase, migrationFrom, type MigrationDatabase } from '../../test/helpers/migrations.js';
import { parse as parseYaml } from 'yaml';
import { readSchema } from './introspect.js';
import { completeMigration, rollbackMigration, startMigration } from './runner.js';

let db: MigrationDatabase;

beforeAll(async () => {
  db = await createMigrationDatabase();
});

async function replayed(names: readonly string[], texts: ReadonlyMap<string, string>): Promise<MigrationDatabase> {
  const replica = await createMigrationDatabase();
  for (const name of names) {
    await startMigration(migrationFrom(migrationName(name), texts.get(name) ?? ''), { pool: replica.pool });
    await completeMigration({ pool: replica.pool });
  }
  return replica;
}

function migrationName(file: string): string {
  return file.replace(/\.(ya?ml|json)$/, '');
}

async function leftovers(on: MigrationDatabase): Promise<string[]> {
  const result = await on.pool.query<{ what: string }>(
    `select 'column ' || c.relname || '.' || a.attname as what from pg_attribute a join pg_class c on c.oid = a.attrelid join pg_namespace n on n.oid = c.relnamespace
      where n.nspname = 'public' and a.attnum > 0 and not a.attisdropped and a.attname like '\\_promote\\_%'
     union all
     select 'function ' || p.proname from pg_proc p join pg_namespace n on n.oid = p.pronamespace where n.nspname = 'public' and p.proname like '\\_promote\\_%'
     union all
     select 'constraint ' || conname from pg_constraint k join pg_namespace n on n.oid = k.connamespace where n.nspname = 'public' and conname like '\\_promote\\_not\\_null%'`,
  );
  return result.rows.map((row) => row.what);
}

withPgrollConformance(({ names, texts, schema }) => {
  describe("pgroll's examples, in ledger order", () => {
    for (const name of names) {
      it(`${name}: valid for pgroll's schema, then start, rollback, start and complete`, async () => {
        const text = texts.get(name) ?? '';
        const validators = pgrollValidators(schema);
        expect(validators.migration(parseYaml(text)), `${name} against pgroll's schema.json`).toBe(true);
        const migration = migrationFrom(migrationName(name), text);
        // raw SQL without `down` cannot be undone (the same in pgroll): its rollback is checked on a
        // replica of the database built by replaying the examples before it, so this one stays usable
        const reversible = migration.operations.every((operation) => operation.kind !== 'sql' || operation.onComplete === true || (operation.down ?? '').trim() !== '');
        const rehearsal = reversible ? db : await replayed(names.slice(0, names.indexOf(name)), texts);
        const before = await readSchema(rehearsal.pool, 'public');
        await startMigration(migration, { pool: rehearsal.pool });
        await rollbackMigration({ pool: rehearsal.pool });
        expect(await readSchema(rehearsal.pool, 'public'), 'the schema after rollback').toEqual(before);
        expect(await leftovers(rehearsal)).toEqual([]);

        const started = await startMigration(migration, { pool: db.pool });
        const views = await db.pool.query<{ table_name: string }>(`select table_name from information_schema.views where table_schema = $1`, [started.versionSchema]);
        const live = (await readSchema(db.pool, 'public')).tables.length;
        expect(views.rows.length, `views in ${started.versionSchema}`).toBeGreaterThan(0);
        expect(views.rows.length).toBeLessThanOrEqual(live);
        await completeMigration({ pool: db.pool });
        expect(await leftovers(db)).toEqual([]);
      });
    }
  });
});

it('reads the examples from the shared conformance folder', () => {
  expect(pgrollConformance().names.length).toBe(56);
});
