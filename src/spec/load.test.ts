import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDocument } from 'yaml';
import { PromoteError } from '../errors.js';
import { SpecError, loadSpec, loadSpecOrThrow, parseSpec } from './load.js';
import { formatProblem } from './problems.js';

const stepList = 'migrate, test, setWeight, pause, analysis, setFlag, approval, verify, promote';

const validSpec = `version: 1
app:
  name: orders
environments:
  - name: staging
    database: postgres://localhost:5432/orders
    target:
      type: process
      command: node server.js
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 10
      - promote: {}
`;

function problemsOf(text: string, env: Record<string, string> = {}) {
  const result = parseSpec(text, { file: 'promote.yaml', env });
  return result.problems.map((problem) => ({ line: problem.line, path: problem.path, message: problem.message }));
}

describe('parseSpec', () => {
  it('accepts a valid spec and fills in defaults', () => {
    const result = parseSpec(validSpec, { file: 'promote.yaml' });
    expect(result.problems).toEqual([]);
    if (!result.ok) throw new Error('expected ok');
    expect(result.spec.migrations).toEqual({ dir: 'migrations', schema: 'public', lockTimeout: 500, undoWindow: 86_400_000 });
    const target = result.spec.environments[0]?.target;
    expect(target).toMatchObject({ type: 'process', instances: 1, drainTimeout: 30_000, readiness: { path: '/healthz', timeout: 30_000, interval: 500 } });
  });

  it('reports five distinct errors at once, each on its own line', () => {
    const text = `version: 1
app:
  name: orders
environments:
  - name: staging
    database: postgres://localhost/orders
    target:
      type: process
      command: node server.js
      instnces: 2
    strategy: canary
  - name: staging
    database: postgres://localhost/orders2
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWieght: 10
      - setWeight: 120
      - promote: {}
`;
    expect(problemsOf(text)).toEqual([
      { line: 10, path: 'environments[0].target.instnces', message: 'unknown field "instnces" (did you mean "instances"?)' },
      { line: 12, path: 'environments[1].target', message: 'missing required field "target" (expected an object with type process or external)' },
      { line: 12, path: 'environments[1].name', message: 'duplicate environment name "staging" (first used at environments[0])' },
      {
        line: 19,
        path: 'strategies.canary.steps[0].setWieght',
        message: `unknown step "setWieght"; expected one of ${stepList} (did you mean "setWeight"?)`,
      },
      { line: 20, path: 'strategies.canary.steps[1].setWeight', message: 'expected a number from 0 to 100, got 120' },
    ]);
  });

  it('places syntax errors at the line of their offset in the text, also around an unclosed flow collection', async () => {
    const example = await readFile(new URL('../../examples/promote.yaml', import.meta.url), 'utf8');
    // an unclosed "[" inside a block mapping, where the YAML parser's own line counter can miss newlines
    const at = example.indexOf('      count: 5\n') + '      count: 5\n'.length + 4;
    const text = `${example.slice(0, at)}[${example.slice(at)}`;
    const lineOf = (offset: number) => text.slice(0, offset).split('\n').length;
    const errors = parseDocument(text, { prettyErrors: false, uniqueKeys: true }).errors;
    expect(errors.length).toBeGreaterThan(0);
    const result = parseSpec(text, { file: 'promote.yaml' });
    const lines = result.problems.map((problem) => problem.line);
    for (const error of errors) expect(lines).toContain(lineOf(error.pos[0]));
    expect(Math.max(...lines)).toBeLessThanOrEqual(text.split('\n').length);
  });

  it('points at the key of an unknown field and at the parent of a missing one', () => {
    const result = parseSpec(validSpec.replace('      command: node server.js\n', '      run: node server.js\n'), { file: 'promote.yaml' });
    expect(result.problems.map(formatProblem)).toEqual([
      'promote.yaml:8:7 environments[0].target.command: missing required field "command" (expected a string)',
      expect.stringMatching(/^promote\.yaml:9:7 environments\[0\]\.target\.run: unknown field "run"; expected one of /),
    ]);
  });

  it('lists the known fields when no suggestion is close', () => {
    expect(problemsOf(`${validSpec}colour: blue\n`)).toEqual([
      { line: 17, path: 'colour', message: 'unknown field "colour"; expected one of version, app, migrations, environments, strategies, analysis, flags, integrity, notifications' },
    ]);
  });

  it('says what a wrong enum value should be', () => {
    expect(problemsOf(validSpec.replace('type: canary', 'type: canery'))).toEqual([
      { line: 13, path: 'strategies.canary.type', message: 'expected one of canary, blueGreen, got "canery" (did you mean "canary"?)' },
    ]);
  });

  it('reports every YAML syntax error with its position and nothing else', () => {
    const text = 'version: 1\napp:\n\tname: orders\nenvironments: [\n  - name: "staging\n';
    expect(parseSpec(text, { file: 'promote.yaml' }).problems.map((problem) => `${problem.line}:${problem.column} ${problem.message}`)).toEqual([
      '3:1 YAML: Tabs are not allowed as indentation',
      '5:3 YAML: Block collections are not allowed within flow collections',
      '6:1 YAML: Missing closing "quote',
      '6:1 YAML: Flow sequence in block collection must be sufficiently indented and end with a ]',
    ]);
  });

  it('reports duplicate keys and still checks the rest', () => {
    const text = validSpec.replace('  name: orders\n', '  name: orders\n  name: billing\n').replace('setWeight: 10', 'setWeight: 101');
    expect(problemsOf(text)).toEqual([
      { line: 4, path: '', message: 'duplicate key "name"' },
      { line: 16, path: 'strategies.canary.steps[0].setWeight', message: 'expected a number from 0 to 100, got 101' },
    ]);
  });

  it('explains an empty file', () => {
    expect(problemsOf('')).toEqual([
      { line: 1, path: '', message: 'expected an object at the top of the file, got an empty value (run "promote init" for a commented starting point)' },
    ]);
  });

  it('never echoes a database URL or a URL password, and cuts long strings', () => {
    const text = validSpec
      .replace('postgres://localhost:5432/orders', 'mysql://admin:hunter2@db/orders')
      .replace('name: orders', `name: ${'X'.repeat(200)}`)
      .replace('type: canary', 'type: "https://user:topsecret@metrics.example.com/"');
    const messages = parseSpec(text, { file: 'promote.yaml' }).problems.map((problem) => problem.message);
    expect(messages).toHaveLength(3);
    const all = messages.join('\n');
    expect(all).not.toContain('hunter2');
    expect(all).not.toContain('topsecret');
    expect(all).not.toContain('X'.repeat(61));
    expect(all).toContain(`"${'X'.repeat(60)}…"`);
    expect(all).toContain('got "https://user:***@metrics.example.com/"');
  });

  it('hides the value of a wrong database entirely', () => {
    const messages = problemsOf(validSpec.replace('postgres://localhost:5432/orders', 'postgres-ish')).map((problem) => problem.message);
    expect(messages).toEqual(['expected a postgres:// or postgresql:// URL (the value is not shown because it may contain a password)']);
  });

  it('sorts by line and column and removes duplicates', () => {
    const text = validSpec.replace('setWeight: 10', 'setWeight: 200').replace('version: 1', 'version: 3');
    const problems = parseSpec(text, { file: 'promote.yaml' }).problems;
    expect(problems.map((problem) => problem.line)).toEqual([1, 15]);
  });
});

describe('formatProblem', () => {
  it('writes file:line:column path: message, with files under the working directory relative to it', () => {
    const problem = { line: 12, column: 7, path: 'environments[1].target', message: 'boom' };
    expect(formatProblem({ ...problem, file: join(process.cwd(), 'promote.yaml') })).toBe('promote.yaml:12:7 environments[1].target: boom');
    expect(formatProblem({ ...problem, file: join(process.cwd(), 'deploy', 'promote.yaml') })).toBe(`${join('deploy', 'promote.yaml')}:12:7 environments[1].target: boom`);
    expect(formatProblem({ ...problem, file: '/elsewhere/promote.yaml' })).toBe('/elsewhere/promote.yaml:12:7 environments[1].target: boom');
    expect(formatProblem({ file: 'promote.yaml', line: 1, column: 1, path: '', message: 'boom' })).toBe('promote.yaml:1:1 boom');
  });
});

describe('loadSpec', () => {
  it('throws a PromoteError naming the path and suggesting promote init when the file is missing', async () => {
    const missing = join(tmpdir(), 'promote-spec-missing', 'promote.yaml');
    const error = await loadSpec(missing, {}).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(PromoteError);
    expect((error as PromoteError).message).toContain(missing);
    expect((error as PromoteError).hint).toContain('promote init');
  });

  it('reads a file and uses the given environment', async () => {
    const folder = await mkdtemp(join(tmpdir(), 'promote-spec-'));
    try {
      const file = join(folder, 'promote.yaml');
      await writeFile(file, validSpec.replace('postgres://localhost:5432/orders', '${DB_URL}'));
      const result = await loadSpec(file, { DB_URL: 'postgres://db/orders' });
      expect(result.ok && result.spec.environments[0]?.database).toBe('postgres://db/orders');

      const error = await loadSpecOrThrow(file, {}).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(SpecError);
      expect((error as SpecError).problems).toHaveLength(1);
      expect((error as SpecError).message).toContain(
        'promote.yaml:6:15 environments[0].database: environment variable DB_URL is not set (used at environments[0].database)',
      );
    } finally {
      await rm(folder, { recursive: true, force: true });
    }
  });
});

describe('a misspelt required field', () => {
  it('is reported once, as the typo, not also as a missing field', () => {
    const text = ['version: 1', 'app:', '  nmae: orders', 'environments: []', 'strategies: {}', ''].join('\n');
    const result = parseSpec(text, { file: 'promote.yaml' });
    expect(result.ok).toBe(false);
    const messages = result.problems.map((problem) => `${problem.line} ${problem.message}`);
    expect(messages.filter((message) => message.includes('name'))).toEqual(['3 unknown field "nmae" (did you mean "name"?)']);
  });

  it('still reports a wrong value of the suggested field', () => {
    const text = ['version: 1', 'app:', '  name: 42', '  nmae: orders', ''].join('\n');
    const result = parseSpec(text, { file: 'promote.yaml' });
    const messages = result.problems.map((problem) => `${problem.line} ${problem.path}`);
    expect(messages).toEqual(expect.arrayContaining(['3 app.name', '4 app.nmae']));
  });
});

describe('target settings', () => {
  const base = (target: string) => ['version: 1', 'app: { name: shop }', 'environments:', '  - name: staging', '    database: postgres://localhost/shop', `    target: ${target}`, '    strategy: main', 'strategies:', '  main: { type: canary, steps: [{ promote: {} }] }', ''].join('\n');

  it('refuses an unknown placeholder in a process command, at its line', () => {
    const result = parseSpec(base('{ type: process, command: "node app.js --tag {{release}}" }'), { file: 'promote.yaml' });
    expect(result.ok).toBe(false);
    expect(result.problems.map((problem) => `${problem.line} ${problem.path}`)).toEqual(['6 environments[0].target.command']);
    expect(result.problems[0]!.message).toContain('unknown placeholder {{release}}');
  });

  it('fills liveness and external readiness defaults', () => {
    const process = parseSpec(base('{ type: process, command: node app.js }'), { file: 'promote.yaml' });
    const external = parseSpec(base('{ type: external, url: "http://{{version}}.internal:8080", readiness: { path: /ready } }'), { file: 'promote.yaml' });
    if (!process.ok || !external.ok) throw new Error('expected both to parse');
    expect(process.spec.environments[0]!.target).toMatchObject({ liveness: { interval: 5_000, failureThreshold: 3 } });
    expect(external.spec.environments[0]!.target).toMatchObject({ readiness: { path: '/ready', timeout: 60_000, interval: 500 }, commandTimeout: 1_800_000 });
  });
});

// Found by test/fuzz/spec.fuzz.test.ts: deep nesting ran the YAML parser out of stack (RangeError from
// parseSpec, and V8 aborted the process on a second such parse); now it is one placed problem.
describe('parseSpec on deeply nested text', () => {
  it.each([['flow', '['.repeat(3000)], ['block', '- '.repeat(3000)], ['mappings', '{a: '.repeat(3000)]])('reports %s nesting as a problem, twice in a row', (_kind, text) => {
    for (let round = 0; round < 2; round += 1) {
      const result = parseSpec(text, { file: 'promote.yaml' });
      expect(result.ok).toBe(false);
      expect(result.problems).toHaveLength(1);
      expect(result.problems[0]).toMatchObject({ file: 'promote.yaml', line: 1 });
      expect(result.problems[0]?.message).toMatch(/nest/);
    }
  });
});
