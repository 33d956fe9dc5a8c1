/**
 * docs/spec-reference.md, generated from the JSON Schema so the docs list exactly the fields,
 * defaults and allowed values that the loader accepts.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { wrapError } from '../errors.js';
import { durationExamples } from './duration.js';
import { specJsonSchema, specSchemaId } from './json-schema.js';
import { headerNamePattern, namePattern } from './schema-meta.js';

type JsonSchema = {
  type?: string | string[];
  const?: unknown;
  enum?: unknown[];
  default?: unknown;
  description?: string;
  pattern?: string;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  minProperties?: number;
  maxProperties?: number;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  oneOf?: JsonSchema[];
  anyOf?: JsonSchema[];
};

interface Row {
  field: string;
  variant: string | undefined;
  type: string;
  presence: string;
  description: string;
}

const durationPatternPrefix = '^(?=\\d)';

/** Patterns that read better as a word; the full rule is in the JSON Schema. */
const namedPatterns: Record<string, string> = {
  [namePattern.source]: 'name (lowercase letters, digits, dashes; starts with a letter)',
  [headerNamePattern.source]: 'header name',
  '^\\/.*': 'path starting with `/`',
};

export function specReferenceMarkdown(): string {
  const root = specJsonSchema() as JsonSchema;
  const sections = Object.entries(root.properties ?? {}).map(([name, schema]) => {
    const rows = mergeVariants(fieldRows(name, schema, root.required?.includes(name) ?? false, undefined));
    return [`## \`${name}\``, '', schema.description ?? '', '', '| Field | Type | Required / default | Description |', '| --- | --- | --- | --- |', ...rows.map(formatRow), ''].join('\n');
  });
  return `${[intro(), ...sections].join('\n').trimEnd()}\n`;
}

function intro(): string {
  return [
    '# promote.yaml reference',
    '',
    '<!-- Generated from src/spec/schema*.ts by specReferenceMarkdown(); do not edit by hand. -->',
    '<!-- Regenerate with: UPDATE_GENERATED=1 npx vitest run src/spec -->',
    '',
    '`promote.yaml` describes one app: its environments in promotion order, how releases roll out to each',
    '(strategies made of steps), the analyses that judge a rollout, and the feature flags it declares.',
    '`promote init` writes a commented starting point; `promote validate` lists every problem with its line.',
    '',
    `The JSON Schema ([schema/promote.schema.json](../schema/promote.schema.json), \`$id\` ${specSchemaId})`,
    'gives editors completion and inline errors. Put this line at the top of the file:',
    '',
    '```yaml',
    '# yaml-language-server: $schema=./node_modules/promote/schema/promote.schema.json',
    '```',
    '',
    'Conventions:',
    '',
    `- **Durations** are text with a unit: ${durationExamples}. A bare number is an error, because \`30\` could mean seconds or milliseconds.`,
    '- **`${VAR}`** in any value is replaced by the environment variable at load time; `${VAR:-default}` gives a default and `$${` writes a literal `${`. Keys are never substituted.',
    '- **`{{version}}`, `{{environment}}`, `{{app}}`** in target commands and URLs are filled in per version when Promote runs them.',
    '- Unknown fields are errors, so a typo never silently falls back to a default.',
    '- `<name>` in a field path stands for a key you choose; `[]` for each entry of a list.',
    '',
  ].join('\n');
}

function fieldRows(path: string, schema: JsonSchema, required: boolean, variant: string | undefined): Row[] {
  const rows: Row[] = [{ field: path, variant, type: typeOf(schema), presence: presenceOf(schema, required), description: describe(schema) }];
  return [...rows, ...childRows(path, schema, variant)];
}

function childRows(path: string, schema: JsonSchema, variant: string | undefined): Row[] {
  const rows: Row[] = [];
  for (const [name, property] of Object.entries(schema.properties ?? {})) {
    rows.push(...fieldRows(`${path}.${name}`, property, schema.required?.includes(name) ?? false, variant));
  }
  if (schema.items !== undefined) rows.push(...childRows(`${path}[]`, schema.items, variant));
  if (typeof schema.additionalProperties === 'object') rows.push(...childRows(`${path}.<name>`, schema.additionalProperties, variant));
  for (const option of objectVariants(schema)) {
    const discriminator = option.properties?.type?.const;
    const label = typeof discriminator === 'string' ? `type: ${discriminator}` : variant;
    if (label !== variant) rows.push({ field: `${path}.type`, variant: label, type: `\`${String(discriminator)}\``, presence: 'required', description: describe(option) });
    for (const [name, property] of Object.entries(option.properties ?? {})) {
      if (name === 'type' && label !== variant) continue;
      rows.push(...fieldRows(`${path}.${name}`, property, option.required?.includes(name) ?? false, label));
    }
  }
  return rows;
}

/** Alternatives that are objects with fields of their own (discriminated variants, or `x` vs `{...}` forms). */
function objectVariants(schema: JsonSchema): JsonSchema[] {
  return [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].filter((option) => option.properties !== undefined && Object.keys(option.properties).length > 0);
}

function typeOf(schema: JsonSchema): string {
  if (schema.const !== undefined) return `\`${JSON.stringify(schema.const)}\``;
  if (schema.enum !== undefined) return schema.enum.map((value) => `\`${String(value)}\``).join(', ');
  const alternatives = [...(schema.oneOf ?? []), ...(schema.anyOf ?? [])].filter((option) => option.type !== 'null' && option.properties?.type?.const === undefined);
  if (alternatives.length > 0 && schema.type === undefined) return alternatives.map(typeOf).join(', or ');
  if (schema.oneOf !== undefined && schema.type === undefined) return 'object, by `type`';
  if (Array.isArray(schema.type)) return schema.type.join(', ');
  switch (schema.type) {
    case 'string':
      if (schema.pattern === undefined) return 'string';
      if (schema.pattern.startsWith(durationPatternPrefix)) return 'duration';
      return namedPatterns[schema.pattern] ?? `string matching ${code(schema.pattern)}`;
    case 'integer':
    case 'number':
      return `${schema.type}${rangeOf(schema)}`;
    case 'array':
      return schema.items === undefined ? 'list' : `list of ${typeOf(schema.items)}${schema.minItems ? ` (at least ${schema.minItems})` : ''}`;
    case 'object':
      return typeof schema.additionalProperties === 'object' ? `map of name to ${typeOf(schema.additionalProperties)}` : 'object';
    default:
      return schema.type ?? 'any';
  }
}

function rangeOf(schema: JsonSchema): string {
  const parts: string[] = [];
  if (schema.minimum !== undefined && schema.maximum !== undefined) parts.push(`${schema.minimum} to ${schema.maximum}`);
  else if (schema.minimum !== undefined) parts.push(`≥ ${schema.minimum}`);
  else if (schema.exclusiveMinimum !== undefined) parts.push(`> ${schema.exclusiveMinimum}`);
  else if (schema.maximum !== undefined) parts.push(`≤ ${schema.maximum}`);
  if (schema.multipleOf !== undefined) parts.push(`step ${schema.multipleOf}`);
  return parts.length === 0 ? '' : ` (${parts.join(', ')})`;
}

function presenceOf(schema: JsonSchema, required: boolean): string {
  if (schema.default !== undefined) return `default \`${JSON.stringify(schema.default)}\``;
  return required ? 'required' : 'optional';
}

function describe(schema: JsonSchema): string {
  const notes: string[] = [];
  const choices = (list: JsonSchema[] | undefined) =>
    list !== undefined && list.length > 0 && list.every((option) => Object.keys(option).length === 1 && option.required?.length === 1)
      ? list.map((option) => `\`${option.required?.[0] ?? ''}\``).join(', ')
      : undefined;
  const exactlyOne = choices(schema.oneOf);
  const atLeastOne = choices(schema.anyOf);
  if (exactlyOne !== undefined) notes.push(`Exactly one of ${exactlyOne}.`);
  if (atLeastOne !== undefined) notes.push(`At least one of ${atLeastOne}.`);
  if (schema.minProperties === 1 && schema.maxProperties === 1) notes.push('Exactly one key.');
  if (schema.anyOf?.some((option) => option.type === 'null')) notes.push('May be left empty.');
  return [schema.description ?? '', ...notes].filter((text) => text !== '').join(' ');
}

/** Fields that several variants share (the steps of both strategy types, provider timeouts) are listed once. */
function mergeVariants(rows: Row[]): Row[] {
  const merged = new Map<string, Row>();
  for (const row of rows) {
    const key = JSON.stringify([row.field, row.type, row.presence, row.description]);
    const earlier = merged.get(key);
    if (earlier === undefined) merged.set(key, { ...row });
    else if (earlier.variant !== undefined && row.variant !== undefined) earlier.variant += `, ${row.variant.replace(/^type: /, '')}`;
  }
  return [...merged.values()];
}

function code(text: string): string {
  return text.includes('`') ? `\`\` ${text} \`\`` : `\`${text}\``;
}

function formatRow(row: Row): string {
  const field = `\`${row.field}\`${row.variant === undefined ? '' : ` (${row.variant})`}`;
  return `| ${[field, row.type, row.presence, row.description].map(escapeCell).join(' | ')} |`;
}

function escapeCell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export async function writeSpecReference(path: string): Promise<void> {
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, specReferenceMarkdown());
  } catch (error) {
    throw wrapError(`writing the spec reference to ${path}`, error);
  }
}
