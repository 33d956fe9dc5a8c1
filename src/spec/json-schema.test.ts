import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { specJsonSchema, specSchemaId } from './json-schema.js';
import { initTemplate } from './template.js';

type Schema = Record<string, unknown>;

/**
 * Just enough of JSON Schema (the keywords the generated schema uses) to check that editors would
 * accept the files we ship. Returns the paths that fail.
 */
function validate(schema: Schema, value: unknown, path = ''): string[] {
  const errors: string[] = [];
  const fail = (why: string) => errors.push(`${path || '(root)'}: ${why}`);
  const kind = value === null ? 'null' : Array.isArray(value) ? 'array' : typeof value;
  const types = schema.type === undefined ? undefined : ([] as unknown[]).concat(schema.type);
  if (types && !types.some((type) => type === kind || (type === 'integer' && Number.isInteger(value)))) fail(`type ${kind}, expected ${types.join('|')}`);
  if ('const' in schema && schema.const !== value) fail(`not ${JSON.stringify(schema.const)}`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) fail(`not in enum`);
  if (typeof value === 'string' && typeof schema.pattern === 'string' && !new RegExp(schema.pattern, 'u').test(value)) fail(`does not match ${schema.pattern}`);
  if (typeof value === 'string' && typeof schema.minLength === 'number' && value.length < schema.minLength) fail('too short');
  if (typeof value === 'number' && typeof schema.minimum === 'number' && value < schema.minimum) fail('below minimum');
  if (typeof value === 'number' && typeof schema.maximum === 'number' && value > schema.maximum) fail('above maximum');
  if (Array.isArray(value)) {
    if (typeof schema.minItems === 'number' && value.length < schema.minItems) fail('too few items');
    if (schema.items) value.forEach((item, index) => errors.push(...validate(schema.items as Schema, item, `${path}[${index}]`)));
  }
  if (kind === 'object') {
    const object = value as Record<string, unknown>;
    const properties = (schema.properties ?? {}) as Record<string, Schema>;
    for (const key of (schema.required ?? []) as string[]) if (!(key in object)) fail(`missing ${key}`);
    const count = Object.keys(object).length;
    if (typeof schema.minProperties === 'number' && count < schema.minProperties) fail('too few keys');
    if (typeof schema.maxProperties === 'number' && count > schema.maxProperties) fail('too many keys');
    for (const [key, item] of Object.entries(object)) {
      const itemPath = `${path}.${key}`;
      if (properties[key]) errors.push(...validate(properties[key], item, itemPath));
      else if (schema.additionalProperties === false) fail(`unknown key ${key}`);
      else if (typeof schema.additionalProperties === 'object') errors.push(...validate(schema.additionalProperties as Schema, item, itemPath));
      if (schema.propertyNames) errors.push(...validate(schema.propertyNames as Schema, key, `${itemPath} (key)`));
    }
  }
  if (Array.isArray(schema.oneOf)) {
    const results = (schema.oneOf as Schema[]).map((option) => validate(option, value, path));
    const passing = results.filter((result) => result.length === 0).length;
    if (passing !== 1) fail(`matches ${passing} of oneOf`);
    // Like editors, show why the closest alternative failed.
    if (passing === 0) errors.push(...results.reduce((best, result) => (result.length < best.length ? result : best)));
  }
  if (Array.isArray(schema.anyOf) && !(schema.anyOf as Schema[]).some((option) => validate(option, value, path).length === 0)) fail('matches none of anyOf');
  return errors;
}

describe('specJsonSchema', () => {
  it('names itself for editors', () => {
    const schema = specJsonSchema();
    expect(schema.$schema).toBe('http://json-schema.org/draft-07/schema#');
    expect(schema.$id).toBe(specSchemaId);
    expect(schema.title).toBe('promote.yaml');
  });

  it('accepts the shipped example and the init template', async () => {
    const example = parse(await readFile(new URL('../../examples/promote.yaml', import.meta.url), 'utf8')) as unknown;
    expect(validate(specJsonSchema(), example)).toEqual([]);
    expect(validate(specJsonSchema(), parse(initTemplate({ app: 'billing' })))).toEqual([]);
  });

  it('rejects what the loader rejects: unknown keys, two-key steps, bare-number durations', () => {
    type Spec = {
      colour?: string;
      migrations: { lockTimeout: unknown };
      environments: { target: Record<string, unknown> }[];
      strategies: { canary: { steps: unknown[] } };
    };
    const base = parse(initTemplate({ app: 'billing' })) as Spec;
    const errorsFor = (change: (spec: Spec) => void) => {
      const copy = structuredClone(base);
      change(copy);
      return validate(specJsonSchema(), copy);
    };
    expect(errorsFor((spec) => (spec.colour = 'blue'))).toContain('(root): unknown key colour');
    expect(errorsFor((spec) => spec.strategies.canary.steps.push({ setWeight: 10, pause: {} })).join()).toContain('too many keys');
    expect(errorsFor((spec) => (spec.migrations.lockTimeout = 500)).join()).toContain('migrations.lockTimeout: type number');
    expect(errorsFor((spec) => (spec.environments[0]!.target.url = 'http://x')).join()).toContain('matches 0 of oneOf');
  });
});
