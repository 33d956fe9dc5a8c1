/**
 * The one HTTP GET the builtin, prometheus and http providers share, so each fails the same way: a
 * ProviderError that says what was being asked (`doing`), with a timeout, the measurement's abort
 * signal, a bounded body, and no secret from the URL in any message.
 */
import { Agent, request } from 'undici';
import { describeCause, redactSecrets } from '../../errors.js';
import { formatDuration } from '../../spec/duration.js';
import { anySignal } from '../../targets/probe.js';
import { ProviderError } from '../types.js';

export interface GetOptions {
  url: string;
  headers?: Record<string, string>;
  timeoutMs: number;
  signal: AbortSignal;
  /** what was being asked, starting every message: `prometheus http://host:9090: query "up"` */
  doing: string;
  /** more than this is refused (default 16 MiB) */
  maxBytes?: number;
}

export interface GetAnswer {
  status: number;
  text: string;
}

const maxTimer = 2 ** 31 - 1;

/**
 * GETs the URL and reads the whole body, whatever the status. User and password in the URL are sent
 * as basic authentication (unless an authorization header is given), never as part of the request line.
 */
export async function httpGet(options: GetOptions): Promise<GetAnswer> {
  const fail = (problem: string, cause?: unknown) => new ProviderError(`${options.doing}: ${problem}`, { cause });
  if (options.signal.aborted) throw fail('aborted', options.signal.reason);
  let url: string;
  let authorization: string | undefined;
  try {
    ({ url, authorization } = splitCredentials(options.url));
  } catch (error) {
    throw fail(`invalid URL: ${describeCause(error)}`, error);
  }
  const headers: Record<string, string> = { 'user-agent': 'promote-analysis', accept: 'application/json' };
  if (authorization !== undefined) headers.authorization = authorization;
  for (const [name, value] of Object.entries(options.headers ?? {})) headers[name.toLowerCase()] = value;

  const timeoutMs = Math.min(Math.max(Math.round(options.timeoutMs), 1), maxTimer);
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${formatDuration(timeoutMs)}`)), timeoutMs);
  const combined = anySignal([options.signal, timeout.signal]);
  const maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
  // a connection per measurement, closed after it (even when aborted): a server restarting between
  // measurements costs nothing, and no socket outlives the measurement
  const agent = new Agent({ connections: 1 });
  try {
    const response = await request(url, { dispatcher: agent, method: 'GET', headers, reset: true, signal: combined.signal, headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of response.body as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > maxBytes) throw fail(`answered ${response.statusCode} with more than ${maxBytes} bytes; refused`);
      chunks.push(chunk);
    }
    return { status: response.statusCode, text: Buffer.concat(chunks).toString('utf8') };
  } catch (error) {
    if (error instanceof ProviderError) throw error;
    if (options.signal.aborted) throw fail('aborted', options.signal.reason);
    if (timeout.signal.aborted) throw fail(`no answer within ${formatDuration(timeoutMs)}`, error);
    throw fail(redactSecrets(describeCause(error)), error);
  } finally {
    clearTimeout(timer);
    combined.dispose();
    await agent.destroy().catch(() => undefined);
  }
}

/** The URL without user and password, and those as a basic authorization header. */
export function splitCredentials(text: string): { url: string; authorization?: string } {
  const url = new URL(text);
  if (url.username === '' && url.password === '') return { url: text };
  const user = decodeURIComponent(url.username);
  const password = decodeURIComponent(url.password);
  url.username = '';
  url.password = '';
  return { url: url.toString(), authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` };
}

/** The URL as messages and evidence show it: the password replaced by ***. */
export function displayUrl(text: string): string {
  return redactSecrets(text);
}

/** The start of a body for a message, on one line. */
export function excerpt(text: string, max = 200): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return redactSecrets(line.length > max ? `${line.slice(0, max)}…` : line);
}

/** The body as JSON, or a ProviderError saying it is not. */
export function parseJsonBody(answer: GetAnswer, doing: string): unknown {
  try {
    return JSON.parse(answer.text) as unknown;
  } catch (error) {
    const shown = answer.text.trim() === '' ? 'an empty body' : `"${excerpt(answer.text)}"`;
    throw new ProviderError(`${doing}: answered ${answer.status} with a body that is not JSON (${describeCause(error)}): ${shown}`, { cause: error });
  }
}
