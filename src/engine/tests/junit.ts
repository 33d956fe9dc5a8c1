/**
 * JUnit XML, the report format every test runner can write (pytest --junitxml, jest-junit, Maven
 * Surefire, go-junit-report, ...), read into a small summary that is stored as evidence.
 *
 * Counts come from the <testcase> elements when there are any (they are what the failed list is
 * made of, so the two always agree), otherwise from the suites' own attributes. A case with a
 * <failure> is a failure, else with an <error> an error, else with a <skipped> skipped. Surefire's
 * <flakyFailure>/<rerunFailure> are ignored: the case passed on a rerun.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { TextDecoder } from 'node:util';
import { describeCause, PromoteError } from '../../errors.js';
import { scanXml, XmlSyntaxError } from './xml.js';

export interface JUnitFailedCase {
  /** the enclosing <testsuite>'s name ('' when it has none) */
  suite: string;
  name: string;
  /** the failure's message attribute, or else the first line of its text; at most 500 characters */
  message: string;
  kind: 'failure' | 'error';
  /** the testcase's classname, when it has one that differs from the suite name */
  classname?: string;
}

export interface JUnitSummary {
  tests: number;
  failures: number;
  errors: number;
  skipped: number;
  timeSeconds: number;
  /** failed and errored cases in document order, at most 50 */
  failed: JUnitFailedCase[];
}

export const maxFailedCases = 50;
export const maxMessageLength = 500;
/** larger reports are refused rather than read into memory */
export const maxReportBytes = 64 * 1024 * 1024;

export class JUnitError extends PromoteError {
  constructor(
    message: string,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(message);
    this.name = 'JUnitError';
  }
}

interface SuiteFrame {
  name: string;
  attributes: ReadonlyMap<string, string>;
  hasChildSuite: boolean;
  depth: number;
}

interface CaseFrame {
  suite: string;
  name: string;
  classname: string | undefined;
  outcome: 'passed' | 'failure' | 'error' | 'skipped';
  message: string | undefined;
  /** text of the deciding <failure>/<error>, collected only when it has no message attribute */
  text: string | undefined;
  time: number | undefined;
}

/** Parses a JUnit XML document; throws JUnitError (with line and column for XML syntax errors). */
export function parseJUnit(xml: string): JUnitSummary {
  const suites: SuiteFrame[] = [];
  const leafSuites: SuiteFrame[] = [];
  const topSuiteTimes: number[] = [];
  const caseTimes: number[] = [];
  const counts = { tests: 0, failures: 0, errors: 0, skipped: 0 };
  const failed: JUnitFailedCase[] = [];
  let rootTime: number | undefined;
  let rootAttributes: ReadonlyMap<string, string> | undefined;
  let depth = 0;
  let testcase: CaseFrame | undefined;
  let testcaseDepth = -1;
  /** depth of the <failure>/<error> whose text we are collecting */
  let collectingDepth = -1;

  const finishCase = (frame: CaseFrame) => {
    counts.tests += 1;
    if (frame.time !== undefined) caseTimes.push(frame.time);
    if (frame.outcome === 'passed') return;
    if (frame.outcome === 'skipped') {
      counts.skipped += 1;
      return;
    }
    if (frame.outcome === 'failure') counts.failures += 1;
    else counts.errors += 1;
    if (failed.length >= maxFailedCases) return;
    const message = frame.message ?? firstLine(frame.text ?? '');
    const entry: JUnitFailedCase = { suite: frame.suite, name: frame.name, message: clip(message), kind: frame.outcome };
    if (frame.classname !== undefined && frame.classname !== '' && frame.classname !== frame.suite) entry.classname = frame.classname;
    failed.push(entry);
  };

  try {
    scanXml(xml, {
      open(name, attributes, fail) {
        depth += 1;
        if (depth === 1) {
          if (name !== 'testsuites' && name !== 'testsuite') {
            fail(`the root element is <${name}>; a JUnit report starts with <testsuites> or <testsuite>`);
          }
          rootAttributes = attributes;
          if (name === 'testsuites') rootTime = parseTime(attributes.get('time'));
        }
        if (testcase !== undefined) {
          // inside a testcase: only its outcome children matter
          if (depth !== testcaseDepth + 1) return;
          if (name === 'failure' || name === 'error' || name === 'skipped') {
            const rank = { passed: 0, skipped: 1, error: 2, failure: 3 } as const;
            if (rank[name] > rank[testcase.outcome]) {
              testcase.outcome = name;
              testcase.message = name === 'skipped' ? undefined : attributes.get('message');
              testcase.text = undefined;
              if (name !== 'skipped' && testcase.message === undefined) {
                testcase.text = '';
                collectingDepth = depth;
              }
            }
          }
          return;
        }
        if (name === 'testsuite') {
          const parent = suites.at(-1);
          if (parent !== undefined) parent.hasChildSuite = true;
          const frame: SuiteFrame = { name: attributes.get('name') ?? '', attributes, hasChildSuite: false, depth };
          suites.push(frame);
          if (parent === undefined) {
            const time = parseTime(attributes.get('time'));
            if (time !== undefined) topSuiteTimes.push(time);
          }
        } else if (name === 'testcase') {
          testcase = {
            suite: suites.at(-1)?.name ?? '',
            name: attributes.get('name') ?? '',
            classname: attributes.get('classname'),
            outcome: 'passed',
            message: undefined,
            text: undefined,
            time: parseTime(attributes.get('time')),
          };
          testcaseDepth = depth;
        }
      },
      text(text) {
        if (testcase?.text !== undefined && collectingDepth !== -1 && testcase.text.length < 4 * maxMessageLength) {
          testcase.text += text.slice(0, 4 * maxMessageLength);
        }
      },
      close() {
        if (depth === collectingDepth) collectingDepth = -1;
        if (testcase !== undefined && depth === testcaseDepth) {
          finishCase(testcase);
          testcase = undefined;
          testcaseDepth = -1;
        } else if (testcase === undefined && suites.at(-1)?.depth === depth) {
          const suite = suites.pop();
          if (suite !== undefined && !suite.hasChildSuite) leafSuites.push(suite);
        }
        depth -= 1;
      },
    });
  } catch (error) {
    if (error instanceof XmlSyntaxError) throw new JUnitError(`line ${error.line}, column ${error.column}: ${error.problem}`, error.line, error.column);
    throw error;
  }

  if (counts.tests === 0) {
    // no testcase elements: trust the suites' own counts (leaf suites, or the root when there are none)
    const sources = leafSuites.length > 0 ? leafSuites.map((suite) => suite.attributes) : rootAttributes ? [rootAttributes] : [];
    for (const attributes of sources) {
      counts.tests += parseCount(attributes.get('tests'));
      counts.failures += parseCount(attributes.get('failures'));
      counts.errors += parseCount(attributes.get('errors'));
      counts.skipped += parseCount(attributes.get('skipped') ?? attributes.get('disabled'));
    }
  }
  const time = rootTime ?? (topSuiteTimes.length > 0 ? sum(topSuiteTimes) : sum(caseTimes));
  return { ...counts, timeSeconds: Math.round(time * 1000) / 1000, failed };
}

/** Adds summaries of several reports (a Surefire folder has one file per test class). */
export function mergeJUnit(summaries: readonly JUnitSummary[]): JUnitSummary {
  const merged: JUnitSummary = { tests: 0, failures: 0, errors: 0, skipped: 0, timeSeconds: 0, failed: [] };
  for (const summary of summaries) {
    merged.tests += summary.tests;
    merged.failures += summary.failures;
    merged.errors += summary.errors;
    merged.skipped += summary.skipped;
    merged.timeSeconds += summary.timeSeconds;
    merged.failed.push(...summary.failed.slice(0, maxFailedCases - merged.failed.length));
  }
  merged.timeSeconds = Math.round(merged.timeSeconds * 1000) / 1000;
  return merged;
}

/** Reads a report file, honouring a UTF-16 byte order mark or the declared encoding. */
export function decodeReport(bytes: Uint8Array): string {
  if (bytes[0] === 0xff && bytes[1] === 0xfe) return new TextDecoder('utf-16le').decode(bytes);
  if (bytes[0] === 0xfe && bytes[1] === 0xff) return new TextDecoder('utf-16be').decode(bytes);
  const head = Buffer.from(bytes.subarray(0, 200)).toString('latin1');
  const declared = /^(?:\uFEFF|\xEF\xBB\xBF)?<\?xml[^>]*?\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']/.exec(head)?.[1]?.toLowerCase();
  if (declared === undefined || declared === 'utf-8' || declared === 'utf8' || declared === 'us-ascii' || declared === 'ascii') {
    return new TextDecoder('utf-8').decode(bytes);
  }
  let decoder: TextDecoder;
  try {
    decoder = new TextDecoder(declared);
  } catch {
    throw new JUnitError(`the declared encoding "${declared}" is not supported`);
  }
  return decoder.decode(bytes);
}

export type JUnitReadResult = { ok: true; summary: JUnitSummary } | { ok: false; problem: string };

/** Parses one report file; a problem is a sentence naming the file, never an exception. */
export async function readJUnitFile(path: string): Promise<JUnitReadResult> {
  try {
    const info = await stat(path);
    if (info.size > maxReportBytes) {
      return { ok: false, problem: `JUnit report ${path} is ${info.size} bytes, more than the ${maxReportBytes} this reads` };
    }
    if (info.size === 0) return { ok: false, problem: `JUnit report ${path} is empty` };
    return { ok: true, summary: parseJUnit(decodeReport(await readFile(path))) };
  } catch (error) {
    if (error instanceof JUnitError) {
      return { ok: false, problem: `JUnit report ${path} ${error.line === undefined ? 'cannot be read' : 'is malformed'}: ${error.message}` };
    }
    return { ok: false, problem: `could not read JUnit report ${path}: ${describeCause(error)}` };
  }
}

/** Parses report files (in the order given) and merges them; the first problem wins. */
export async function readJUnitFiles(paths: readonly string[]): Promise<JUnitReadResult> {
  const summaries: JUnitSummary[] = [];
  for (const path of paths) {
    const result = await readJUnitFile(path);
    if (!result.ok) return result;
    summaries.push(result.summary);
  }
  return { ok: true, summary: mergeJUnit(summaries) };
}

/** The .xml files of a folder, sorted by name. */
export async function reportsInFolder(folder: string): Promise<string[]> {
  const names = await readdir(folder);
  return names.filter((name) => name.toLowerCase().endsWith('.xml')).sort().map((name) => join(folder, name));
}

/** One line for a phase reason: "2 of 10 tests failed: suite › name: message (and 1 more)". */
export function describeJUnit(summary: JUnitSummary): string {
  const bad = summary.failures + summary.errors;
  if (bad === 0) {
    const skipped = summary.skipped > 0 ? `, ${summary.skipped} skipped` : '';
    return `${summary.tests} JUnit ${summary.tests === 1 ? 'test' : 'tests'} passed${skipped}`;
  }
  const parts: string[] = [];
  if (summary.failures > 0) parts.push(`${summary.failures} failed`);
  if (summary.errors > 0) parts.push(`${summary.errors} errored`);
  let text = `${parts.join(' and ')} of ${summary.tests} JUnit ${summary.tests === 1 ? 'test' : 'tests'}`;
  const first = summary.failed[0];
  if (first !== undefined) {
    const where = [first.classname ?? first.suite, first.name].filter((part) => part !== '').join(' › ');
    text += `: ${where}${first.message === '' ? '' : `: ${oneLine(first.message, 200)}`}`;
    if (bad > 1) text += ` (and ${bad - 1} more)`;
  }
  return text;
}

function parseTime(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  // some runners write thousands separators ("1,234.5")
  const cleaned = text.trim().replace(/,/g, '');
  if (!/^\d+(?:\.\d*)?(?:[eE][+-]?\d+)?$|^\.\d+$/.test(cleaned)) return undefined;
  const value = Number(cleaned);
  return Number.isFinite(value) ? value : undefined;
}

function parseCount(text: string | undefined): number {
  if (text === undefined || !/^\s*\d+\s*$/.test(text)) return 0;
  return Number.parseInt(text, 10);
}

function sum(values: readonly number[]): number {
  return values.reduce((total, value) => total + value, 0);
}

function firstLine(text: string): string {
  for (const line of text.split('\n')) {
    const trimmed = line.trim();
    if (trimmed !== '') return trimmed;
  }
  return '';
}

function clip(text: string): string {
  return text.length > maxMessageLength ? `${text.slice(0, maxMessageLength - 1)}…` : text;
}

function oneLine(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ').trim();
  return flat.length > max ? `${flat.slice(0, max - 1)}…` : flat;
}
