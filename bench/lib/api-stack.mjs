// The stack the API benchmarks measure against: an embedded PostgreSQL in a scratch folder, a
// migrated state store with one app and its environments, and the Promote API (buildServer) on
// loopback, from dist (run `npm run build` first). close() takes it all down and removes the folder.
import { chmodSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

const environmentYaml = (name) => `  - name: ${name}
    database: postgres://localhost/shop_${name}
    target: { type: process, command: node server.js }
    strategy: canary
`;

/**
 * `environments` in promotion order; `prepare(pool)` runs after the store is set up, before the API starts;
 * `serverOptions` go to buildServer (e.g. `{ auth: 'tokens' }`).
 */
export async function startApiStack({ root, prefix, app, environments, prepare = async () => undefined, serverOptions = {} }) {
  const dist = (path) => import(join(root, 'dist', path));
  const { ensureEmbeddedPostgres } = await dist('store/embedded/server.js');
  const { migrateStore } = await dist('store/migrate.js');
  const { upsertApp } = await dist('store/apps.js');
  const { syncEnvironments } = await dist('store/environments.js');
  const { buildServer } = await dist('server/app.js');
  const { parseSpec } = await dist('spec/index.js');

  const scratch = mkdtempSync(join(tmpdir(), prefix));
  // run as root, Promote runs the embedded PostgreSQL as "postgres", who must be able to traverse the folder
  chmodSync(scratch, 0o755);
  const server = await ensureEmbeddedPostgres({ home: join(scratch, 'pg') });
  const pool = new pg.Pool({ connectionString: server.url, max: 8 });
  pool.on('error', () => undefined);
  await migrateStore(pool);
  await upsertApp(pool, { name: app });
  await syncEnvironments(pool, app, environments);
  await prepare(pool);

  const text = `version: 1
app: { name: ${app} }
environments:
${environments.map(environmentYaml).join('')}strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
`;
  const spec = parseSpec(text, { file: 'promote.yaml' });
  if (!spec.ok) throw new Error(`the bench spec does not parse: ${spec.problems.map((problem) => problem.message).join('; ')}`);
  const api = await buildServer({ pool, spec: spec.spec, ...serverOptions });
  const base = await api.listen({ host: '127.0.0.1', port: 0 });
  return {
    pool,
    spec: spec.spec,
    databaseUrl: server.url,
    base,
    async close() {
      await api.close();
      await pool.end();
      await server.release();
      rmSync(scratch, { recursive: true, force: true });
    },
  };
}
