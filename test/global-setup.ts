import { execFileSync } from 'node:child_process';
import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { ensureEmbeddedPostgres } from '../src/store/embedded/server.js';

declare module 'vitest' {
  export interface ProvidedContext {
    /** a superuser URL of the test server's maintenance database; each test file creates its own database from it */
    adminDatabaseUrl: string;
  }
}

/**
 * One PostgreSQL for the whole run: the one in PROMOTE_TEST_DATABASE_URL, or a real embedded server in
 * a scratch folder. Test files never share a database (see test/helpers/database.ts).
 */
export default async function setup(project: TestProject) {
  buildCli();
  const external = process.env.PROMOTE_TEST_DATABASE_URL;
  if (external) {
    project.provide('adminDatabaseUrl', external);
    return;
  }
  const home = await mkdtemp(join(tmpdir(), 'promote-test-pg-'));
  // mkdtemp makes the folder private; the server may run as another user (see run-as.ts)
  await chmod(home, 0o755);
  const server = await ensureEmbeddedPostgres({ home: join(home, 'pg'), durable: false });
  project.provide('adminDatabaseUrl', server.adminUrl);
  return async () => {
    await server.release();
    await rm(home, { recursive: true, force: true });
  };
}

/** Tests that run the CLI as a real process use dist/; build it so they never test stale code. */
function buildCli(): void {
  if (process.env.PROMOTE_TEST_SKIP_BUILD === '1') return;
  const root = new URL('..', import.meta.url);
  execFileSync(process.execPath, ['node_modules/typescript/bin/tsc', '-p', 'tsconfig.build.json'], { cwd: root, stdio: 'inherit' });
  execFileSync(process.execPath, ['scripts/after-build.mjs'], { cwd: root, stdio: 'inherit' });
}
