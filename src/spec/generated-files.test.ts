/**
 * The JSON Schema and the reference page are generated from the zod schema and committed, so that
 * editors and readers get them without running Promote. These tests fail when they are stale;
 * UPDATE_GENERATED=1 rewrites them.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { specJsonSchemaText, writeSpecJsonSchema } from './json-schema.js';
import { specReferenceMarkdown, writeSpecReference } from './reference.js';

const repositoryFile = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));
const update = process.env.UPDATE_GENERATED === '1' || process.env.UPDATE_GENERATED === 'true';
const howToUpdate = 'run `UPDATE_GENERATED=1 npx vitest run src/spec` to regenerate it, then review and commit the change';

describe('committed generated files', () => {
  it.each([
    ['schema/promote.schema.json', specJsonSchemaText, writeSpecJsonSchema],
    ['docs/spec-reference.md', specReferenceMarkdown, writeSpecReference],
  ] as const)('%s is current', async (path, generate, write) => {
    const file = repositoryFile(path);
    if (update) await write(file);
    const committed = await readFile(file, 'utf8').catch(() => '(missing)');
    expect(committed, `${path} is out of date: ${howToUpdate}`).toBe(generate());
  });
});
