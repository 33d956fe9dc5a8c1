import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PromoteError } from '../errors.js';
import { targetSchema } from '../spec/schema-environment.js';
import type { ProcessTargetSpec } from '../spec/schema.js';
import { versionFolder } from './files.js';
import { freePortBlock, processStartTime } from '../system/processes.js';
import { createProcessTarget, type ProcessTuning } from './process.js';
import type { DeployRequest, Target, VersionInstances } from './target.js';
import { createTarget } from './target.js';
import { alive, fixturesDir, getJson, getStatus, groupAlive, killAll, pidsIn, until } from '../../test/fixtures/target-support.js';

interface Echo {
  pid: number;
  ppid: number;
  argv: string[];
  cwd: string;
  env: Record<string, string | null>;
}

let stateDir: string;
let pidsFile: string;
const opened: { target: Target; versions: Set<string> }[] = [];

beforeAll(async () => {
  stateDir = await mkdtemp(join(tmpdir(), 'promote-targets-'));
  pidsFile = join(stateDir, 'pids.txt');
});

afterAll(async () => {
  // tear down with the last target that knew each version, then kill whatever a failed test left
  for (const { target, versions } of opened.reverse()) {
    for (const version of versions) await target.teardown(version).catch(() => undefined);
    await target.close();
  }
  killAll(pidsFile);
  await rm(stateDir, { recursive: true, force: true });
});

function spec(overrides: Record<string, unknown> = {}): ProcessTargetSpec {
  const parsed = targetSchema.parse({
    type: 'process',
    command: `"${process.execPath}" target-app.mjs`,
    instances: 2,
    env: { FROM_SPEC: 'spec', SHARED: 'spec', TARGET_APP_PIDS: pidsFile },
    readiness: { path: '/healthz', timeout: '5s', interval: '50ms' },
    drainTimeout: '2s',
    ...overrides,
  });
  if (parsed.type !== 'process') throw new Error('expected a process target');
  return parsed;
}

function target(targetSpec: ProcessTargetSpec, tuning: ProcessTuning = {}, environment = 'staging'): Target & { versions: Set<string> } {
  const created = createProcessTarget(targetSpec, { app: 'shop', environment, stateDir, configDir: fixturesDir, tuning });
  const entry = { target: created, versions: new Set<string>() };
  opened.push(entry);
  // remember deployed versions for afterAll
  const deploy = created.deploy.bind(created);
  created.deploy = async (request, signal) => {
    entry.versions.add(request.version);
    return deploy(request, signal);
  };
  return Object.assign(created, { versions: entry.versions });
}

/** The pids of the apps themselves (status() shows the group leader: the shell that runs the command). */
async function appPids(urls: string[]): Promise<number[]> {
  return Promise.all(urls.map(async (url) => (await getJson<Echo>(`${url}/`)).body.pid));
}

/** The status pid is the group leader: the app itself when the shell exec'd it, else its parent shell. */
function leads(leader: number | undefined, echo: Echo | undefined): boolean {
  return leader !== undefined && echo !== undefined && (leader === echo.pid || leader === echo.ppid);
}

async function pidsOf(t: Target, version: string): Promise<number[]> {
  return (await t.status()).filter((s) => s.version === version).map((s) => s.pid ?? -1);
}

describe('process target', () => {
  it('deploys instances with the right environment, and a second deploy returns them without starting more', async () => {
    const t = target(spec({ command: `"${process.execPath}" target-app.mjs {{app}} {{environment}} {{version}}` }));
    const before = (await pidsIn(pidsFile)).length;
    const deployed = await t.deploy({ app: 'shop', environment: 'staging', version: 'v1.0.0', env: { FROM_REQUEST: 'request', SHARED: 'request' }, artifact: '/artifacts/shop-1.tgz' });
    expect(deployed.version).toBe('v1.0.0');
    expect(deployed.urls).toHaveLength(2);

    const echoes = await Promise.all(deployed.urls.map(async (url) => (await getJson<Echo>(`${url}/`)).body));
    echoes.forEach((echo, index) => {
      expect(echo.env).toEqual({
        PORT: new URL(deployed.urls[index] as string).port,
        RELEASE: 'v1.0.0',
        PROMOTE_VERSION: 'v1.0.0',
        PROMOTE_ENVIRONMENT: 'staging',
        PROMOTE_APP: 'shop',
        PROMOTE_INSTANCE: String(index),
        PROMOTE_ARTIFACT: '/artifacts/shop-1.tgz',
        FROM_SPEC: 'spec',
        FROM_REQUEST: 'request',
        SHARED: 'request',
      });
      expect(echo.cwd).toBe(fixturesDir.replace(/\/$/, ''));
      expect(echo.argv).toEqual(['shop', 'staging', 'v1.0.0']);
    });
    const status = await t.status();
    expect(status.map((s) => [s.index, s.state, s.restarts])).toEqual([
      [0, 'ready', 0],
      [1, 'ready', 0],
    ]);
    status.forEach((s, index) => expect(leads(s.pid, echoes[index])).toBe(true));

    // records and logs on disk
    const folder = versionFolder(stateDir, 'staging', 'v1.0.0');
    expect((await readdir(folder)).sort()).toEqual(['instance-0.json', 'instance-0.log', 'instance-1.json', 'instance-1.log']);
    const record = JSON.parse(await readFile(join(folder, 'instance-1.json'), 'utf8')) as Record<string, unknown>;
    expect(record).toMatchObject({ version: 'v1.0.0', index: 1, pid: status[1]?.pid, url: deployed.urls[1], startTime: processStartTime(status[1]?.pid ?? 0) });
    expect(await readFile(join(folder, 'instance-0.log'), 'utf8')).toMatch(/listening on \d+/);

    const again = await t.deploy({ app: 'shop', environment: 'staging', version: 'v1.0.0' });
    expect(again).toEqual(deployed);
    expect(await pidsOf(t, 'v1.0.0')).toEqual(status.map((s) => s.pid));
    expect(await appPids(deployed.urls)).toEqual(echoes.map((echo) => echo.pid));
    expect((await pidsIn(pidsFile)).length).toBe(before + 2);
    expect(await t.instances('v1.0.0')).toEqual(deployed);
    expect(await t.instances('v-none')).toBeUndefined();
    await t.teardown('v1.0.0');
  });

  it('starts only one set when the same version is deployed twice at once', async () => {
    const t = target(spec());
    const before = (await pidsIn(pidsFile)).length;
    const request = { app: 'shop', environment: 'staging', version: 'v-twice' };
    const [first, second] = await Promise.all([t.deploy(request), t.deploy(request)]);
    expect(second).toEqual(first);
    expect((await pidsIn(pidsFile)).length).toBe(before + 2);
    await t.teardown('v-twice');
  });

  it('gives versions running side by side their own block of ports from basePort', async () => {
    // below the kernel's ephemeral range, so other tests' outgoing connections cannot take base+1..3
    const base = await freePortBlock(4);
    const t = target(spec({ basePort: base }));
    const [blue, green] = await Promise.all([
      t.deploy({ app: 'shop', environment: 'staging', version: 'v-blue' }),
      t.deploy({ app: 'shop', environment: 'staging', version: 'v-green' }),
    ]);
    const ports = [...blue.urls, ...green.urls].map((url) => Number(new URL(url).port)).sort((a, b) => a - b);
    expect(ports).toEqual([base, base + 1, base + 2, base + 3]);
    expect(new URL(blue.urls[1] as string).port).toBe(String(Number(new URL(blue.urls[0] as string).port) + 1));
    await t.teardown('v-blue');
    // the freed block is used again
    const again = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-red' });
    expect(again.urls.map((url) => Number(new URL(url).port)).sort()).toEqual(blue.urls.map((url) => Number(new URL(url).port)).sort());
    await t.teardown('v-green');
    await t.teardown('v-red');
  });

  it('a new controller adopts running instances; a dead one is cleaned up and started again', async () => {
    const first = target(spec());
    const deployed = await first.deploy({ app: 'shop', environment: 'staging', version: 'v-adopt', env: { FROM_REQUEST: 'kept' } });
    const pids = await pidsOf(first, 'v-adopt');
    await first.close(); // the controller goes away; the instances keep serving
    expect(await getStatus(`${deployed.urls[0]}/healthz`)).toBe(200);

    const second = target(spec());
    // status() shows what runs even before anything is adopted
    expect((await second.status()).filter((s) => s.version === 'v-adopt').map((s) => [s.pid, s.state])).toEqual(pids.map((pid) => [pid, 'ready']));
    expect(await second.instances('v-adopt')).toEqual(deployed);
    expect(await pidsOf(second, 'v-adopt')).toEqual(pids);
    expect(await second.deploy({ app: 'shop', environment: 'staging', version: 'v-adopt' })).toEqual(deployed);
    expect(await pidsOf(second, 'v-adopt')).toEqual(pids);
    await second.close();

    // instance 0 dies while no controller watches
    process.kill(-(pids[0] as number), 'SIGKILL');
    await until('instance 0 to be gone', () => !alive(pids[0] as number));

    const third = target(spec());
    expect(await third.deploy({ app: 'shop', environment: 'staging', version: 'v-adopt', env: { FROM_REQUEST: 'again' } })).toEqual(deployed);
    const status = (await third.status()).filter((s) => s.version === 'v-adopt');
    expect(status[0]?.pid).not.toBe(pids[0]);
    expect(status[0]?.restarts).toBe(1);
    expect(status[1]?.pid).toBe(pids[1]);
    expect(status.map((s) => s.state)).toEqual(['ready', 'ready']);
    expect((await getJson<Echo>(`${deployed.urls[0]}/`)).body.env.FROM_REQUEST).toBe('again');
    expect((await getJson<Echo>(`${deployed.urls[1]}/`)).body.env.FROM_REQUEST).toBe('kept');
    await third.teardown('v-adopt');
  });

  it('finds an instance whose pid was never recorded by the token in its environment: deploy adopts it, teardown stops it', async () => {
    const first = target(spec({ instances: 1 }));
    const { urls } = await first.deploy({ app: 'shop', environment: 'staging', version: 'v-token' });
    const [app] = await appPids(urls);
    await first.close();
    const recordPath = join(versionFolder(stateDir, 'staging', 'v-token'), 'instance-0.json');
    /** what a controller killed between spawn and record leaves: the record written before the spawn */
    const forgetPid = async () => {
      const record = JSON.parse(await readFile(recordPath, 'utf8')) as Record<string, unknown>;
      expect(record.token).toEqual(expect.any(String));
      delete record.startTime;
      await writeFile(recordPath, JSON.stringify({ ...record, pid: null }));
    };

    await forgetPid();
    const second = target(spec({ instances: 1 }));
    expect(await second.deploy({ app: 'shop', environment: 'staging', version: 'v-token' })).toEqual({ version: 'v-token', urls });
    expect(await appPids(urls)).toEqual([app]);
    expect((JSON.parse(await readFile(recordPath, 'utf8')) as { pid: number | null }).pid).toEqual(expect.any(Number));
    await second.close();

    await forgetPid();
    const third = target(spec({ instances: 1 }));
    await third.teardown('v-token');
    await until('the unrecorded instance to be stopped', () => !alive(app as number));
    await expectNothingLeft(third, 'v-token');
  });

  it('drops a record written before a spawn that never happened', async () => {
    const folder = versionFolder(stateDir, 'staging', 'v-never');
    await mkdir(folder, { recursive: true });
    const pending = { format: 1, app: 'shop', environment: 'staging', version: 'v-never', index: 0, pid: null, token: 'no-such-token', port: 1, url: 'http://127.0.0.1:1', command: 'x', startedAt: new Date().toISOString(), restarts: 0, launch: { env: {} } };
    await writeFile(join(folder, 'instance-0.json'), JSON.stringify(pending));
    const t = target(spec({ instances: 1 }));
    expect(await t.instances('v-never')).toBeUndefined();
    await expectNothingLeft(t, 'v-never');
  });

  it('restarts an instance that crashes, with a new pid, and one that fails its liveness probes', async () => {
    const t = target(spec({ instances: 1 }), { livenessIntervalMs: 100, restartDelayMs: 100 });
    const { urls } = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-crash' });
    const [pid] = await pidsOf(t, 'v-crash');
    const [app] = await appPids(urls);
    // the app dies (the shell running it reports the exit)
    process.kill(app as number, 'SIGKILL');
    const restarted = await until('a restarted, ready instance', async () => {
      const [s] = (await t.status()).filter((x) => x.version === 'v-crash');
      return s?.state === 'ready' && s.pid !== pid ? s : undefined;
    });
    expect(restarted.restarts).toBe(1);
    expect(restarted.url).toBe(urls[0]);
    expect(await getStatus(`${urls[0]}/healthz`)).toBe(200);
    expect(alive(pid as number)).toBe(false);
    expect(await appPids(urls)).not.toEqual([app]);

    // an instance that runs but stops answering is restarted after 3 failed probes
    const response = await request(`${urls[0]}/sick`, { method: 'POST', reset: true });
    await response.body.dump();
    const healed = await until('the sick instance to be replaced', async () => {
      const [s] = (await t.status()).filter((x) => x.version === 'v-crash');
      return s?.state === 'ready' && s.pid !== restarted.pid ? s : undefined;
    });
    expect(healed.restarts).toBe(2);
    expect(alive(restarted.pid as number)).toBe(false);
    expect(await t.instances('v-crash')).toEqual({ version: 'v-crash', urls });
    await t.teardown('v-crash');
  });

  it('restarts a crashed instance it adopted from an earlier controller', async () => {
    const first = target(spec({ instances: 1 }));
    const { urls } = await first.deploy({ app: 'shop', environment: 'staging', version: 'v-adopt-crash', env: { FROM_REQUEST: 'recorded' } });
    await first.close();
    const second = target(spec({ instances: 1 }), { livenessIntervalMs: 100, restartDelayMs: 100 });
    expect(await second.instances('v-adopt-crash')).toEqual({ version: 'v-adopt-crash', urls });
    const [pid] = await pidsOf(second, 'v-adopt-crash');
    // the whole instance dies, shell and app: the new controller only sees its pid vanish
    process.kill(-(pid as number), 'SIGKILL');
    const restarted = await until('the adopted instance to be restarted', async () => {
      const [s] = (await second.status()).filter((x) => x.version === 'v-adopt-crash');
      return s?.state === 'ready' && s.pid !== pid ? s : undefined;
    });
    expect(restarted.restarts).toBe(1);
    // started again with the request's environment, read back from the record
    expect((await getJson<Echo>(`${urls[0]}/`)).body.env.FROM_REQUEST).toBe('recorded');
    await second.teardown('v-adopt-crash');
  });

  it('tears down with SIGTERM, keeps the logs and removes the records', async () => {
    const signals = join(stateDir, 'signals-graceful.txt');
    const t = target(spec({ env: { TARGET_APP_SIGNAL_FILE: signals, TARGET_APP_PIDS: pidsFile } }));
    const { urls } = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-term' });
    const leaders = await pidsOf(t, 'v-term');
    const pids = await appPids(urls);
    const started = Date.now();
    await t.teardown('v-term');
    expect(Date.now() - started).toBeLessThan(1_500);
    const lines = (await readFile(signals, 'utf8')).trim().split('\n').sort();
    expect(lines).toEqual(pids.map((pid, index) => `v-term ${index} ${pid} SIGTERM`).sort());
    for (const pid of leaders) expect(groupAlive(pid)).toBe(false);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    const folder = versionFolder(stateDir, 'staging', 'v-term');
    expect((await readdir(folder)).sort()).toEqual(['instance-0.log', 'instance-1.log']);
    expect(await readFile(join(folder, 'instance-0.log'), 'utf8')).toContain('got SIGTERM');
    expect(await t.instances('v-term')).toBeUndefined();
    expect((await t.status()).filter((s) => s.version === 'v-term')).toEqual([]);
    await t.teardown('v-term'); // idempotent
  });

  it('kills an instance that ignores SIGTERM once the drain timeout has passed', async () => {
    const signals = join(stateDir, 'signals-stubborn.txt');
    const t = target(spec({ instances: 1, drainTimeout: '700ms', env: { TARGET_APP_IGNORE_SIGTERM: '1', TARGET_APP_SIGNAL_FILE: signals, TARGET_APP_PIDS: pidsFile } }));
    const { urls } = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-stubborn' });
    const [pid] = await pidsOf(t, 'v-stubborn');
    const [app] = await appPids(urls);
    const started = Date.now();
    await t.teardown('v-stubborn');
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(650);
    expect(took).toBeLessThan(3_000);
    expect(await readFile(signals, 'utf8')).toBe(`v-stubborn 0 ${app} SIGTERM\n`);
    expect(groupAlive(pid as number)).toBe(false);
    expect(alive(app as number)).toBe(false);
  });

  it('a command that exits fails the deploy with the exit code and the log tail, and leaves nothing running', async () => {
    const t = target(spec({ env: { TARGET_APP_EXIT_CODE: '1', TARGET_APP_PIDS: pidsFile } }));
    const error = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-exit' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(PromoteError);
    const message = (error as Error).message;
    expect(message).toMatch(/^version v-exit: instance [01] \(pid \d+, port \d+\) exited with code 1 before it was ready/);
    expect(message).toMatch(/fatal: cannot open the database \(simulated\) in instance [01]/);
    expect(message).toContain('instance-');
    expect(message).not.toContain('--- promote:');
    await expectNothingLeft(t, 'v-exit');
  });

  it('readiness that never comes fails the deploy naming the timeout, and stops the instances', async () => {
    // 3 s: long enough for node to start and answer 503 even on a loaded machine, far below the app's 60 s
    const t = target(spec({ readiness: { path: '/healthz', timeout: '3s', interval: '50ms' }, env: { TARGET_APP_READY_DELAY_MS: '60000', TARGET_APP_PIDS: pidsFile } }));
    const before = await pidsIn(pidsFile);
    const started = Date.now();
    const error = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-slow' }).catch((e: unknown) => e);
    expect(Date.now() - started).toBeLessThan(8_000);
    const message = (error as Error).message;
    expect(message).toMatch(/instance [01] .* was not ready within the readiness timeout of 3s \(GET http:\/\/127\.0\.0\.1:\d+\/healthz: answered 503\)/);
    expect(message).toMatch(/listening on \d+/);
    expect((error as PromoteError).hint).toContain('readiness.timeout');
    const startedPids = (await pidsIn(pidsFile)).slice(before.length);
    expect(startedPids).toHaveLength(2);
    for (const pid of startedPids) expect(alive(pid)).toBe(false);
    await expectNothingLeft(t, 'v-slow');
  });

  it('a cancelled deploy stops what it started', async () => {
    const t = target(spec({ env: { TARGET_APP_READY_DELAY_MS: '60000', TARGET_APP_PIDS: pidsFile } }));
    const before = await pidsIn(pidsFile);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('rollout aborted by the operator')), 300);
    const error = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-cancel' }, controller.signal).catch((e: unknown) => e);
    expect((error as Error).message).toBe('deploying version v-cancel was cancelled: rollout aborted by the operator');
    for (const pid of (await pidsIn(pidsFile)).slice(before.length)) expect(alive(pid)).toBe(false);
    await expectNothingLeft(t, 'v-cancel');
  });

  it('createTarget picks the process target; a command that cannot start names what it was doing', async () => {
    const t = createTarget(spec({ instances: 1 }), { app: 'shop', environment: 'staging', stateDir, configDir: join(stateDir, 'no-such-folder') });
    opened.push({ target: t, versions: new Set(['v-nowhere']) });
    const error = await t.deploy({ app: 'shop', environment: 'staging', version: 'v-nowhere' }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/^starting instance 0 of version v-nowhere \(.* in .*no-such-folder\): .*ENOENT/);
    await expectNothingLeft(t, 'v-nowhere');
  });

  it('keeps environments apart and encodes odd version names as safe folder names', async () => {
    const t = target(spec({ instances: 1 }), {}, 'production');
    const { urls } = await t.deploy({ app: 'shop', environment: 'production', version: '../2.0/beta' });
    expect((await getJson<Echo>(`${urls[0]}/`)).body.env.PROMOTE_VERSION).toBe('../2.0/beta');
    expect(existsSync(join(stateDir, 'production', '%2E.%2F2.0%2Fbeta', 'instance-0.json'))).toBe(true);
    await expect(t.deploy({ app: 'shop', environment: 'staging', version: 'x' })).rejects.toThrow(/with the target of shop\/production/);
    await t.teardown('../2.0/beta');
  });
});

describe('process target with a controller in another process', () => {
  const viteNode = join(fixturesDir, '../../node_modules/vite-node/vite-node.mjs');
  const controllers: ChildProcess[] = [];
  afterAll(() => {
    for (const controller of controllers) controller.kill('SIGKILL');
  });

  /** Starts a controller process that deploys `request`; `output` resolves with what it printed. */
  function controller(targetSpec: ProcessTargetSpec, request: DeployRequest) {
    const input = { spec: targetSpec, options: { app: 'shop', environment: 'staging', stateDir, configDir: fixturesDir }, request };
    const child = spawn(process.execPath, [viteNode, join(fixturesDir, 'target-controller.ts'), JSON.stringify(input)], { stdio: ['ignore', 'pipe', 'inherit'] });
    controllers.push(child);
    const output = new Promise<{ result?: VersionInstances; error?: string }>((resolve, reject) => {
      let text = '';
      child.stdout?.on('data', (chunk: Buffer) => {
        text += chunk.toString();
        if (text.includes('\n')) resolve(JSON.parse(text.slice(0, text.indexOf('\n'))) as { result?: VersionInstances; error?: string });
      });
      child.once('exit', (code) => reject(new Error(`the controller exited with ${code} before it printed a result`)));
    });
    output.catch(() => undefined); // a controller killed on purpose never prints
    return { child, output };
  }

  it('instances outlive a SIGKILLed controller, and the next controller adopts them', async () => {
    const running = controller(spec(), { app: 'shop', environment: 'staging', version: 'v-outlive', env: { FROM_REQUEST: 'first' } });
    const { result } = await running.output;
    expect(result?.urls).toHaveLength(2);
    const urls = result?.urls ?? [];
    const apps = await appPids(urls);
    running.child.kill('SIGKILL');
    await until('the controller to be gone', () => running.child.exitCode !== null || running.child.signalCode !== null);
    for (const url of urls) expect(await getStatus(`${url}/healthz`)).toBe(200);

    const next = target(spec());
    expect(await next.instances('v-outlive')).toEqual({ version: 'v-outlive', urls });
    expect(await next.deploy({ app: 'shop', environment: 'staging', version: 'v-outlive' })).toEqual({ version: 'v-outlive', urls });
    expect(await appPids(urls)).toEqual(apps);
    await next.teardown('v-outlive');
    for (const pid of apps) expect(alive(pid)).toBe(false);
  });

  it('a controller killed in the middle of a deploy leaves instances that the next deploy adopts instead of doubling', async () => {
    const slowSpec = spec({ env: { TARGET_APP_READY_DELAY_MS: '1500', TARGET_APP_PIDS: pidsFile } });
    const before = (await pidsIn(pidsFile)).length;
    const running = controller(slowSpec, { app: 'shop', environment: 'staging', version: 'v-midway' });
    const folder = versionFolder(stateDir, 'staging', 'v-midway');
    await until('both instance records', async () => existsSync(folder) && (await readdir(folder)).filter((name) => name.endsWith('.json')).length === 2);
    running.child.kill('SIGKILL');

    const next = target(slowSpec);
    const deployed = await next.deploy({ app: 'shop', environment: 'staging', version: 'v-midway' });
    expect(deployed.urls).toHaveLength(2);
    expect((await pidsIn(pidsFile)).length).toBe(before + 2);
    expect((await next.status()).filter((s) => s.version === 'v-midway').map((s) => [s.state, s.restarts])).toEqual([
      ['ready', 0],
      ['ready', 0],
    ]);
    await next.teardown('v-midway');
  });
});

async function expectNothingLeft(t: Target, version: string): Promise<void> {
  expect(await t.instances(version)).toBeUndefined();
  expect((await t.status()).filter((s) => s.version === version)).toEqual([]);
  const folder = versionFolder(stateDir, 'staging', version);
  const files = existsSync(folder) ? await readdir(folder) : [];
  expect(files.filter((name) => name.endsWith('.json'))).toEqual([]);
}
