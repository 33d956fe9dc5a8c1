import { describe, expect, it } from 'vitest';
import { interpolateString } from './interpolate.js';
import { parseSpec } from './load.js';

describe('interpolateString', () => {
  it('substitutes set variables', () => {
    expect(interpolateString('postgres://${HOST}:${PORT}/db', { HOST: 'db', PORT: '5432' })).toEqual({ value: 'postgres://db:5432/db', missing: [], errors: [] });
  });

  it('uses the default when the variable is unset or empty, and the value otherwise', () => {
    expect(interpolateString('${A:-fallback}', {}).value).toBe('fallback');
    expect(interpolateString('${A:-fallback}', { A: '' }).value).toBe('fallback');
    expect(interpolateString('${A:-fallback}', { A: 'set' }).value).toBe('set');
    expect(interpolateString('${A:-}', {}).value).toBe('');
    expect(interpolateString('${A:-postgres://localhost:5432/x}', {}).value).toBe('postgres://localhost:5432/x');
  });

  it('keeps an empty value when there is no default', () => {
    expect(interpolateString('[${A}]', { A: '' })).toEqual({ value: '[]', missing: [], errors: [] });
  });

  it('writes a literal ${ for $${', () => {
    expect(interpolateString('cost: $${PRICE} and ${A}', { A: 'x' }).value).toBe('cost: ${PRICE} and x');
  });

  it('lists every missing variable once', () => {
    expect(interpolateString('${A}${B}${A}', {}).missing).toEqual(['A', 'B']);
  });

  it('reports malformed references', () => {
    expect(interpolateString('${not valid}', {}).errors).toEqual([
      'invalid variable reference "${not valid}": expected ${NAME} or ${NAME:-default}, or "$${" for a literal "${"',
    ]);
    expect(interpolateString('abc ${OPEN', {}).errors[0]).toContain('unterminated "${"');
  });

  it('leaves {{placeholders}} and lone dollars alone', () => {
    expect(interpolateString('./deploy.sh {{version}} $HOME $', {}).value).toBe('./deploy.sh {{version}} $HOME $');
  });

  it('never re-reads substituted text', () => {
    expect(interpolateString('${A}', { A: '${B}' }).value).toBe('${B}');
  });
});

const spec = (databaseLine: string, extra = '') => `version: 1
app:
  name: orders
environments:
  - name: staging
    database: ${databaseLine}
    target:
      type: process
      command: node server.js
      basePort: \${PORT:-4100}
      env:
        \${KEY_NAME}: "\${QUOTED:-7}"
    strategy: canary
  - name: production
    database: \${PRODUCTION_DATABASE_URL}
    target: { type: process, command: node server.js }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - promote: {}
${extra}`;

describe('interpolation in promote.yaml', () => {
  it('reports every missing variable at the position of its value', () => {
    const result = parseSpec(spec('${STAGING_DATABASE_URL}'), { file: 'promote.yaml', env: {} });
    expect(result.problems.map((problem) => [problem.line, problem.column, problem.path, problem.message])).toEqual([
      [6, 15, 'environments[0].database', 'environment variable STAGING_DATABASE_URL is not set (used at environments[0].database)'],
      [15, 15, 'environments[1].database', 'environment variable PRODUCTION_DATABASE_URL is not set (used at environments[1].database)'],
    ]);
  });

  it('substitutes values, never keys, and reads plain numbers as numbers', () => {
    const env = { STAGING_DATABASE_URL: 'postgres://s/db', PRODUCTION_DATABASE_URL: 'postgres://p/db', KEY_NAME: 'NOPE' };
    const result = parseSpec(spec('${STAGING_DATABASE_URL}'), { file: 'promote.yaml', env });
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    const [staging, production] = result.spec.environments;
    expect(staging?.database).toBe('postgres://s/db');
    expect(production?.database).toBe('postgres://p/db');
    expect(staging?.target).toMatchObject({ basePort: 4100, env: { '${KEY_NAME}': '7' } });
  });

  it('keeps a quoted value a string', () => {
    const text = spec('postgres://s/db').replace('basePort: ${PORT:-4100}', 'basePort: "${PORT:-4100}"');
    const result = parseSpec(text, { file: 'promote.yaml', env: { PRODUCTION_DATABASE_URL: 'postgres://p/db' } });
    expect(result.problems.map((problem) => problem.message)).toEqual(['expected a whole number from 1 to 65535, got "4100"']);
  });

  it('cannot inject YAML structure through a value', () => {
    const env = { STAGING_DATABASE_URL: 'postgres://s/db\nversion: 2', PRODUCTION_DATABASE_URL: 'postgres://p/db' };
    const result = parseSpec(spec('${STAGING_DATABASE_URL}'), { file: 'promote.yaml', env });
    expect(result.ok && result.spec.version).toBe(1);
    expect(result.ok && result.spec.environments[0]?.database).toBe('postgres://s/db\nversion: 2');
  });

  it('does not echo the substituted secret in a later message', () => {
    const env = { STAGING_DATABASE_URL: 'mysql://admin:hunter2@db/orders', PRODUCTION_DATABASE_URL: 'postgres://p/db' };
    const result = parseSpec(spec('${STAGING_DATABASE_URL}'), { file: 'promote.yaml', env });
    expect(result.problems).toHaveLength(1);
    expect(JSON.stringify(result.problems)).not.toContain('hunter2');
  });
});
