import { createHash } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createTestDatabase } from '../helpers/database.js';
import { runInProcess } from '../helpers/cli.js';
import { scratchFolder } from '../helpers/scratch.js';

const repoRoot = new URL('../..', import.meta.url).pathname;

const FIVE_PROBLEMS = `version: 1
app:
  name: orders
environments:
  - name: staging
    database: postgres://localhost/orders
    target:
      type: process
      comand: node server.js
    strategy: canary
  - name: staging
    database: postgres://localhost/orders
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 120
      - rollback: {}
      - promote: {}
`;

describe('promote CLI', () => {
  let folder: string;
  beforeAll(async () => {
    folder = await scratchFolder('promote-cli-');
  });

  it('prints help with examples and exits 0', async () => {
    const result = await runInProcess(['--help'], { cwd: folder });
    expect(result.code).toBe(0);
    for (const command of ['init', 'validate', 'schema', 'db', 'release']) expect(result.stdout).toContain(command);
    expect(result.stdout).toContain('Examples:');
    expect(result.stdout).toContain('Exit codes: 0 success, 1 failure, 2 usage error');
  });

  it('exits 2 on usage errors and suggests the closest command', async () => {
    const unknown = await runInProcess(['valdate'], { cwd: folder });
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Did you mean validate\?/);
    const missing = await runInProcess(['release', 'create', '1.0.0'], { cwd: folder });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("required option '--artifact <path>' not specified");
  });

  it('lists all five problems of a broken promote.yaml with their lines, and exits 1', async () => {
    const file = join(folder, 'broken.yaml');
    await writeFile(file, FIVE_PROBLEMS);
    const result = await runInProcess(['validate', file], { cwd: folder });
    expect(result.code).toBe(1);
    const problems = result.stdout.split('\n').filter((line) => line.startsWith(file));
    expect(problems).toHaveLength(5);
    const lines = problems.map((line) => Number(line.slice(file.length + 1).split(':')[0]));
    // comand typo (9), duplicate staging (11), missing target (11), weight 120 (18), unknown step (19)
    expect(lines).toEqual([9, 11, 11, 18, 19]);
    expect(result.stdout).toMatch(/comand.*did you mean "command"/);
    expect(result.stdout).toMatch(/120/);
    expect(result.stdout).toMatch(/unknown step "rollback"/);
    expect(result.stdout).toMatch(/5 problems in/);
  });

  it('validates the shipped example, in text and JSON', async () => {
    const text = await runInProcess(['validate', join(repoRoot, 'examples/promote.yaml')], { cwd: folder });
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/is valid: app orders, 2 environments \(staging -> production\)/);
    const json = await runInProcess(['validate', join(repoRoot, 'examples/promote.yaml'), '--json'], { cwd: folder });
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: true, summary: { app: 'orders', environments: ['staging', 'production'] } });
  });

  it('init writes a file that validates, and will not overwrite it without --force', async () => {
    const project = join(folder, 'svc');
    await mkdir(project);
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: '@acme/Billing_API' }));
    const created = await runInProcess(['init'], { cwd: project });
    expect(created.code).toBe(0);
    expect(created.stdout).toContain('for app billing-api');
    const env = { STAGING_DATABASE_URL: 'postgres://localhost/s', PRODUCTION_DATABASE_URL: 'postgres://localhost/p' };
    const validated = await runInProcess(['validate'], { cwd: project, env });
    expect(validated.stdout).toContain('is valid: app billing-api');
    expect(validated.code).toBe(0);
    const again = await runInProcess(['init'], { cwd: project });
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already exists; not overwriting it\nhint: pass --force/);
    expect((await runInProcess(['init', '--force', '--app', 'billing'], { cwd: project })).code).toBe(0);
    expect(await readFile(join(project, 'promote.yaml'), 'utf8')).toContain('name: billing');
    expect((await runInProcess(['init', '--force', '--app', 'Bad Name'], { cwd: project })).code).toBe(2);
  });

  it('prints the JSON Schema and the reference page', async () => {
    const json = await runInProcess(['schema'], { cwd: folder });
    expect(json.code).toBe(0);
    const schema = JSON.parse(json.stdout) as { $schema: string; properties: Record<string, unknown> };
    expect(schema.$schema).toMatch(/json-schema\.org/);
    expect(Object.keys(schema.properties)).toEqual(expect.arrayContaining(['version', 'app', 'environments', 'strategies']));
    const markdown = await runInProcess(['schema', '--format', 'markdown'], { cwd: folder });
    expect(markdown.stdout).toMatch(/^# /);
    expect((await runInProcess(['schema', '--format', 'xml'], { cwd: folder })).code).toBe(2);
  });
});

describe('promote release', () => {
  let folder: string;
  let env: Record<string, string>;
  beforeAll(async () => {
    folder = await scratchFolder('promote-release-');
    const database = await createTestDatabase();
    env = { DATABASE_URL: database.url, PROMOTE_ACTOR: 'ci-bot' };
    await writeFile(join(folder, 'promote.yaml'), await readFile(join(repoRoot, 'examples/promote.yaml'), 'utf8'));
    await mkdir(join(folder, 'migrations'));
    await writeFile(join(folder, 'migrations', '01_add_status.yaml'), 'operations: []\n');
    await writeFile(join(folder, 'app-1.0.0.tgz'), 'artifact one');
    await writeFile(join(folder, 'app-1.0.0-rebuilt.tgz'), 'artifact one, rebuilt differently');
  });

  it('records a release with its digest and migration checksums, idempotently', async () => {
    const created = await runInProcess(['release', 'create', '1.0.0', '--artifact', 'app-1.0.0.tgz', '--json'], { cwd: folder, env });
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const body = JSON.parse(created.stdout) as { created: boolean; release: { digest: string; migrationChecksums: Record<string, string>; createdBy: string } };
    expect(body.created).toBe(true);
    expect(body.release.digest).toBe(`sha256:${createHash('sha256').update('artifact one').digest('hex')}`);
    expect(Object.keys(body.release.migrationChecksums)).toEqual(['01_add_status.yaml']);
    expect(body.release.createdBy).toBe('ci-bot');

    const again = await runInProcess(['release', 'create', '1.0.0', '--artifact', 'app-1.0.0.tgz'], { cwd: folder, env });
    expect(again.code).toBe(0);
    expect(again.stdout).toContain('already recorded, same digest');
  });

  it('refuses the same version with another digest, and exits 1', async () => {
    const result = await runInProcess(['release', 'create', '1.0.0', '--artifact', 'app-1.0.0-rebuilt.tgz'], { cwd: folder, env });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/1\.0\.0/);
    expect(result.stderr).toMatch(/immutable|new version/);
  });

  it('names a missing artifact and rejects a malformed version', async () => {
    const missing = await runInProcess(['release', 'create', '2.0.0', '--artifact', 'nope.tgz'], { cwd: folder, env });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain(join(folder, 'nope.tgz'));
    const malformed = await runInProcess(['release', 'create', 'v 2', '--artifact', 'app-1.0.0.tgz'], { cwd: folder, env });
    expect(malformed.code).toBe(2);
  });

  it('lists releases as a table and as JSON', async () => {
    const table = await runInProcess(['release', 'list'], { cwd: folder, env });
    expect(table.code).toBe(0);
    expect(table.stdout.split('\n')[0]).toMatch(/^VERSION\s+DIGEST\s+MIGRATIONS\s+CREATED\s+BY$/);
    expect(table.stdout).toMatch(/1\.0\.0\s+sha256:[0-9a-f]{12}\s+1\s+.*ci-bot/);
    const json = await runInProcess(['release', 'list', '--json'], { cwd: folder, env });
    expect((JSON.parse(json.stdout) as Array<{ version: string }>).map((release) => release.version)).toEqual(['1.0.0']);
  });
});

describe('an unreachable DATABASE_URL', () => {
  let silent: Server;
  let silentPort: number;
  const sockets: Socket[] = [];
  beforeAll(async () => {
    // accepts TCP connections and never answers: what a firewalled or hung server looks like
    silent = createServer((socket) => sockets.push(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentPort = (silent.address() as { port: number }).port;
  });
  afterAll(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => silent.close(resolve));
  });

  it('fails at once with the host and the reason when nothing listens, without the password', async () => {
    const started = Date.now();
    const result = await runInProcess(['db', 'status'], { cwd: '/', env: { DATABASE_URL: 'postgres://promote:s3cret@127.0.0.1:1/state' } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/could not connect to the state store at 127\.0\.0\.1:1 \(database state\): .*ECONNREFUSED/);
    expect(result.stderr).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('fails in under 10 s when the server never answers', async () => {
    const started = Date.now();
    const result = await runInProcess(['db', 'status'], { cwd: '/', env: { DATABASE_URL: `postgres://promote:s3cret@127.0.0.1:${silentPort}/state` } });
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(new RegExp(`127\\.0\\.0\\.1:${silentPort} .*no answer within 7 s`));
    expect(result.stderr).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 15_000);

  it('rejects a URL that is not PostgreSQL as a usage error', async () => {
    const result = await runInProcess(['db', 'status'], { cwd: '/', env: { DATABASE_URL: 'mysql://root:pw@db:3306/x' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/postgres:\/\/ or postgresql:\/\/ URL/);
    expect(result.stderr).not.toContain('pw@');
  });

  it('refuses `db start` when an external server is configured', async () => {
    const result = await runInProcess(['db', 'start'], { cwd: '/', env: { DATABASE_URL: 'postgres://x@127.0.0.1:1/y' } });
    expect(result.code).toBe(2);
  });
});
