/**
 * The CLI of freeze windows against a real store: `promote freeze` says which environment is frozen by
 * what until when and the next window; `promote deploy` into a frozen environment fails naming the
 * window and the override, and `--override-freeze "<reason>"` deploys and records freeze.overridden
 * with the person and the reason.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type pg from 'pg';
import { beforeAll, describe, expect, it } from 'vitest';
import { createRelease, listEvents, upsertApp } from '../../src/store/index.js';
import { runInProcess } from '../helpers/cli.js';
import { createStorePool } from '../helpers/database.js';
import { scratchFolder } from '../helpers/scratch.js';

const until = new Date(Date.now() + 2 * 3_600_000);
const minute = (date: Date) => `${date.toISOString().slice(0, 16)}Z`;

describe('promote freeze and promote deploy --override-freeze', () => {
  let cwd: string;
  let url: string;
  let pool: pg.Pool;
  const cli = (args: string[], env: Record<string, string> = {}) => runInProcess(['--database-url', url, ...args], { cwd, env: { PROMOTE_ACTOR: 'carol', ...env } });

  beforeAll(async () => {
    cwd = await scratchFolder('promote-freeze-');
    ({ pool, url } = await createStorePool());
    await writeFile(
      join(cwd, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: production
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
    freeze:
      timezone: Europe/Berlin
      windows:
        - name: launch
          from: ${new Date(Date.now() - 60_000).toISOString()}
          until: ${until.toISOString()}
        - name: new-year
          from: 2099-12-31
          until: 2100-01-02
  - name: sandbox
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
strategies:
  canary: { type: canary, steps: [{ setWeight: 50 }, { promote: {} }] }
`,
    );
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: '1.0.0', digest: `sha256:${'a'.repeat(64)}`, migrationChecksums: {} });
  });

  it('promote freeze lists each environment: frozen by which window until when, or open, and the next window', async () => {
    const json = await cli(['freeze', '--json']);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toEqual([
      {
        environment: 'production',
        mode: 'refuse',
        timezone: 'Europe/Berlin',
        frozen: true,
        now: { window: 'launch', since: expect.any(String) as unknown, until: until.toISOString() },
        // midnight in Berlin is 23:00 UTC the day before
        next: { window: 'new-year', startsAt: '2099-12-30T23:00:00.000Z', endsAt: '2100-01-01T23:00:00.000Z' },
      },
      { environment: 'sandbox', mode: null, timezone: null, frozen: false, now: null, next: null },
    ]);
    const table = await cli(['freeze']);
    expect(table.code).toBe(0);
    expect(table.stdout).toContain(`frozen by launch until ${minute(until)} (deploys refused)`);
    expect(table.stdout).toContain('new-year 2099-12-30T23:00Z to 2100-01-01T23:00Z');
    expect(table.stdout).toContain('open (no freeze windows)');
    const one = await cli(['freeze', '--env', 'sandbox', '--json']);
    expect(JSON.parse(one.stdout)).toHaveLength(1);
    expect((await cli(['freeze', '--env', 'nowhere'])).code).toBe(2);
  });

  it('deploy into the frozen environment fails naming the window, its end and the override', async () => {
    const refused = await cli(['deploy', '1.0.0', '--env', 'production']);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(`error: production is frozen by window launch until ${minute(until)}`);
    expect(refused.stderr).toContain('--override-freeze "<reason>"');
    expect((await cli(['deploy', '1.0.0', '--env', 'production', '--override-freeze', '  '])).code).toBe(2);
    expect((await pool.query('select count(*)::int as n from promote.rollouts')).rows[0]).toEqual({ n: 0 });
  });

  it('--override-freeze deploys and records the person, the window and the reason', async () => {
    const deployed = await cli(['deploy', '1.0.0', '--env', 'production', '--override-freeze', 'launch-day hotfix, approved by the CTO', '--json']);
    expect(deployed.stderr).toBe('');
    expect(deployed.code).toBe(0);
    const rollout = JSON.parse(deployed.stdout) as { id: number };
    const overridden = (await listEvents(pool, { rolloutId: rollout.id })).filter((event) => event.type === 'freeze.overridden');
    expect(overridden).toEqual([
      expect.objectContaining({ actor: 'carol', app: 'shop', environment: 'production', data: { window: 'launch', until: until.toISOString(), reason: 'launch-day hotfix, approved by the CTO', version: '1.0.0' } }),
    ]);
  });
});
