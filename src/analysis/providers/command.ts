/**
 * A measurement from any program: a script that asks a vendor's API, counts log lines or queries the
 * app's database prints a number (or JSON) and Promote judges it. The command runs like a test step
 * (runCommand: own process group, timeout, abort, nothing left running) in the folder of promote.yaml.
 * Its standard output goes to a file of its own, so what it says on stderr never spoils the number.
 */
import { mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describeCause, redactSecrets } from '../../errors.js';
import { runCommand, type CommandOutcome } from '../../engine/tests/command.js';
import { formatDuration } from '../../spec/duration.js';
import type { ProviderSpec } from '../../spec/schema.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { ProviderError } from '../types.js';
import { describeJson, mean, toNumber } from './json-path.js';

export type CommandProviderSpec = Extract<ProviderSpec, { type: 'command' }>;

/** more standard output than this is not a measurement */
const maxStdoutBytes = 16 * 1024 * 1024;
const objectFields = ['value', 'samples', 'events', 'total', 'support'] as const;

export function createCommandProvider(spec: CommandProviderSpec, configDir: string): Provider {
  const shownCommand = redactSecrets(spec.run.length > 200 ? `${spec.run.slice(0, 200)}…` : spec.run);
  return {
    kind: 'command',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const doing = `command ${JSON.stringify(shownCommand)} for version ${request.version}`;
      const scratch = await mkdtemp(join(tmpdir(), 'promote-measure-'));
      try {
        const stdoutFile = join(scratch, 'stdout');
        const started = performance.now();
        const outcome = await runCommand({
          // a group, not a subshell: `exit 3` inside still ends the shell with 3; newlines keep a trailing comment or heredoc intact
          command: `{\n${spec.run}\n} > ${shellQuote(stdoutFile)}`,
          cwd: configDir,
          env: { ...process.env, PROMOTE_APP: request.app, PROMOTE_ENVIRONMENT: request.environment, PROMOTE_VERSION: request.version },
          timeoutMs: spec.timeout,
          signal: request.signal,
          killGraceMs: 2_000,
          tail: { maxLines: 20, maxLineLength: 300 },
        });
        const { text: stdout, truncated } = await readCapped(stdoutFile);
        const source: Record<string, unknown> = { command: shownCommand, cwd: configDir, exitCode: outcome.exitCode, durationMs: Math.round(performance.now() - started), stdout: clip(stdout, 200) };
        const problem = failure(outcome, spec.timeout);
        if (problem !== undefined) throw new ProviderError(`${doing}: ${problem}${output(stdout, outcome.outputTail)}`);
        const parsed = truncated ? { problem: `printed more than ${maxStdoutBytes} bytes on stdout; expected one number or JSON` } : parseOutput(stdout);
        if ('problem' in parsed) throw new ProviderError(`${doing}: ${parsed.problem}${output(stdout, outcome.outputTail)}`);
        return { ...parsed, source };
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
    },
  };
}

function failure(outcome: CommandOutcome, timeoutMs: number): string | undefined {
  if (outcome.aborted) return 'aborted';
  if (outcome.startError !== undefined) return `could not start: ${outcome.startError}`;
  if (outcome.timedOut) return `did not finish within ${formatDuration(Math.round(timeoutMs))}; stopped`;
  if (outcome.signal !== null) return `killed by ${outcome.signal}`;
  if (outcome.exitCode !== 0) return `exited with ${outcome.exitCode}`;
  return undefined;
}

/** What the command printed, for a message: stdout's start and the last lines of stderr. */
function output(stdout: string, stderrTail: string): string {
  const parts: string[] = [];
  if (stdout.trim() !== '') parts.push(`stdout: ${clip(stdout, 300)}`);
  if (stderrTail.trim() !== '') parts.push(`stderr: ${clip(stderrTail.split('\n').slice(-5).join(' | '), 500)}`);
  return parts.length === 0 ? ' (it printed nothing)' : `; ${parts.join('; ')}`;
}

type Parsed = Omit<MetricData, 'source'> | { problem: string };

/** One number; or JSON: a number, an array of numbers, or {value?, samples?, events?, total?, support?}. */
export function parseOutput(stdout: string): Parsed {
  const text = stdout.trim();
  if (text === '') return { problem: 'printed nothing on stdout; expected one number or JSON' };
  const single = toNumber(text);
  if (single !== undefined) return { value: single };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    return { problem: `printed neither a number nor JSON (${describeCause(error)})` };
  }
  if (Array.isArray(json)) {
    const samples = numbers(json, 'the array');
    if (typeof samples === 'string') return { problem: samples };
    return samples.length === 0 ? { samples, support: 0 } : { samples, value: mean(samples), support: samples.length };
  }
  if (typeof json !== 'object' || json === null) return { problem: `printed ${describeJson(json)}; expected a number, an array of numbers or an object with ${objectFields.join(', ')}` };
  const record = json as Record<string, unknown>;
  const unknown = Object.keys(record).filter((key) => !(objectFields as readonly string[]).includes(key));
  if (unknown.length > 0) return { problem: `printed an object with unknown field ${unknown.map((key) => JSON.stringify(key)).join(', ')}; expected ${objectFields.join(', ')}` };
  const result: Omit<MetricData, 'source'> = {};
  for (const field of ['value', 'events', 'total', 'support'] as const) {
    if (record[field] === undefined || record[field] === null) continue;
    const number = toNumber(record[field]);
    if (number === undefined) return { problem: `"${field}" is ${describeJson(record[field])}; expected a number` };
    if (field !== 'value' && number < 0) return { problem: `"${field}" is ${number}; expected a count, 0 or more` };
    result[field] = number;
  }
  if (record.samples !== undefined && record.samples !== null) {
    if (!Array.isArray(record.samples)) return { problem: `"samples" is ${describeJson(record.samples)}; expected an array of numbers` };
    const samples = numbers(record.samples, '"samples"');
    if (typeof samples === 'string') return { problem: samples };
    result.samples = samples;
    if (samples.length > 0) {
      result.value ??= mean(samples);
      result.support ??= samples.length;
    }
  }
  if ((result.events === undefined) !== (result.total === undefined)) return { problem: '"events" and "total" go together: give both or neither' };
  if (result.events !== undefined && result.total !== undefined && result.events > result.total) return { problem: `"events" (${result.events}) is more than "total" (${result.total})` };
  if (result.value === undefined && result.samples === undefined && result.events === undefined) return { problem: 'printed an object with no "value", "samples" or "events"' };
  return result;
}

function numbers(items: unknown[], what: string): number[] | string {
  const result: number[] = [];
  for (const [index, item] of items.entries()) {
    const number = toNumber(item);
    if (number === undefined) return `${what}[${index}] is ${describeJson(item)}; expected numbers`;
    result.push(number);
  }
  return result;
}

async function readCapped(path: string): Promise<{ text: string; truncated: boolean }> {
  let handle;
  try {
    handle = await open(path, 'r');
  } catch {
    return { text: '', truncated: false }; // the shell never got to the redirection (the command could not start)
  }
  try {
    const size = (await handle.stat()).size;
    const buffer = Buffer.alloc(Math.min(size, maxStdoutBytes));
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    return { text: buffer.subarray(0, bytesRead).toString('utf8'), truncated: size > maxStdoutBytes };
  } finally {
    await handle.close();
  }
}

function shellQuote(text: string): string {
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function clip(text: string, max: number): string {
  const line = text.trim().replace(/\s*\n\s*/g, ' | ');
  return redactSecrets(line.length > max ? `${line.slice(0, max)}…` : line);
}
