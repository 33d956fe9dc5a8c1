import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scratchFolder } from '../../../test/helpers/scratch.js';
import { isRunning } from '../../system/processes.js';

const processAlive = (pid: number) => Promise.resolve(isRunning(pid));
import { runTest, type TestContext, type TestResult, type TestStep } from './run-test.js';

const fixtures = fileURLToPath(new URL('../../../test/fixtures/', import.meta.url));
const processTree = join(fixtures, 'tests-process-tree.sh');

let folder: string;
beforeAll(async () => {
  folder = await scratchFolder('promote-run-test-');
});

function commandStep(run: string, extra: Record<string, unknown> = {}): TestStep {
  return { name: 'smoke', run, timeout: 20_000, ...extra };
}

function httpStep(http: Record<string, unknown>, extra: Record<string, unknown> = {}): TestStep {
  return { name: 'health', http: { method: 'GET', expectStatus: 200, ...http }, timeout: 10_000, ...extra } as TestStep;
}

function context(fields: Partial<TestContext> = {}): TestContext {
  return { app: 'orders', environment: 'staging', version: 'v2', urls: ['http://127.0.0.1:1'], cwd: folder, ...fields };
}

async function waitForFile(path: string): Promise<string> {
  for (let attempt = 0; attempt < 400; attempt += 1) {
    if (existsSync(path)) return readFile(path, 'utf8');
    await sleep(25);
  }
  throw new Error(`${path} never appeared`);
}

/** Evidence is stored as JSON: it must come back unchanged. */
function expectJsonSafe(result: TestResult): void {
  expect(JSON.parse(JSON.stringify(result))).toEqual(result);
}

let counter = 0;
function scratchPath(name: string): string {
  counter += 1;
  return join(folder, `${counter}-${name}`);
}

describe('runTest with a command', () => {
  it('passes when the command exits 0', async () => {
    const result = await runTest(commandStep('echo hello; echo world >&2'), context());
    expect(result).toMatchObject({
      name: 'smoke',
      passed: true,
      summary: 'command passed (exit code 0)',
      command: { exitCode: 0, signal: null, timedOut: false, outputTail: 'hello\nworld', outputLines: 2 },
    });
    expect(result.durationMs).toBeGreaterThanOrEqual(0);
    expectJsonSafe(result);
  });

  it('fails with the exit code and the last output line in the summary', async () => {
    const result = await runTest(commandStep('echo "running 3 checks"; echo "orders: expected 201, got 500" >&2; exit 3'), context());
    expect(result.passed).toBe(false);
    expect(result.summary).toBe('command exited with code 3: orders: expected 201, got 500');
    expect(result.command?.exitCode).toBe(3);
    expectJsonSafe(result);
  });

  it('says so when the command was killed by a signal', async () => {
    const result = await runTest(commandStep('kill -KILL $$'), context());
    expect(result).toMatchObject({ passed: false, summary: 'command was killed by SIGKILL', command: { exitCode: null, signal: 'SIGKILL' } });
  });

  it('gives the command the version, its URLs, the extra environment and the folder of promote.yaml', async () => {
    const urls = ['http://127.0.0.1:5001', 'http://127.0.0.1:5002/app'];
    const run = 'printf "%s\\n" "$PROMOTE_URL" "$PROMOTE_URLS" "$PROMOTE_VERSION" "$PROMOTE_ENVIRONMENT" "$PROMOTE_APP" "$EXTRA" "$(pwd)" "$PATH"; case "$PROMOTE_JUNIT" in /*.xml) echo junit-ok;; esac';
    const result = await runTest(commandStep(run), context({ urls, env: { EXTRA: 'from the engine', PROMOTE_VERSION: 'not this one' } }));
    expect(result.command?.outputTail.split('\n')).toEqual([
      'http://127.0.0.1:5001',
      'http://127.0.0.1:5001 http://127.0.0.1:5002/app',
      'v2',
      'staging',
      'orders',
      'from the engine',
      folder,
      process.env.PATH,
      'junit-ok',
    ]);
  });

  it('keeps only the tail of a command that prints 100k lines', async () => {
    const result = await runTest(commandStep('seq 1 100000; echo done >&2'), context());
    const lines = result.command?.outputTail.split('\n') ?? [];
    expect(result.passed).toBe(true);
    expect(result.command?.outputLines).toBe(100_001);
    expect(lines).toHaveLength(50);
    expect(lines[0]).toBe('99952');
    expect(lines.at(-1)).toBe('done');
  });

  it('keeps memory bounded for 64 MB of output on one line', async () => {
    const before = process.memoryUsage();
    const result = await runTest(commandStep('head -c 67108864 /dev/zero | tr "\\0" x'), context());
    const after = process.memoryUsage();
    expect(result.passed).toBe(true);
    expect(result.command?.outputTail).toBe(`${'x'.repeat(1000)}… (${64 * 1024 * 1024 - 1000} more characters)`);
    // holding the output would take 64 MB (128 MB as a JS string); the tail keeps about 1 KB
    expect(after.heapUsed - before.heapUsed).toBeLessThan(48 * 1024 * 1024);
  });

  it('times out: SIGTERM to the whole process group, SIGKILL after the grace period for what ignores it', async () => {
    const pidFile = scratchPath('grandchild.pid');
    const runs = runTest(commandStep(`sh ${processTree} ${pidFile} ignore-term`, { timeout: 600 }), context(), { killGraceMs: 400 });
    const grandchild = Number(await waitForFile(pidFile));
    expect(await processAlive(grandchild)).toBe(true);
    const result = await runs;
    expect(result).toMatchObject({ passed: false, summary: 'timed out after 600ms; the command and its child processes were stopped', command: { timedOut: true } });
    expect(await processAlive(grandchild)).toBe(false);
    expect(result.durationMs).toBeGreaterThanOrEqual(950);
    expect(result.command?.outputTail).toContain('started grandchild');
    expectJsonSafe(result);
  });

  it('waits 5 seconds by default before SIGKILL', async () => {
    const pidFile = scratchPath('grandchild.pid');
    const result = await runTest(commandStep(`sh ${processTree} ${pidFile} ignore-term`, { timeout: 300 }), context());
    const grandchild = Number(await readFile(pidFile, 'utf8'));
    expect(result.command?.timedOut).toBe(true);
    expect(result.durationMs).toBeGreaterThanOrEqual(5300);
    expect(result.durationMs).toBeLessThan(9000);
    expect(await processAlive(grandchild)).toBe(false);
  });

  it('does not wait for the grace period when the group obeys SIGTERM', async () => {
    const pidFile = scratchPath('grandchild.pid');
    const result = await runTest(commandStep(`sh ${processTree} ${pidFile}`, { timeout: 300 }), context());
    expect(result.command?.timedOut).toBe(true);
    expect(result.durationMs).toBeLessThan(2500);
    expect(await processAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('stops what the command left running when it exits, without waiting for it', async () => {
    const pidFile = scratchPath('grandchild.pid');
    const result = await runTest(commandStep(`sh ${processTree} ${pidFile} obey exit`), context());
    expect(result.passed).toBe(true);
    expect(result.durationMs).toBeLessThan(3000);
    expect(await processAlive(Number(await readFile(pidFile, 'utf8')))).toBe(false);
  });

  it('stops the command and its children when the rollout is aborted', async () => {
    const pidFile = scratchPath('grandchild.pid');
    const controller = new AbortController();
    const runs = runTest(commandStep(`sh ${processTree} ${pidFile}`), context({ signal: controller.signal }));
    const grandchild = Number(await waitForFile(pidFile));
    controller.abort();
    const result = await runs;
    expect(result).toMatchObject({ passed: false, aborted: true, summary: 'aborted while the test ran: the command and its child processes were stopped' });
    expect(result.command?.timedOut).toBe(false);
    expect(result.durationMs).toBeLessThan(3000);
    expect(await processAlive(grandchild)).toBe(false);
  });

  it('starts nothing when already aborted', async () => {
    const marker = scratchPath('ran');
    const result = await runTest(commandStep(`touch ${marker}`), context({ signal: AbortSignal.abort() }));
    expect(result).toMatchObject({ passed: false, aborted: true, summary: 'aborted before the test started' });
    expect(existsSync(marker)).toBe(false);
  });

  it('fails clearly when the folder does not exist', async () => {
    const missing = join(folder, 'no-such-folder');
    const result = await runTest(commandStep('true'), context({ cwd: missing }));
    expect(result.passed).toBe(false);
    expect(result.summary).toMatch(new RegExp(`^could not start the command: the working folder ${missing} cannot be used: .*ENOENT`));
  });
});

describe('runTest with JUnit reports', () => {
  const fixture = (name: string) => join(fixtures, name);

  it('fails on JUnit failures even when the command exits 0', async () => {
    const result = await runTest(commandStep(`cp ${fixture('tests-junit-pytest.xml')} "$PROMOTE_JUNIT"`), context());
    expect(result.passed).toBe(false);
    expect(result.command?.exitCode).toBe(0);
    expect(result.junit).toMatchObject({ tests: 6, failures: 1, errors: 1, skipped: 2 });
    expect(result.summary).toBe('1 failed and 1 errored of 6 JUnit tests: tests.test_api › test_create_order: assert 500 == 201 + where 500 = <Response [500]>.status_code (and 1 more)');
    expectJsonSafe(result);
  });

  it('names both the exit code and the failed tests', async () => {
    const result = await runTest(commandStep(`cp ${fixture('tests-junit-jest.xml')} "$PROMOTE_JUNIT"; exit 1`), context());
    expect(result.summary).toBe(
      'command exited with code 1; 1 failed of 5 JUnit tests: orders api rejects a negative total › orders api rejects a negative total: Error: expect(received).toBe(expected) // Object.is equality',
    );
  });

  it('passes with a passing report and says how many ran', async () => {
    const report = '<testsuites><testsuite name="s"><testcase name="a"/><testcase name="b"/><testcase name="c"><skipped/></testcase></testsuite></testsuites>';
    const result = await runTest(commandStep(`printf '%s' '${report}' > "$PROMOTE_JUNIT"`), context());
    expect(result).toMatchObject({ passed: true, summary: 'command passed (exit code 0); 3 JUnit tests passed, 1 skipped', junit: { tests: 3, skipped: 1 } });
  });

  it('fails on a malformed report, naming the file and the position', async () => {
    const result = await runTest(commandStep(`cp ${fixture('tests-junit-malformed.xml')} "$PROMOTE_JUNIT"; echo "$PROMOTE_JUNIT"`), context());
    const reportPath = result.command?.outputTail ?? '';
    expect(result.passed).toBe(false);
    expect(result.junit).toBeUndefined();
    expect(result.summary).toBe(`JUnit report ${reportPath} is malformed: line 5, column 3: expected </testcase> (opened at line 3, column 3), found </testsuite>`);
    // the scratch report folder is gone
    expect(existsSync(reportPath)).toBe(false);
  });

  it('reads the proposed junit field, relative to the folder of promote.yaml, and ignores a stale report', async () => {
    const cwd = scratchPath('project');
    await mkdir(join(cwd, 'reports'), { recursive: true });
    await writeFile(join(cwd, 'reports', 'junit.xml'), await readFile(fixture('tests-junit-pytest.xml')));
    const stale = await runTest(commandStep('echo "not writing a report"', { junit: 'reports/junit.xml' }), context({ cwd }));
    expect(stale).toMatchObject({ passed: false, summary: `the command wrote no JUnit report to ${join(cwd, 'reports', 'junit.xml')}` });
    const fresh = await runTest(commandStep(`test "$PROMOTE_JUNIT" = "$PWD/reports/junit.xml" && cp ${fixture('tests-junit-jest.xml')} "$PROMOTE_JUNIT"`, { junit: 'reports/junit.xml' }), context({ cwd }));
    expect(fresh.junit).toMatchObject({ tests: 5, failures: 1 });
  });

  it('reads every new .xml file of a report folder (Surefire style)', async () => {
    const cwd = scratchPath('maven');
    await mkdir(join(cwd, 'target', 'surefire-reports'), { recursive: true });
    await writeFile(join(cwd, 'target', 'surefire-reports', 'TEST-Old.xml'), '<testsuite><testcase name="old"><failure/></testcase></testsuite>');
    const run = `cp ${fixture('tests-junit-surefire.xml')} target/surefire-reports/TEST-A.xml && cp ${fixture('tests-junit-jest.xml')} target/surefire-reports/TEST-B.xml`;
    const result = await runTest(commandStep(run, { junit: 'target/surefire-reports' }), context({ cwd }));
    expect(result.junit).toMatchObject({ tests: 10, failures: 2, errors: 1, skipped: 2 });
    expect(result.junit?.failed.map((failed) => failed.name)).toEqual(['rejectsNegativeTotal', 'connectsToDatabase', 'orders api rejects a negative total']);
  });

  it('refuses a proposed field of the wrong type', async () => {
    const result = await runTest(commandStep('true', { junit: 42 }), context());
    expect(result).toMatchObject({ passed: false, summary: 'invalid test step smoke: junit must be a path' });
  });
});

interface Instance {
  url: string;
  requests: Array<{ method: string; url: string; body: string; contentType: string | undefined }>;
  close(): Promise<void>;
}

async function startInstance(options: { failing?: boolean; version?: string } = {}): Promise<Instance> {
  const requests: Instance['requests'] = [];
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      requests.push({ method: request.method ?? '', url: request.url ?? '', body, contentType: request.headers['content-type'] });
      const path = (request.url ?? '/').replace(/^\/app/, '');
      if (path === '/slow') return; // never answers
      if (path === '/huge') {
        response.writeHead(200, { 'content-type': 'application/json' });
        response.end(`{"pad":"${'x'.repeat(2 * 1024 * 1024)}"}`);
        return;
      }
      const status = path === '/fail' && options.failing === true ? 500 : path === '/created' ? 201 : 200;
      const payload = status === 500 ? { status: 'down', error: 'database unavailable' } : { status: 'up', version: options.version ?? 'v2', items: [{ id: 7 }, { id: 8 }], echo: { method: request.method, body } };
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(payload));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port nobody listens on: bound once, then closed. */
async function closedPortUrl(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return `http://127.0.0.1:${port}`;
}

describe('runTest with an HTTP check', () => {
  let instances: Instance[];
  let urls: string[];
  beforeAll(async () => {
    instances = [await startInstance(), await startInstance({ failing: true }), await startInstance()];
    urls = instances.map((instance) => instance.url);
  });
  afterAll(async () => {
    await Promise.all(instances.map((instance) => instance.close()));
  });

  it('passes when every instance answers the expected status', async () => {
    const result = await runTest(httpStep({ path: '/healthz' }), context({ urls }));
    expect(result.passed).toBe(true);
    expect(result.summary).toBe('GET /healthz: 3 of 3 instances answered as expected');
    expect(result.http?.map((check) => [check.url, check.status, check.passed])).toEqual(urls.map((url) => [`${url}/healthz`, 200, true]));
    for (const instance of instances) expect(instance.requests.at(-1)).toMatchObject({ method: 'GET', url: '/healthz' });
    expectJsonSafe(result);
  });

  it('fails naming the instance that answered 500', async () => {
    const result = await runTest(httpStep({ path: '/fail' }), context({ urls }));
    expect(result.passed).toBe(false);
    expect(result.summary).toBe(`GET /fail: 1 of 3 instances failed: ${urls[1]}/fail answered 500, expected 200`);
    expect(result.http?.[1]).toMatchObject({ status: 500, expected: 200, passed: false, bodyExcerpt: '{"status":"down","error":"database unavailable"}' });
    expect(result.http?.[0]).toMatchObject({ status: 200, passed: true });
    expect(result.http?.[0]?.bodyExcerpt).toBeUndefined();
  });

  it('fails with the connection error of an instance that is not listening', async () => {
    const down = await closedPortUrl();
    const result = await runTest(httpStep({ path: '/healthz' }), context({ urls: [urls[0] ?? '', down] }));
    expect(result.passed).toBe(false);
    expect(result.http?.[1]).toMatchObject({ url: `${down}/healthz`, status: null, passed: false });
    expect(result.http?.[1]?.error).toMatch(/ECONNREFUSED/);
    expect(result.summary).toMatch(new RegExp(`^GET /healthz: 1 of 2 instances failed: ${down}/healthz: .*ECONNREFUSED`));
  });

  it('checks JSON paths in the answer', async () => {
    const pass = await runTest(httpStep({ path: '/healthz', expectJson: { '$.status': 'up', 'items[1].id': 8, items: [{ id: 7 }, { id: 8 }] } }), context({ urls }));
    expect(pass.passed).toBe(true);
    expect(pass.http?.[0]?.jsonChecks).toEqual([
      { path: '$.status', expected: 'up', actual: 'up', passed: true },
      { path: 'items[1].id', expected: 8, actual: 8, passed: true },
      { path: 'items', expected: [{ id: 7 }, { id: 8 }], actual: [{ id: 7 }, { id: 8 }], passed: true },
    ]);

    const fail = await runTest(httpStep({ path: '/healthz', expectJson: { '$.version': 'v3', '$.missing': 1 } }), context({ urls: [urls[0] ?? ''] }));
    expect(fail.passed).toBe(false);
    expect(fail.http?.[0]?.jsonChecks).toEqual([
      { path: '$.version', expected: 'v3', actual: 'v2', passed: false },
      { path: '$.missing', expected: 1, actual: null, passed: false, error: 'nothing at this path' },
    ]);
    expect(fail.summary).toBe(`GET /healthz: ${urls[0]}/healthz $.version is "v2", expected "v3"`);
    expectJsonSafe(fail);
  });

  it('reports an answer that is not JSON, or too large to check', async () => {
    const huge = await runTest(httpStep({ path: '/huge', expectJson: { pad: 'x' } }), context({ urls: [urls[0] ?? ''] }));
    expect(huge.passed).toBe(false);
    expect(huge.summary).toBe(`GET /huge: ${urls[0]}/huge the body is larger than 1048576 bytes, too large to check as JSON`);
    expect(huge.http?.[0]?.bodyExcerpt).toHaveLength(300);
  });

  it('checks a substring of the body', async () => {
    expect((await runTest(httpStep({ path: '/healthz', expectBody: '"status":"up"' }), context({ urls }))).passed).toBe(true);
    const fail = await runTest(httpStep({ path: '/healthz', expectBody: 'ready' }), context({ urls: [urls[2] ?? ''] }));
    expect(fail).toMatchObject({ passed: false, summary: `GET /healthz: ${urls[2]}/healthz the body does not contain "ready"` });
    expect(fail.http?.[0]?.error).toBe('the body does not contain "ready"');
  });

  it('sends the method and body, and compares another expected status', async () => {
    const result = await runTest(httpStep({ path: '/created', method: 'POST', body: '{"total":10}', expectStatus: 201, expectJson: { '$.echo': { method: 'POST', body: '{"total":10}' } } }), context({ urls }));
    expect(result.passed).toBe(true);
    expect(instances[0]?.requests.at(-1)).toEqual({ method: 'POST', url: '/created', body: '{"total":10}', contentType: 'application/json' });
    const text = await runTest(httpStep({ path: '/created', method: 'PUT', body: 'plain', expectStatus: 201, headers: { 'X-Trace': 'abc' } }), context({ urls: [urls[0] ?? ''] }));
    expect(text.passed).toBe(true);
    expect(instances[0]?.requests.at(-1)).toMatchObject({ method: 'PUT', body: 'plain', contentType: 'text/plain; charset=utf-8' });
  });

  it('keeps the path prefix of an instance URL', async () => {
    const result = await runTest(httpStep({ path: '/healthz?full=1' }), context({ urls: [`${urls[0]}/app/`] }));
    expect(result.passed).toBe(true);
    expect(instances[0]?.requests.at(-1)?.url).toBe('/app/healthz?full=1');
  });

  it('times out an instance that does not answer', async () => {
    const result = await runTest(httpStep({ path: '/slow' }, { timeout: 300 }), context({ urls }));
    expect(result.passed).toBe(false);
    expect(result.http?.every((check) => check.status === null && check.error === 'no complete answer within 300ms')).toBe(true);
    expect(result.summary).toBe(`GET /slow: 3 of 3 instances failed: ${urls.map((url) => `${url}/slow: no complete answer within 300ms`).join('; ')}`);
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('stops its requests when the rollout is aborted', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 150);
    const result = await runTest(httpStep({ path: '/slow' }), context({ urls, signal: controller.signal }));
    expect(result).toMatchObject({ passed: false, aborted: true, summary: 'aborted while the test ran: its requests were cancelled' });
    expect(result.http?.[0]?.error).toBe('aborted');
    expect(result.durationMs).toBeLessThan(2000);
  });

  it('fails when the version has no instances', async () => {
    const result = await runTest(httpStep({ path: '/healthz' }), context({ urls: [] }));
    expect(result).toMatchObject({ passed: false, summary: 'GET /healthz: the version has no instance URLs to test' });
  });

  it('refuses response checks of the wrong shape', async () => {
    const result = await runTest(httpStep({ path: '/healthz', expectJson: ['status'] }), context({ urls }));
    expect(result).toMatchObject({ passed: false, summary: 'invalid test step health: expectJson must map JSON paths to expected values' });
  });

  it('reports an invalid JSON path as a failed check', async () => {
    const result = await runTest(httpStep({ path: '/healthz', expectJson: { '$..status': 'up' } }), context({ urls: [urls[0] ?? ''] }));
    expect(result.passed).toBe(false);
    expect(result.http?.[0]?.jsonChecks?.[0]).toMatchObject({ path: '$..status', passed: false, error: 'invalid JSON path "$..status": expected a key name at character 3' });
  });
});
