/**
 * An HTTP check sent to every instance of one version, directly (not through the router): each
 * instance must answer the expected status, and the response checks when there are any.
 */
import { Agent, request } from 'undici';
import { describeCause, redactSecrets } from '../../errors.js';
import { formatDuration } from '../../spec/duration.js';
import { jsonEqual, JsonPathError, lookupJson, parseJsonPath } from '../../system/json-path.js';

export interface HttpCheckSpec {
  path: string;
  method: string;
  expectStatus: number;
  /** request body */
  body?: string;
  /** proposed: request headers */
  headers?: Record<string, string>;
  /** proposed: the response body must contain this text */
  expectBody?: string;
  /** proposed: JSON path -> expected value, compared with deep equality */
  expectJson?: Record<string, unknown>;
}

export interface JsonCheckResult {
  path: string;
  expected: unknown;
  /** null when nothing is at the path (then `error` says so) */
  actual: unknown;
  passed: boolean;
  error?: string;
}

export interface HttpCheckResult {
  url: string;
  status: number | null;
  expected: number;
  passed: boolean;
  /** a connection failure, a timeout, or a body check that did not hold */
  error?: string;
  /** the start of the response body, when the instance failed */
  bodyExcerpt?: string;
  jsonChecks?: JsonCheckResult[];
  durationMs: number;
}

export interface HttpCheckOptions {
  timeoutMs: number;
  signal?: AbortSignal;
}

/** more than this is not read: health and contract answers are small */
export const maxBodyBytes = 1024 * 1024;
const excerptLength = 300;
const maxActualLength = 1000;
const maxTimer = 2 ** 31 - 1;

/** base "http://host:8080/app" + path "/healthz?x=1" -> "http://host:8080/app/healthz?x=1" */
export function instanceUrl(base: string, path: string): string {
  const url = new URL(base);
  return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}${path}`;
}

export async function runHttpChecks(spec: HttpCheckSpec, urls: readonly string[], options: HttpCheckOptions): Promise<{ results: HttpCheckResult[]; timedOut: boolean; aborted: boolean }> {
  const controller = new AbortController();
  let timedOut = false;
  let aborted = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, Math.min(Math.max(options.timeoutMs, 0), maxTimer));
  const onAbort = () => {
    aborted = true;
    controller.abort();
  };
  if (options.signal?.aborted) onAbort();
  else options.signal?.addEventListener('abort', onAbort, { once: true });
  // a pool of its own: no connection to the instances outlives the check
  const agent = new Agent({ keepAliveTimeout: 1000, connections: 4 });
  const interrupted = () => (aborted ? 'aborted' : timedOut ? `no complete answer within ${formatDuration(Math.round(options.timeoutMs))}` : undefined);
  try {
    const results = await Promise.all(urls.map((base) => checkInstance(spec, base, agent, controller.signal, options.timeoutMs, interrupted)));
    return { results, timedOut, aborted };
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    await agent.destroy().catch(() => undefined);
  }
}

async function checkInstance(
  spec: HttpCheckSpec,
  base: string,
  agent: Agent,
  signal: AbortSignal,
  timeoutMs: number,
  interrupted: () => string | undefined,
): Promise<HttpCheckResult> {
  const started = performance.now();
  let url: string;
  try {
    url = instanceUrl(base, spec.path);
  } catch (error) {
    return { url: redactSecrets(base), status: null, expected: spec.expectStatus, passed: false, error: `invalid instance URL: ${describeCause(error)}`, durationMs: 0 };
  }
  const result: HttpCheckResult = { url: redactSecrets(url), status: null, expected: spec.expectStatus, passed: false, durationMs: 0 };
  const finish = () => {
    result.durationMs = Math.round(performance.now() - started);
    return result;
  };
  let text: string;
  let truncated: boolean;
  try {
    const wait = Math.min(Math.max(Math.round(timeoutMs), 1), maxTimer);
    const response = await request(url, {
      dispatcher: agent,
      method: spec.method as 'GET',
      headers: requestHeaders(spec),
      body: spec.body,
      signal,
      headersTimeout: wait,
      bodyTimeout: wait,
    });
    result.status = response.statusCode;
    ({ text, truncated } = await readBody(response.body));
  } catch (error) {
    result.error = interrupted() ?? describeCause(error);
    return finish();
  }

  const problems: string[] = [];
  if (spec.expectBody !== undefined && !text.includes(spec.expectBody)) {
    problems.push(`the body does not contain ${JSON.stringify(clip(spec.expectBody, 100))}${truncated ? ` in its first ${maxBodyBytes} bytes` : ''}`);
  }
  if (spec.expectJson !== undefined) {
    const { checks, problem } = checkJson(spec.expectJson, text, truncated);
    result.jsonChecks = checks;
    if (problem !== undefined) problems.push(problem);
  }
  if (problems.length > 0) result.error = problems.join('; ');
  result.passed = result.status === spec.expectStatus && problems.length === 0 && (result.jsonChecks ?? []).every((check) => check.passed);
  if (!result.passed && text !== '') result.bodyExcerpt = redactSecrets(clip(text, excerptLength));
  return finish();
}

function requestHeaders(spec: HttpCheckSpec): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'promote-test' };
  for (const [name, value] of Object.entries(spec.headers ?? {})) headers[name.toLowerCase()] = value;
  if (spec.body !== undefined && headers['content-type'] === undefined) {
    headers['content-type'] = isJson(spec.body) ? 'application/json' : 'text/plain; charset=utf-8';
  }
  return headers;
}

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

async function readBody(body: AsyncIterable<Buffer>): Promise<{ text: string; truncated: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  let truncated = false;
  for await (const chunk of body) {
    const room = maxBodyBytes - size;
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room));
      truncated = true;
      break; // leaving the loop destroys the stream
    }
    chunks.push(chunk);
    size += chunk.length;
  }
  return { text: Buffer.concat(chunks).toString('utf8'), truncated };
}

function checkJson(expectations: Record<string, unknown>, text: string, truncated: boolean): { checks: JsonCheckResult[]; problem?: string } {
  let document: unknown;
  let parseProblem: string | undefined;
  if (truncated) {
    parseProblem = `the body is larger than ${maxBodyBytes} bytes, too large to check as JSON`;
  } else {
    try {
      document = JSON.parse(text);
    } catch (error) {
      parseProblem = `the body is not JSON: ${describeCause(error)}`;
    }
  }
  const checks = Object.entries(expectations).map(([path, expected]): JsonCheckResult => {
    let segments;
    try {
      segments = parseJsonPath(path);
    } catch (error) {
      return { path, expected, actual: null, passed: false, error: error instanceof JsonPathError ? error.message : describeCause(error) };
    }
    if (parseProblem !== undefined) return { path, expected, actual: null, passed: false, error: parseProblem };
    const found = lookupJson(document, segments);
    if (!found.found) return { path, expected, actual: null, passed: false, error: 'nothing at this path' };
    return { path, expected, actual: shown(found.value), passed: jsonEqual(found.value, expected) };
  });
  return parseProblem === undefined ? { checks } : { checks, problem: parseProblem };
}

/** The value as evidence: itself, or a clipped JSON text when it is large. */
function shown(value: unknown): unknown {
  if (typeof value !== 'object' || value === null) return typeof value === 'string' ? clip(value, maxActualLength) : value;
  const text = JSON.stringify(value);
  return text.length > maxActualLength ? clip(text, maxActualLength) : value;
}

function clip(text: string, max: number): string {
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

/** One line naming what went wrong on which instance. */
export function describeHttpFailure(spec: HttpCheckSpec, results: readonly HttpCheckResult[]): string {
  const failed = results.filter((result) => !result.passed);
  const describe = (result: HttpCheckResult): string => {
    if (result.status === null) return `${result.url}: ${result.error ?? 'no answer'}`;
    const parts: string[] = [];
    if (result.status !== result.expected) parts.push(`answered ${result.status}, expected ${result.expected}`);
    const json = result.jsonChecks?.find((check) => !check.passed && check.error === undefined);
    if (json !== undefined) parts.push(`${json.path} is ${clip(JSON.stringify(json.actual) ?? 'undefined', 80)}, expected ${clip(JSON.stringify(json.expected) ?? 'undefined', 80)}`);
    else if (result.error === undefined) {
      const broken = result.jsonChecks?.find((check) => !check.passed);
      if (broken !== undefined) parts.push(`${broken.path}: ${broken.error ?? 'failed'}`);
    }
    if (result.error !== undefined) parts.push(result.error);
    return `${result.url} ${parts.join('; ')}`;
  };
  const head = `${spec.method} ${spec.path}`;
  if (failed.length === 0) return `${head}: ${results.length} of ${results.length} ${results.length === 1 ? 'instance' : 'instances'} answered as expected`;
  const shownFailures = failed.slice(0, 3).map(describe).join('; ');
  const more = failed.length > 3 ? ` (and ${failed.length - 3} more)` : '';
  const count = results.length > 1 ? `${failed.length} of ${results.length} instances failed: ` : '';
  return `${head}: ${count}${shownFailures}${more}`;
}
