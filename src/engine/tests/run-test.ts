/**
 * The `test` step: a command or an HTTP check run against ONE version, at its instances' own URLs,
 * before that version takes traffic. The result is plain JSON, stored as the step's evidence; its
 * `summary` is the one line a rollout shows as the reason it stopped.
 *
 * runTest never throws for anything the test or the system under test does: a command that cannot
 * start, a refused connection, a malformed JUnit report all come back as a failed result.
 */
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { describeCause, redactSecrets } from '../../errors.js';
import type { Logger } from '../../log.js';
import { formatDuration } from '../../spec/duration.js';
import type { TestStepSpec } from '../../spec/schema-steps.js';
import { runCommand, type CommandOutcome } from './command.js';
import { describeHttpFailure, runHttpChecks, type HttpCheckResult, type HttpCheckSpec } from './http-check.js';
import { describeJUnit, readJUnitFiles, reportsInFolder, type JUnitSummary } from './junit.js';

export type { HttpCheckResult, JsonCheckResult } from './http-check.js';
export type { JUnitFailedCase, JUnitSummary } from './junit.js';

/** Fields not (yet) in the promote.yaml schema that runTest already honours when present. */
export interface ProposedHttpFields {
  headers?: Record<string, string>;
  expectBody?: string;
  expectJson?: Record<string, unknown>;
}
export interface ProposedTestFields {
  /** where the command writes JUnit XML (a file, or a folder of .xml files), relative to cwd; PROMOTE_JUNIT points there */
  junit?: string;
  http?: NonNullable<TestStepSpec['http']> & ProposedHttpFields;
}
export type TestStep = TestStepSpec | (Omit<TestStepSpec, 'http'> & ProposedTestFields);

export interface TestContext {
  app: string;
  environment: string;
  version: string;
  /** base URLs of the version's instances; HTTP checks go to each of them */
  urls: string[];
  /** the folder of promote.yaml */
  cwd: string;
  /** extra environment for the command */
  env?: Record<string, string>;
  /** abort (rollout aborted): kill the command, stop requests */
  signal?: AbortSignal;
}

export interface CommandResult {
  exitCode: number | null;
  signal: string | null;
  timedOut: boolean;
  /** the last lines of stdout and stderr, interleaved, terminal escapes removed */
  outputTail: string;
  /** how many lines the command printed in all */
  outputLines: number;
}

export interface TestResult {
  name: string;
  passed: boolean;
  durationMs: number;
  /** one line saying why it failed (or what passed), for the rollout's phase reason */
  summary: string;
  /** the rollout was aborted while the test ran */
  aborted?: boolean;
  command?: CommandResult;
  http?: HttpCheckResult[];
  /** when the command wrote JUnit XML */
  junit?: JUnitSummary;
}

export interface RunTestOptions {
  /** between SIGTERM and SIGKILL when a command is stopped; 5 s */
  killGraceMs?: number;
  /** lines of output kept in outputTail; 50 */
  outputLines?: number;
  logger?: Logger;
}

const defaultTimeoutMs = 5 * 60_000;
const maxSummaryLength = 500;

export async function runTest(step: TestStep, context: TestContext, options: RunTestOptions = {}): Promise<TestResult> {
  const started = performance.now();
  const finish = (fields: Omit<TestResult, 'name' | 'durationMs'>): TestResult => {
    const result: TestResult = { name: step.name, ...fields, durationMs: Math.round(performance.now() - started) };
    result.summary = oneLine(result.summary);
    options.logger?.debug({ test: step.name, version: context.version, passed: result.passed, durationMs: result.durationMs }, `test ${step.name}: ${result.summary}`);
    return result;
  };
  const fields = readProposedFields(step);
  if (typeof fields === 'string') return finish({ passed: false, summary: `invalid test step ${step.name}: ${fields}` });
  const timeoutMs = typeof step.timeout === 'number' && Number.isFinite(step.timeout) && step.timeout > 0 ? step.timeout : defaultTimeoutMs;
  if (step.run === undefined && fields.http === undefined) return finish({ passed: false, summary: `test ${step.name} has neither run nor http` });
  if (context.signal?.aborted) return finish({ passed: false, aborted: true, summary: 'aborted before the test started' });
  options.logger?.debug({ test: step.name, version: context.version, urls: context.urls.map(redactSecrets) }, `test ${step.name} starting`);

  const result: Omit<TestResult, 'name' | 'durationMs'> = { passed: true, summary: '' };
  const summaries: string[] = [];
  if (step.run !== undefined) {
    const command = await runTestCommand(step.run, fields.junit, timeoutMs, context, options);
    Object.assign(result, command.fields);
    summaries.push(command.summary);
  }
  if (fields.http !== undefined && result.passed) {
    const remaining = Math.max(1, timeoutMs - (performance.now() - started));
    const http = await runHttp(fields.http, remaining, context);
    result.http = http.results;
    if (http.aborted) result.aborted = true;
    if (!http.passed) result.passed = false;
    summaries.push(http.summary);
  }
  if (result.aborted === true) {
    result.passed = false;
    result.summary = `aborted while the test ran: ${step.run !== undefined ? 'the command and its child processes were stopped' : 'its requests were cancelled'}`;
  } else {
    // http runs only after the command passed, so a failure is always the last part
    result.summary = result.passed ? summaries.join('; ') : (summaries.at(-1) ?? 'failed');
  }
  return finish(result);
}

type Proposed = { junit?: string; http?: HttpCheckSpec };

/** The step's proposed fields, checked by hand since the schema does not know them yet; a string is a problem. */
function readProposedFields(step: TestStep): Proposed | string {
  const raw = step as Record<string, unknown>;
  const out: Proposed = {};
  if (raw.junit !== undefined) {
    if (typeof raw.junit !== 'string' || raw.junit === '') return 'junit must be a path';
    out.junit = raw.junit;
  }
  if (raw.http === undefined) return out;
  const http = raw.http as Record<string, unknown>;
  if (typeof http !== 'object' || http === null) return 'http must be an object';
  if (typeof http.path !== 'string' || !http.path.startsWith('/')) return 'http.path must start with /';
  const spec: HttpCheckSpec = {
    path: http.path,
    method: typeof http.method === 'string' ? http.method : 'GET',
    expectStatus: typeof http.expectStatus === 'number' ? http.expectStatus : 200,
  };
  if (http.body !== undefined) {
    if (typeof http.body !== 'string') return 'http.body must be text';
    spec.body = http.body;
  }
  // the response checks: inside http, or (tolerated) beside it on the step
  const expectBody = http.expectBody ?? raw.expectBody;
  if (expectBody !== undefined) {
    if (typeof expectBody !== 'string') return 'expectBody must be text';
    spec.expectBody = expectBody;
  }
  const expectJson = http.expectJson ?? raw.expectJson;
  if (expectJson !== undefined) {
    if (!isPlainObject(expectJson)) return 'expectJson must map JSON paths to expected values';
    spec.expectJson = expectJson;
  }
  if (http.headers !== undefined) {
    if (!isPlainObject(http.headers) || !Object.values(http.headers).every((value) => typeof value === 'string')) return 'http.headers must map names to text';
    spec.headers = http.headers as Record<string, string>;
  }
  out.http = spec;
  return out;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

async function runHttp(spec: HttpCheckSpec, timeoutMs: number, context: TestContext): Promise<{ passed: boolean; aborted: boolean; results: HttpCheckResult[]; summary: string }> {
  if (context.urls.length === 0) return { passed: false, aborted: false, results: [], summary: `${spec.method} ${spec.path}: the version has no instance URLs to test` };
  const { results, aborted } = await runHttpChecks(spec, context.urls, { timeoutMs, signal: context.signal });
  const passed = !aborted && results.every((result) => result.passed);
  return { passed, aborted, results, summary: describeHttpFailure(spec, results) };
}

type FileSignature = string;
type ReportState = { kind: 'missing' } | { kind: 'file'; signature: FileSignature } | { kind: 'folder'; files: Map<string, FileSignature> };

async function reportState(path: string): Promise<ReportState> {
  try {
    const info = await stat(path);
    if (!info.isDirectory()) return { kind: 'file', signature: `${info.ino}:${info.size}:${info.mtimeMs}` };
    const files = new Map<string, FileSignature>();
    for (const file of await reportsInFolder(path)) {
      const fileInfo = await stat(file).catch(() => undefined);
      if (fileInfo?.isFile()) files.set(file, `${fileInfo.ino}:${fileInfo.size}:${fileInfo.mtimeMs}`);
    }
    return { kind: 'folder', files };
  } catch {
    return { kind: 'missing' };
  }
}

/** The report files written (or rewritten) since `before`: old reports left from an earlier run never count. */
function freshReports(path: string, before: ReportState, after: ReportState): string[] {
  if (after.kind === 'file') return before.kind === 'file' && before.signature === after.signature ? [] : [path];
  if (after.kind === 'folder') {
    const old = before.kind === 'folder' ? before.files : new Map<string, FileSignature>();
    return [...after.files].filter(([file, signature]) => old.get(file) !== signature).map(([file]) => file);
  }
  return [];
}

async function runTestCommand(
  run: string,
  junitField: string | undefined,
  timeoutMs: number,
  context: TestContext,
  options: RunTestOptions,
): Promise<{ fields: Omit<TestResult, 'name' | 'durationMs' | 'summary'>; summary: string }> {
  let scratch: string | undefined;
  try {
    let junitPath: string;
    if (junitField !== undefined) {
      junitPath = isAbsolute(junitField) ? junitField : resolve(context.cwd, junitField);
    } else {
      scratch = await mkdtemp(join(tmpdir(), 'promote-test-'));
      junitPath = join(scratch, 'junit.xml');
    }
    const before = await reportState(junitPath);
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...context.env,
      PROMOTE_APP: context.app,
      PROMOTE_ENVIRONMENT: context.environment,
      PROMOTE_VERSION: context.version,
      PROMOTE_URL: context.urls[0] ?? '',
      PROMOTE_URLS: context.urls.join(' '),
      PROMOTE_JUNIT: junitPath,
    };
    const outcome = await runCommand({
      command: run,
      cwd: context.cwd,
      env,
      timeoutMs,
      signal: context.signal,
      killGraceMs: options.killGraceMs,
      tail: { maxLines: options.outputLines ?? 50 },
    });
    const command: CommandResult = {
      exitCode: outcome.exitCode,
      signal: outcome.signal,
      timedOut: outcome.timedOut,
      outputTail: redactSecrets(outcome.outputTail),
      outputLines: outcome.outputLines,
    };

    let junit: JUnitSummary | undefined;
    let junitProblem: string | undefined;
    if (!outcome.aborted && outcome.startError === undefined) {
      const reports = freshReports(junitPath, before, await reportState(junitPath));
      if (reports.length > 0) {
        const read = await readJUnitFiles(reports);
        if (read.ok) junit = read.summary;
        else junitProblem = read.problem;
      } else if (junitField !== undefined && outcome.exitCode === 0) {
        junitProblem = `the command wrote no JUnit report to ${junitPath}`;
      }
    }
    const commandPassed = outcome.exitCode === 0 && !outcome.timedOut && !outcome.aborted && outcome.startError === undefined;
    const junitPassed = junitProblem === undefined && (junit === undefined || junit.failures + junit.errors === 0);
    const fields: Omit<TestResult, 'name' | 'durationMs' | 'summary'> = { passed: commandPassed && junitPassed, command };
    if (outcome.aborted) fields.aborted = true;
    if (junit !== undefined) fields.junit = junit;
    return { fields, summary: commandSummary(outcome, command, timeoutMs, junit, junitProblem) };
  } catch (error) {
    return { fields: { passed: false }, summary: `could not run the test command: ${describeCause(error)}` };
  } finally {
    if (scratch !== undefined) await rm(scratch, { recursive: true, force: true }).catch(() => undefined);
  }
}

function commandSummary(outcome: CommandOutcome, command: CommandResult, timeoutMs: number, junit: JUnitSummary | undefined, junitProblem: string | undefined): string {
  if (outcome.aborted) return 'aborted: the command and its child processes were stopped';
  if (outcome.startError !== undefined) return `could not start the command: ${outcome.startError}`;
  const parts: string[] = [];
  const junitFailed = junit !== undefined && junit.failures + junit.errors > 0;
  if (outcome.timedOut) {
    parts.push(`timed out after ${formatDuration(Math.round(timeoutMs))}; the command and its child processes were stopped`);
  } else if (outcome.exitCode !== 0) {
    const how = outcome.exitCode === null ? `command was killed by ${outcome.signal ?? 'a signal'}` : `command exited with code ${outcome.exitCode}`;
    const last = lastLine(command.outputTail);
    // the runner's own words are the best reason when no JUnit report says more
    parts.push(!junitFailed && junitProblem === undefined && last !== '' ? `${how}: ${clip(last, 200)}` : how);
  }
  if (junit !== undefined && (junitFailed || parts.length === 0)) parts.push(describeJUnit(junit));
  if (junitProblem !== undefined) parts.push(junitProblem);
  if (parts.length === 0) return 'command passed (exit code 0)';
  if (outcome.exitCode === 0 && !outcome.timedOut && junit !== undefined && !junitFailed && junitProblem === undefined) return `command passed (exit code 0); ${parts.join('; ')}`;
  return parts.join('; ');
}

function lastLine(text: string): string {
  const lines = text.split('\n');
  for (let index = lines.length - 1; index >= 0; index -= 1) {
    const line = lines[index]?.trim() ?? '';
    if (line !== '') return line;
  }
  return '';
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function oneLine(text: string): string {
  return clip(text.replace(/\s+/g, ' ').trim(), maxSummaryLength);
}
