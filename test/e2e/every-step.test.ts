/**
 * Every step kind, end to end, through `promote server` (API, controller and router in one process)
 * with real app processes, a real app database and steady load through the router: a canary whose
 * plan holds each of migrate expand, test (a command and an HTTP check), setWeight, a timed pause, a
 * pause until resumed, analysis, setFlag, approval, verify, promote and migrate contract; and a
 * blue-green rollout with its preview route, a person's switch, scaleDownDelay and `promote rollback`.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import pg from 'pg';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../src/system/processes.js';
import { runInProcess } from '../helpers/cli.js';
import { createTestDatabase, createUsersDatabase } from '../helpers/database.js';
import { createReleases, servePromote, steadyLoad, stopServed, type Api, type ServedFolder } from '../helpers/promote-server.js';
import { scratchFolder } from '../helpers/scratch.js';

const canaryApp = fileURLToPath(new URL('../fixtures/canary-app.mjs', import.meta.url));
const targetApp = fileURLToPath(new URL('../fixtures/target-app.mjs', import.meta.url));
const ENDED = ['Healthy', 'RolledBack', 'Degraded', 'Aborted'];

interface RolloutView {
  id: number;
  phase: string;
  phaseReason: string | null;
  currentStep: number;
  weights: Record<string, number>;
}
interface EventView {
  seq: number;
  type: string;
  actor: string;
  data: Record<string, unknown>;
}

/** The rollout as the API shows it, once `done` says so (polled every 50 ms, up to `timeoutMs`). */
async function waitFor(api: Api, id: number, what: string, done: (rollout: RolloutView) => boolean, timeoutMs = 30_000): Promise<RolloutView> {
  let rollout = (await api('GET', `/api/rollouts/${id}`)) as unknown as RolloutView;
  for (const started = Date.now(); !done(rollout); rollout = (await api('GET', `/api/rollouts/${id}`)) as unknown as RolloutView) {
    if (Date.now() - started > timeoutMs) throw new Error(`rollout #${id} did not reach ${what} within ${timeoutMs} ms: ${rollout.phase} at step ${rollout.currentStep + 1}: ${rollout.phaseReason ?? ''}`);
    if (ENDED.includes(rollout.phase) && !ENDED.some((phase) => what.includes(phase))) throw new Error(`rollout #${id} ended ${rollout.phase} while waiting for ${what}: ${rollout.phaseReason ?? ''}`);
    await sleep(50);
  }
  return rollout;
}

const events = async (api: Api, id: number) => (await api('GET', `/api/rollouts/${id}/events`)) as unknown as EventView[];

/** Checks over a rollout's audit trail: each step completed once in plan order, each action started and finished once. */
async function expectStepsOnceInOrder(api: Api, id: number, labels: string[]): Promise<EventView[]> {
  const trail = await events(api, id);
  const completed = trail.filter((event) => event.type === 'step.completed').map((event) => [event.data.step, event.data.label]);
  expect(completed).toEqual(labels.map((label, index) => [index, label]));
  const started = trail.filter((event) => event.type === 'action.started').map((event) => (event.data.action as { id: string }).id);
  expect(new Set(started).size, 'an action was started twice').toBe(started.length);
  const finished = trail.filter((event) => event.type === 'action.succeeded' || event.type === 'action.failed').map((event) => String(event.data.action));
  expect([...finished].sort()).toEqual([...started].sort());
  expect(trail.filter((event) => event.type === 'action.failed')).toEqual([]);
  return trail;
}

/** Routes one request through the router: its status and the version that answered. */
async function viaRouter(port: number, headers: Record<string, string> = {}): Promise<{ status: number; version: string | undefined }> {
  const response = await request(`http://127.0.0.1:${port}/`, { headers });
  await response.body.dump();
  return { status: response.statusCode, version: response.headers['x-promote-version'] as string | undefined };
}

/** Counts the answers of steady load through the router, by version and status ("refused" when no answer came). */
function countedLoad(url: string, clients: number): { seen: Map<string, number>; snapshot(): Map<string, number>; stop(): Promise<void> } {
  const seen = new Map<string, number>();
  const load = steadyLoad(url, clients, (response) => {
    const key = response === undefined ? 'refused' : `${String(response.headers['x-promote-version'] ?? '-')} ${response.statusCode}`;
    seen.set(key, (seen.get(key) ?? 0) + 1);
  });
  return { seen, snapshot: () => new Map(seen), stop: () => load.stop() };
}

/** What the load saw between two snapshots. */
function since(before: Map<string, number>, now: Map<string, number>): Map<string, number> {
  return new Map([...now].map(([key, count]) => [key, count - (before.get(key) ?? 0)] as const).filter(([, count]) => count > 0));
}

describe('a canary through every step kind', () => {
  let folder: string;
  let env: Record<string, string>;
  let appDb: pg.Pool;
  let routerPort: number;
  let served: ServedFolder | undefined;
  let api: Api;
  let load: ReturnType<typeof countedLoad> | undefined;
  const marker = `every-step-canary-${process.pid}`;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env });
  let columns: () => Promise<string[]>;

  beforeAll(async () => {
    folder = await scratchFolder('promote-every-step-');
    const appDatabase = await createUsersDatabase(500);
    ({ pool: appDb, userColumns: columns } = appDatabase);
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    const [apiPort, adminPort] = [await freePort(), await freePort()];
    routerPort = await freePort();
    const environment = (strategy: string) => `  - name: staging
    database: ${appDatabase.url}
    target: { type: process, command: "node ${canaryApp}", instances: 1, env: { PROMOTE_TEST_MARKER: ${marker} }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: ${strategy}`;
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
${environment('every-step')}
strategies:
  every-step:
    type: canary
    steps:
      - migrate: expand
      - test: { name: smoke, run: node smoke.mjs, timeout: 20s }
      - test: { name: health, http: { path: /healthz, expectBody: ok } }
      - setWeight: 20
      - pause: { duration: 1s }
      - analysis: { templates: [errors] }
      - setWeight: 50
      - pause: {}
      - setFlag: { flag: new-checkout, enabled: true, rollout: 50 }
      - approval: { count: 2 }
      - verify: { checks: [emails-present, emails-well-formed] }
      - promote: {}
      - migrate: contract
analysis:
  templates:
    errors:
      provider: { type: builtin, metric: error_rate, window: 2s }
      judge: { type: threshold, condition: "value < 0.01", minSamples: 20 }
      interval: 500ms
      count: 2
      initialDelay: 500ms
flags:
  - name: new-checkout
    description: the new checkout flow
integrity:
  checks:
    emails-present: { type: notNull, table: public_01_add_email.users, columns: [email] }
    emails-well-formed:
      type: sql
      description: every user has an example.com address
      query: "select id, email from public_01_add_email.users where email not like '%@example.com'"
`,
    );
    // the app's first release goes out alone (nothing to compare with): a one-step strategy of its own
    await writeFile(join(folder, 'first.yaml'), `version: 1\napp: { name: shop }\nenvironments:\n${environment('first')}\nstrategies:\n  first:\n    type: canary\n    steps:\n      - promote: {}\n`);
    // the smoke test asks the candidate itself which version it is
    await writeFile(
      join(folder, 'smoke.mjs'),
      `const response = await fetch(process.env.PROMOTE_URL + '/');
const body = await response.json();
if (response.status !== 200 || body.version !== process.env.PROMOTE_VERSION) {
  console.error('smoke: expected ' + process.env.PROMOTE_VERSION + ', got ' + response.status + ' ' + JSON.stringify(body));
  process.exit(1);
}
console.log('smoke: ' + body.version + ' answers');
`,
    );
    await mkdir(join(folder, 'migrations'));
    await createReleases(folder, env, ['v1']);
    const first = await runInProcess(['--config', 'first.yaml', 'deploy', 'v1', '--env', 'staging', '--wait'], { cwd: folder, env });
    expect(first.code, first.stderr).toBe(0);
    // v2 is recorded with the migration it needs
    await writeFile(join(folder, 'migrations', '01_add_email.yaml'), `operations:\n  - add_column:\n      table: users\n      up: lower(replace(name, ' ', '')) || '@example.com'\n      column: { name: email, type: text }\n`);
    await createReleases(folder, env, ['v2']);
    served = await servePromote(folder, env, apiPort, marker);
    api = served.api;
    load = countedLoad(`http://127.0.0.1:${routerPort}/`, 4);
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await stopServed(served, folder, ['v1', 'v2']);
  });

  it('runs migrate, test, setWeight, both pauses, analysis, setFlag, approval, verify, promote and contract in order, under load with no failed request', async () => {
    // v1 serves everyone before the rollout
    for (let waited = 0; waited < 5_000 && (load!.seen.get('v1 200') ?? 0) < 50; waited += 50) await sleep(50);
    expect([...load!.seen.keys()]).toEqual(['v1 200']);
    expect(await columns()).toEqual(['id', 'name']);

    const started = (await api('POST', '/api/deploy', { version: 'v2', environment: 'staging' })) as unknown as RolloutView;
    expect(started.id, JSON.stringify(started)).toEqual(expect.any(Number));
    const id = started.id;

    // the pause until resumed: expand ran, both tests passed, the timed pause and the analysis are behind
    const paused = await waitFor(api, id, 'the pause until resumed', (rollout) => rollout.currentStep === 7 && rollout.phase === 'Paused');
    expect(paused.weights).toEqual({ v2: 50, v1: 50 });
    const expanded = await columns();
    expect(expanded).toContain('_promote_new_email');
    expect(expanded).not.toContain('email');
    // the router applies the half and half: the load reaches both versions
    const before = load!.snapshot();
    await sleep(1_000);
    const shared = since(before, load!.snapshot());
    const total = [...shared.values()].reduce((sum, count) => sum + count, 0);
    expect([...shared.keys()].sort()).toEqual(['v1 200', 'v2 200']);
    expect((shared.get('v2 200') ?? 0) / total).toBeGreaterThan(0.3);
    expect((shared.get('v2 200') ?? 0) / total).toBeLessThan(0.7);
    // the flag step comes later: the flag does not exist yet
    expect(await api('GET', '/api/apps/shop/environments/staging/flags/new-checkout')).toHaveProperty('error');
    const trail = await events(api, id);
    const timed = trail.find((event) => event.type === 'step.completed' && event.data.step === 4);
    expect(timed?.data.summary).toBe('paused 1s');
    const analysis = (await api('GET', `/api/rollouts/${id}/measurements`)) as unknown as Array<{ template: string; verdict: string; candidate: { version: string } | null }>;
    expect(analysis.filter((each) => each.verdict === 'Successful').map((each) => [each.template, each.candidate?.version])).toEqual([
      ['errors', 'v2'],
      ['errors', 'v2'],
    ]);

    // a vote is taken only at an approval step, and names a rollout by its number
    const early = await cli('approve', String(id), '--as', 'erin', '--reason', 'too early');
    expect(early.code).toBe(1);
    expect(early.stderr).toContain(`rollout #${id} is at step 8 of 13 (pause until resumed), not at an approval step; votes are taken only while it waits at one`);
    const unnamed = await cli('approve', 'latest', '--reason', 'which one?');
    expect(unnamed.code).toBe(2);
    expect(unnamed.stderr).toContain('a rollout id is a whole number from 1, got "latest"');
    expect(await api('GET', `/api/rollouts/${id}/approvals`)).toEqual([]);

    expect(await api('POST', '/api/environments/staging/resume', { reason: 'dashboards look fine' })).not.toHaveProperty('error');
    // the approval step: two different people, one through the API and one through the CLI
    const waiting = await waitFor(api, id, 'the approval step', (rollout) => rollout.currentStep === 9 && rollout.phase === 'Paused');
    expect(waiting.phaseReason).toBe('waiting for 2 more approvals at step 10');
    const flag = (await api('GET', '/api/apps/shop/environments/staging/flags/new-checkout')) as { definition?: { enabled?: boolean; strategies?: Array<{ name: string; parameters?: Record<string, unknown> }> } };
    expect(flag.definition?.enabled).toBe(true);
    expect(flag.definition?.strategies?.map((strategy) => [strategy.name, strategy.parameters?.rollout])).toEqual([['flexibleRollout', 50]]);
    const carol = await api('POST', `/api/rollouts/${id}/approvals`, { approver: 'carol', reason: 'error rate flat at 50%' });
    expect(carol).toMatchObject({ step: 10, required: 2, approvals: 1, counted: true });
    expect((await waitFor(api, id, 'one more approval', (rollout) => rollout.phaseReason === 'waiting for 1 more approval at step 10')).currentStep).toBe(9);
    const dave = await cli('approve', String(id), '--as', 'dave', '--reason', 'checkout conversions unchanged');
    expect(dave.stderr).toBe('');
    expect(dave.stdout).toBe(`approval of rollout #${id} by dave recorded: step 10 has 2 of 2 approvals; the rollout continues\n`);

    const ended = await waitFor(api, id, 'Healthy', (rollout) => ENDED.includes(rollout.phase));
    expect(ended, ended.phaseReason ?? '').toMatchObject({ phase: 'Healthy', phaseReason: 'v2 serves all traffic', weights: { v2: 100, v1: 0 } });

    // every step once, in plan order, each action started and finished once
    const labels = ['migrate expand', 'test smoke', 'test health', 'setWeight 20', 'pause 1s', 'analysis errors', 'setWeight 50', 'pause until resumed', 'setFlag new-checkout', 'approval (2)', 'verify emails-present, emails-well-formed', 'promote', 'migrate contract'];
    const all = await expectStepsOnceInOrder(api, id, labels);
    const summaries = all.filter((event) => event.type === 'step.completed').map((event) => String(event.data.summary));
    expect(summaries[7]).toBe('resumed by api');
    expect(summaries[9]).toBe('approved by 2');
    expect(all.filter((event) => event.type === 'approval.recorded').map((event) => [event.actor, event.data.step])).toEqual([
      ['carol', 9],
      ['dave', 9],
    ]);
    // the tests ran for real: the command's output and the HTTP check's answer are the evidence
    const outcomes = all.filter((event) => event.type === 'action.succeeded').map((event) => event.data.outcome as { detail?: string; evidence?: Record<string, unknown> });
    expect(JSON.stringify(outcomes)).toContain('smoke: v2 answers');
    expect(JSON.stringify(outcomes)).toContain('every user has an example.com address: no offending rows');
    expect(JSON.stringify(outcomes)).toContain('public_01_add_email.users: no NULL in email (500 rows)');
    expect(outcomes.map((outcome) => outcome.detail ?? '')).toEqual([
      'expanded 01_add_email: the new version uses public_01_add_email',
      '1 instance(s) ready',
      'command passed (exit code 0)',
      'GET /healthz: 1 of 1 instance answered as expected',
      '',
      expect.stringMatching(/^score 100: errors successful: 2 of 2 measurements passed/),
      '',
      'flag new-checkout is on with a rollout of 50% in staging',
      'waiting for 2 approval(s)',
      '2 check(s) passed',
      '',
      '',
      'contracted 01_add_email',
    ]);

    // the routing table followed the steps: v2 joined at 0, then 20, 50 and 100, and v1 left
    const appEvents = JSON.parse((await cli('events', '--json')).stdout) as EventView[];
    const startedAt = appEvents.find((event) => event.type === 'rollout.created' && (event.data as { version?: string }).version === 'v2')!.seq;
    const tables = appEvents
      .filter((event) => event.type === 'traffic.changed' && event.seq > startedAt)
      .map((event) => Object.fromEntries(((event.data.config as { versions: Array<{ name: string; weight: number }> }).versions).map((version) => [version.name, version.weight])));
    expect(tables).toEqual([{ v2: 0, v1: 100 }, { v2: 20, v1: 80 }, { v2: 50, v1: 50 }, { v2: 100, v1: 0 }, { v2: 100 }]);

    // the migration is complete: the new column is the table's own, the history says completed
    expect(await columns()).toEqual(['id', 'name', 'email']);
    expect((await appDb.query('select email from users where id = 7')).rows).toEqual([{ email: 'user7@example.com' }]);
    const history = JSON.parse((await cli('migrate', 'history', '--env', 'staging', '--json')).stdout) as Array<{ name: string; phase: string }>;
    expect(history.map((run) => [run.name, run.phase])).toEqual([['01_add_email', 'completed']]);

    // v2 serves everyone, and under load nothing failed on the way
    const after = load!.snapshot();
    await sleep(300);
    expect([...since(after, load!.snapshot()).keys()]).toEqual(['v2 200']);
    await load!.stop();
    expect([...load!.seen.keys()].filter((key) => !key.endsWith(' 200'))).toEqual([]);
    expect(load!.seen.get('v2 200')).toBeGreaterThan(100);
  }, 90_000);
});

describe('a blue-green rollout: preview, a person switches, blue stays warm, then rollback', () => {
  let folder: string;
  let env: Record<string, string>;
  let routerPort: number;
  let served: ServedFolder | undefined;
  let api: Api;
  let load: ReturnType<typeof countedLoad> | undefined;
  const marker = `every-step-bluegreen-${process.pid}`;
  const cli = (...args: string[]) => runInProcess(args, { cwd: folder, env });
  /** the versions `count` requests through the router reached, with their statuses */
  const answers = async (count: number, headers: Record<string, string> = {}) => {
    const seen = new Set<string>();
    for (let index = 0; index < count; index++) {
      const { status, version } = await viaRouter(routerPort, headers);
      seen.add(`${version ?? '-'} ${status}`);
    }
    return [...seen].sort();
  };

  beforeAll(async () => {
    folder = await scratchFolder('promote-every-step-bg-');
    const appDatabase = await createTestDatabase();
    const appDb = new pg.Pool({ connectionString: appDatabase.url, max: 1 });
    await appDb.query(`create table orders (id serial primary key, total numeric not null); insert into orders (total) select n from generate_series(1, 100) n`);
    await appDb.end();
    env = { DATABASE_URL: (await createTestDatabase()).url, PROMOTE_ACTOR: 'release-bot' };
    const [apiPort, adminPort] = [await freePort(), await freePort()];
    routerPort = await freePort();
    await writeFile(
      join(folder, 'promote.yaml'),
      `version: 1
app: { name: shop }
environments:
  - name: staging
    database: ${appDatabase.url}
    target: { type: process, command: "node ${targetApp}", instances: 2, env: { PROMOTE_TEST_MARKER: ${marker} }, readiness: { path: /healthz, timeout: 10s, interval: 100ms }, drainTimeout: 2s }
    router: { listen: 127.0.0.1:${routerPort}, admin: 127.0.0.1:${adminPort} }
    strategy: blue-green
strategies:
  blue-green:
    type: blueGreen
    autoPromote: false
    scaleDownDelay: 3s
    steps:
      - test: { name: preview, http: { path: /healthz, expectBody: ok } }
      - verify: { checks: [orders-have-totals] }
      - promote: {}
integrity:
  checks:
    orders-have-totals: { type: notNull, table: orders, columns: [total] }
`,
    );
    await createReleases(folder, env, ['blue', 'green']);
    served = await servePromote(folder, env, apiPort, marker);
    api = served.api;
  }, 60_000);

  afterAll(async () => {
    await load?.stop();
    await stopServed(served, folder, ['blue', 'green']);
  });

  const labels = ['test preview', 'verify orders-have-totals', 'pause until resumed', 'promote'];
  const GATE = 'waiting for `promote promote` to switch traffic to the new version';

  it('waits for a person before the switch, with green reachable by the preview header only; switches; keeps blue warm for scaleDownDelay; ends Healthy', async () => {
    // blue, the first release, through the same plan; the CLI's `promote promote` switches it
    const blue = (await api('POST', '/api/deploy', { version: 'blue', environment: 'staging' })) as unknown as RolloutView;
    expect((await waitFor(api, blue.id, 'the gate', (rollout) => rollout.phase === 'Paused')).phaseReason).toBe(GATE);
    const promoted = await cli('promote', '--env', 'staging', '--reason', 'first release');
    expect(promoted.stdout, promoted.stderr).toContain(`promote sent to rollout #${blue.id} (Paused)`);
    expect(await waitFor(api, blue.id, 'Healthy', (rollout) => ENDED.includes(rollout.phase))).toMatchObject({ phase: 'Healthy' });
    await expectStepsOnceInOrder(api, blue.id, labels);
    load = countedLoad(`http://127.0.0.1:${routerPort}/`, 4);

    const green = (await api('POST', '/api/deploy', { version: 'green', environment: 'staging' })) as unknown as RolloutView;
    const gated = await waitFor(api, green.id, 'the gate', (rollout) => rollout.phase === 'Paused');
    expect(gated).toMatchObject({ currentStep: 2, phaseReason: GATE, weights: { green: 0, blue: 100 } });
    // the preview test and the integrity check ran before anyone could switch
    const early = (await events(api, green.id)).filter((event) => event.type === 'step.completed').map((event) => event.data.label);
    expect(early).toEqual(labels.slice(0, 2));
    // before the switch: clients get blue, testers reach green through the preview header
    expect(await answers(10)).toEqual(['blue 200']);
    expect(await answers(10, { 'x-promote-preview': '1' })).toEqual(['green 200']);
    // without autoPromote it stays there: nothing moves by itself
    const held = load.snapshot();
    await sleep(500);
    expect((await api('GET', `/api/rollouts/${green.id}`)) as unknown as RolloutView).toMatchObject({ phase: 'Paused', currentStep: 2 });
    expect([...since(held, load.snapshot()).keys()]).toEqual(['blue 200']);

    const switchedAt = Date.now();
    expect(await api('POST', '/api/environments/staging/promote', { reason: 'preview looks right' })).toMatchObject({ id: green.id });
    // the switch: everyone on green at once, while blue keeps running for scaleDownDelay
    const switched = await waitFor(api, green.id, 'the switch', (rollout) => rollout.weights.green === 100);
    expect(switched.phase).toBe('Progressing');
    expect(await answers(10)).toEqual(['green 200']);
    expect(await answers(5, { 'x-promote-version': 'blue' })).toEqual(['blue 200']);
    const healthy = await waitFor(api, green.id, 'Healthy', (rollout) => ENDED.includes(rollout.phase));
    expect(healthy, healthy.phaseReason ?? '').toMatchObject({ phase: 'Healthy', phaseReason: 'green serves all traffic', weights: { green: 100, blue: 0 } });
    expect(Date.now() - switchedAt).toBeGreaterThanOrEqual(3_000);
    const trail = await expectStepsOnceInOrder(api, green.id, labels);
    expect(trail.filter((event) => ['rollout.switched', 'rollout.previous-retired'].includes(event.type)).map((event) => [event.type, event.data])).toEqual([
      ['rollout.switched', { release: 'green', previous: 'blue' }],
      ['rollout.previous-retired', { version: 'blue' }],
    ]);
    const table = JSON.parse((await cli('traffic', 'get', '--env', 'staging', '--json')).stdout) as { config: { versions: Array<{ name: string }> } };
    expect(table.config.versions.map((version) => version.name)).toEqual(['green']);
  }, 60_000);

  it('returns to blue with `promote rollback`: one command, no person to wait for, nothing failed under load', async () => {
    const startedAt = Date.now();
    const back = await cli('rollback', '--env', 'staging', '--json');
    expect(back.stderr).toBe('');
    const rollback = JSON.parse(back.stdout) as { id: number };
    let servedBlueAfter: number | undefined;
    // blue is started again and takes everyone as soon as its test and check pass: no gate, no analysis
    while (servedBlueAfter === undefined && Date.now() - startedAt < 10_000) {
      if ((await answers(5)).join() === 'blue 200') servedBlueAfter = Date.now() - startedAt;
      else await sleep(50);
    }
    expect(servedBlueAfter, `blue did not serve everyone within 10 s of the rollback: ${JSON.stringify(await api('GET', `/api/rollouts/${rollback.id}`))}`).toBeDefined();
    const ended = await waitFor(api, rollback.id, 'Healthy', (rollout) => ENDED.includes(rollout.phase));
    expect(ended, ended.phaseReason ?? '').toMatchObject({ phase: 'Healthy', phaseReason: 'blue serves all traffic' });
    const trail = await expectStepsOnceInOrder(api, rollback.id, ['test preview', 'verify orders-have-totals', 'promote']);
    expect(trail.find((event) => event.type === 'rollout.created')?.data).toMatchObject({ version: 'blue', stable: 'green', rollback: true });
    expect(trail.filter((event) => event.type === 'rollout.phase').map((event) => event.data.to)).not.toContain('Paused');
    await load!.stop();
    expect([...load!.seen.keys()].filter((key) => !key.endsWith(' 200'))).toEqual([]);
    expect(load!.seen.get('green 200')).toBeGreaterThan(50);
  }, 60_000);
});
