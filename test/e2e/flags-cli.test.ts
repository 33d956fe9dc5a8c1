import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applyDueFlagSchedules } from '../../src/flags/store-schedules.js';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase } from '../helpers/database.js';
import { SPEC_TEXT } from '../helpers/flag-serving.js';
import { scratchFolder } from '../helpers/scratch.js';

const config = `${SPEC_TEXT}flags:
  - name: new-checkout
    description: the one-page checkout
    enabled: false
  - name: fast-search
    enabled: true
    strategies:
      - name: flexibleRollout
        parameters: { rollout: 10, stickiness: default, groupId: fast-search }
`;

describe('promote flags', () => {
  let folder: string;
  let env: Record<string, string>;
  let pool: pg.Pool;
  const cli = (...args: string[]) => runInProcess(['flags', ...args], { cwd: folder, env });
  beforeAll(async () => {
    folder = await scratchFolder('promote-flags-cli-');
    const { url } = await createTestDatabase();
    env = { DATABASE_URL: url, PROMOTE_ACTOR: 'ops' };
    pool = new pg.Pool({ connectionString: url, max: 2 });
    await writeFile(join(folder, 'promote.yaml'), config);
  });
  afterAll(async () => pool.end());

  it('sync creates the declared flags in every environment, and later leaves what the store has', async () => {
    const first = await cli('sync');
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    expect(first.stdout).toContain('created staging/new-checkout\ncreated staging/fast-search\ncreated production/new-checkout\ncreated production/fast-search\n');
    expect(first.stdout).toContain('4 created, 0 left as they are');
    await cli('enable', 'new-checkout', '--env', 'staging', '--reason', 'try it');
    const second = await cli('sync', '--json');
    const report = JSON.parse(second.stdout) as { created: unknown[]; kept: Array<{ environment: string; flag: string; version: number }> };
    expect(report.created).toEqual([]);
    expect(report.kept).toContainEqual({ environment: 'staging', flag: 'new-checkout', version: 2, archived: false });
    // the store's edit stands
    const got = JSON.parse((await cli('get', 'new-checkout', '--env', 'staging', '--json')).stdout) as { definition: { enabled: boolean } };
    expect(got.definition.enabled).toBe(true);
  });

  it('lists, enables, rolls out, sets variants and shows the history with who and why', async () => {
    const list = await cli('list', '--env', 'production');
    expect(list.stdout).toMatch(/^NAME\s+ON\s+TYPE\s+FOR\s+VERSION\s+UPDATED\s+BY\n/);
    expect(list.stdout).toMatch(/fast-search\s+yes\s+release\s+flexibleRollout 10%\s+1\s+\S+ \S+\s+ops/);
    expect((await cli('rollout', 'fast-search', '50', '--env', 'production', '--reason', 'p99 flat')).stdout).toBe('flag fast-search of shop/production rollout: version 2, changed strategies[0].parameters.rollout\n');
    expect((await cli('rollout', 'fast-search', '50', '--env', 'production')).stdout).toBe('flag fast-search of shop/production unchanged (version 2)\n');
    expect((await cli('variants', 'new-checkout', 'one-page=700', 'classic=300', '--env', 'production')).code).toBe(0);
    await runInProcess(['flags', 'disable', 'fast-search', '--env', 'production', '--reason', 'incident 42'], { cwd: folder, env: { ...env, PROMOTE_ACTOR: 'oncall' } });
    const history = await cli('history', 'fast-search', '--env', 'production');
    const lines = history.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^WHEN\s+VERSION\s+ACTION\s+BY\s+CHANGED\s+WHY$/);
    expect(lines[1]).toMatch(/\s3\s+disabled\s+oncall\s+enabled\s+incident 42$/);
    expect(lines[2]).toMatch(/\s2\s+rollout\s+ops\s+strategies\[0\]\.parameters\.rollout\s+p99 flat$/);
    expect(lines[3]).toMatch(/\s1\s+created\s+ops\s+.*declared in promote.yaml$/);
    const json = JSON.parse((await cli('history', 'fast-search', '--env', 'production', '--json')).stdout) as Array<{ before: unknown; after: unknown }>;
    expect(json[0]).toMatchObject({ before: { enabled: true }, after: { enabled: false } });
  });

  it('set reads a YAML or JSON file (or several flags in one) and names the file, line and field of a problem', async () => {
    await writeFile(join(folder, 'beta.yaml'), 'name: beta-banner\nenabled: true\nstrategies:\n  - name: default\n    constraints:\n      - contextName: plan\n        operator: IN\n        values: [pro]\n');
    const created = await cli('set', 'beta.yaml', '--env', 'staging', '--reason', 'banner for pro users');
    expect(created).toMatchObject({ code: 0, stdout: 'flag beta-banner of shop/staging created: version 1, changed enabled, name, strategies, type\n' });
    await writeFile(join(folder, 'two.json'), JSON.stringify([{ name: 'a-flag', enabled: true }, { name: 'b-flag' }]));
    expect((await cli('set', 'two.json', '--env', 'staging')).stdout).toBe('flag a-flag of shop/staging created: version 1, changed enabled, name, type\nflag b-flag of shop/staging created: version 1, changed enabled, name, type\n');

    await writeFile(join(folder, 'bad.yaml'), 'name: broken\nenabled: true\nstrategies:\n  - name: default\n    constraints:\n      - contextName: version\n        operator: SEMVER_GT\n        value: one-point-oh\n');
    const bad = await cli('set', 'bad.yaml', '--env', 'staging');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/^error: flag "broken" in bad\.yaml is not valid:\n {2}bad\.yaml:8:16 strategies\[0\]\.constraints\[0\]\.value: /);
    await writeFile(join(folder, 'typo.yaml'), 'name: typo\nenabeld: true\n');
    expect((await cli('set', 'typo.yaml', '--env', 'staging')).stderr).toMatch(/typo\.yaml:2:1 enabeld: unknown field "enabeld" \(did you mean "enabled"\?\)/);
    await writeFile(join(folder, 'broken.yaml'), 'name: [unclosed\n');
    expect((await cli('set', 'broken.yaml', '--env', 'staging')).stderr).toMatch(/^error: broken\.yaml:\d+:\d+ is not valid YAML or JSON/);
    expect((await cli('set', 'missing.yaml', '--env', 'staging')).stderr).toMatch(/^error: cannot read missing\.yaml/);
    expect(await cli('set', 'beta.yaml', '--env', 'staging', '--expected-version', '1')).toMatchObject({ code: 0, stdout: 'flag beta-banner of shop/staging unchanged (version 1)\n' });
    expect((await cli('set', 'beta.yaml', '--env', 'staging', '--expected-version', '0')).stderr).toMatch(/changed since you read it: you expected it not to exist, it is at version 1 now/);
  });

  it('schedules changes, lists and cancels them', async () => {
    const scheduled = await cli('schedule', 'new-checkout', 'rollout', '30', '--at', '2020-01-01T00:00:00Z', '--env', 'production', '--reason', 'launch');
    expect(scheduled.stdout).toMatch(/^scheduled change #(\d+): rollout 30% flag new-checkout of shop\/production at 2020-01-01 00:00:00Z/);
    const later = await cli('schedule', 'new-checkout', 'disable', '--at', '2h', '--env', 'production', '--json');
    const laterId = (JSON.parse(later.stdout) as { id: number }).id;
    const listed = await cli('schedule', '--list', '--env', 'production');
    expect(listed.stdout).toMatch(/rollout 30%\s+pending\s+ops/);
    expect((await cli('schedule', '--cancel', String(laterId), '--env', 'production')).stdout).toBe(`scheduled change #${laterId} of flag new-checkout cancelled\n`);
    expect((await cli('schedule', 'new-checkout', 'rollout', '30', '--env', 'production')).stderr).toMatch(/--at is required/);
    expect((await cli('schedule', 'new-checkout', 'rollout', '30', '--at', 'next week', '--env', 'production')).stderr).toMatch(/--at "next week" is not a time/);
    expect((await cli('schedule', 'new-checkout', 'explode', '--at', '1h', '--env', 'production')).stderr).toMatch(/action: expected one of enable, disable, rollout, variants, put, archive/);
    const run = await applyDueFlagSchedules(pool);
    expect(run.applied).toHaveLength(1);
    expect((await cli('history', 'new-checkout', '--env', 'production')).stdout).toMatch(/rollout \(schedule #\d+\)\s+ops\s+strategies\s+launch/);
  });

  it('finds stale flags and archives them', async () => {
    expect((await cli('stale')).stdout).toBe('no flag of shop has been fully on or off and unchanged for 30d\n');
    await pool.query(`update promote.flags set updated_at = now() - interval '45 days' where name in ('a-flag', 'b-flag')`);
    const stale = await cli('stale', '--unchanged-for', '40d');
    expect(stale.stdout).toMatch(/^ENVIRONMENT\s+FLAG\s+STATE\s+UNCHANGED FOR\nstaging\s+a-flag\s+fully on\s+45d\nstaging\s+b-flag\s+fully off\s+45d\n$/);
    expect((await cli('stale', '--unchanged-for', 'ages')).stderr).toMatch(/^error: --unchanged-for: /);
    expect((await cli('archive', 'a-flag', '--env', 'staging', '--reason', 'removed from the code')).stdout).toBe('flag a-flag of shop/staging archived: version 2, changed archived\n');
    expect((await cli('list', '--env', 'staging')).stdout).not.toContain('a-flag');
    expect((await cli('list', '--env', 'staging', '--archived')).stdout).toContain('a-flag (archived)');
  });

  it('names an unknown environment, app or flag', async () => {
    expect(await cli('list', '--env', 'qa')).toMatchObject({ code: 1, stderr: expect.stringContaining('app "shop" has no environment "qa" in the state store') as unknown });
    expect((await cli('list', '--env', 'production', '--app', 'other')).stderr).toContain('the state store has no app "other"');
    expect((await cli('enable', 'ghost', '--env', 'production')).stderr).toContain('shop/production has no flag "ghost"');
    expect((await cli('rollout', 'fast-search', 'lots', '--env', 'production')).code).toBe(2);
  });
});
