import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { request } from 'undici';
import { beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { runInProcess } from '../helpers/cli.js';
import { createStorePool } from '../helpers/database.js';
import { startPromoteServer } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const specText = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

/** `promote token` on a real store, and `promote server` choosing and enforcing authentication. */
describe('promote token and promote server --auth', () => {
  let pool: pg.Pool;
  let url: string;
  let cwd: string;
  const cli = (...args: string[]) => runInProcess(['--database-url', url, ...args], { cwd, env: { PROMOTE_ACTOR: 'ops-lead' } });

  beforeAll(async () => {
    ({ pool, url } = await createStorePool());
    cwd = await scratchFolder();
    await writeFile(join(cwd, 'promote.yaml'), specText);
  });

  it('refuses a server beyond loopback without tokens, and --auth tokens while no token exists', async () => {
    const open = await cli('server', '--listen', '0.0.0.0:7071');
    expect(open.code).toBe(2);
    expect(open.stderr).toContain('--listen 0.0.0.0:7071: without authentication the API listens on loopback only (127.0.0.1, ::1)');
    expect(open.stderr).toContain('promote token create --name <you> --role admin');
    const empty = await cli('server', '--auth', 'tokens');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('--auth tokens: the store has no active API token, so nobody could call this server');
    expect((await cli('server', '--auth', 'open')).stderr).toContain('--auth open: expected none or tokens');
  });

  it('creates a token, shows its secret once, keeps only its hash, lists it and revokes it, each as an event', async () => {
    const refused = await cli('token', 'create', '--name', 'alice', '--role', 'owner');
    expect(refused.code).toBe(2);
    expect(refused.stderr).toContain('--role "owner": unknown role "owner"');
    expect((await cli('token', 'create', '--name', 'alice')).stderr).toContain('--role is required');
    expect((await cli('token', 'create', '--name', 'alice', '--role', 'admin', '--expires', 'soon')).stderr).toContain('--expires "soon"');

    const created = await cli('token', 'create', '--name', 'alice', '--role', 'admin', '--role', 'viewer:billing/live', '--expires', '30d');
    expect(created.code).toBe(0);
    const secret = /pmt_[A-Za-z0-9_-]{43}/.exec(created.stdout)?.[0];
    expect(secret).toBeDefined();
    expect(created.stdout).toContain('for alice: admin, viewer:billing/live, expires ');
    expect(created.stdout).toContain('it is not shown again');
    const stored = (await pool.query<{ row: string }>('select t::text as row from promote.tokens t')).rows.map((row) => row.row).join('\n');
    expect(stored).not.toContain(secret!.slice(4));

    const listed = await cli('token', 'list');
    expect(listed.stdout).toMatch(/alice\s+admin, viewer:billing\/live\s+pmt_\S{6}…/);
    expect(listed.stdout).not.toContain(secret);
    const json = JSON.parse((await cli('token', 'list', '--json')).stdout) as Array<{ name: string; createdBy: string; roles: string[] }>;
    expect(json).toMatchObject([{ name: 'alice', createdBy: 'ops-lead', roles: ['admin', 'viewer:billing/live'] }]);

    await cli('token', 'create', '--name', 'bot', '--role', 'viewer');
    const revoked = await cli('token', 'revoke', 'bot', '--reason', 'leaked in a log');
    expect(revoked.code).toBe(0);
    expect(revoked.stdout).toMatch(/^revoked token #\d+ \(bot, pmt_\S{6}…\)/);
    expect((await cli('token', 'revoke', 'bot')).stderr).toContain('no active API token named "bot"');
    expect((await cli('token', 'list', '--all')).stdout).toMatch(/bot .*revoked by ops-lead/);
    const events = (await pool.query<{ type: string; actor: string; data: Record<string, unknown> }>(`select type, actor, data from promote.events where type like 'token.%' order by seq`)).rows;
    expect(events.map((event) => [event.type, event.actor, event.data.name])).toEqual([
      ['token.created', 'ops-lead', 'alice'],
      ['token.created', 'ops-lead', 'bot'],
      ['token.revoked', 'ops-lead', 'bot'],
    ]);
    expect(events[2]?.data.reason).toBe('leaked in a log');
    expect(JSON.stringify(events)).not.toContain(secret);
  });

  it('serves with tokens by default once one exists: 401 without, the token\'s name with it', async () => {
    const secret = /pmt_[A-Za-z0-9_-]{43}/.exec((await cli('token', 'create', '--name', 'carol', '--role', 'operator')).stdout)![0];
    const port = await freePort();
    const { child, output } = await startPromoteServer(cwd, { DATABASE_URL: url }, port, ['--no-controller', '--no-routers']);
    try {
      const anonymous = await request(`http://127.0.0.1:${port}/api/me`);
      expect(anonymous.statusCode).toBe(401);
      expect(await anonymous.body.json()).toMatchObject({ auth: 'token' });
      const me = await request(`http://127.0.0.1:${port}/api/me`, { headers: { authorization: `Bearer ${secret}` } });
      expect(await me.body.json()).toMatchObject({ actor: 'carol', via: 'token', role: 'operator' });
    } finally {
      child.kill('SIGTERM');
      const result = await output;
      expect(result.stdout).toContain('every call needs an API token');
      expect(result.stdout + result.stderr).not.toContain(secret);
    }
  });
});
