/**
 * The JSON Schema of promote.yaml, for editors (completion and inline errors through
 * yaml-language-server). Generated from the zod schema, describing what users write: durations as
 * text, defaults as written.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { z } from 'zod';
import { wrapError } from '../errors.js';
import { promoteSpecSchema } from './schema.js';

export const specSchemaId = 'https://promote.dev/schema/promote.schema.json';

export function specJsonSchema(): Record<string, unknown> {
  const generated = z.toJSONSchema(promoteSpecSchema, {
    io: 'input',
    // Draft 7 is what yaml-language-server and most editors understand fully.
    target: 'draft-07',
    // Refinements (exactly-one rules, condition syntax) are checked by Promote itself; editors get
    // the structure, and the exactly-one rules through the oneOf keywords added with .meta().
    unrepresentable: 'any',
    override: ({ jsonSchema }) => {
      // zod marks startsWith() with a format no JSON Schema validator knows; the pattern says it already.
      if (jsonSchema.format === 'starts_with') delete jsonSchema.format;
      // .int() adds the safe-integer range; it is noise to a reader and to an editor.
      if (jsonSchema.maximum === Number.MAX_SAFE_INTEGER) delete jsonSchema.maximum;
      if (jsonSchema.minimum === Number.MIN_SAFE_INTEGER) delete jsonSchema.minimum;
    },
  }) as Record<string, unknown>;
  const { $schema, ...rest } = generated;
  return { $schema, $id: specSchemaId, title: 'promote.yaml', ...rest };
}

/** The committed schema file's exact content. */
export function specJsonSchemaText(): string {
  return `${JSON.stringify(specJsonSchema(), null, 2)}\n`;
}

export async function writeSpecJsonSchema(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, specJsonSchemaText());
  } catch (error) {
    throw wrapError(`writing the JSON Schema to ${path}`, error);
  }
}
