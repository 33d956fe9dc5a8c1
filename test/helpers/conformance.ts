/**
 * Peer conformance data, which the workplace keeps beside the project in ../shared/conformance (see
 * its README). The tests read it there; the repository keeps no copy. Without it the tests that need
 * it fail, saying where they looked: they are never skipped.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import { it } from 'vitest';

const REPOSITORY = new URL('../../', import.meta.url);
/** `../shared/conformance/` from the repository root. */
export const CONFORMANCE = new URL('../shared/conformance/', REPOSITORY);
export const PGROLL = new URL('pgroll/', CONFORMANCE);

/** pgroll's schema.json, as much of it as the tests read. */
export interface PgrollSchema {
  $id: string;
  $defs: Record<string, PgrollDefinition>;
}

export interface PgrollDefinition {
  [keyword: string]: unknown;
  properties?: Record<string, PgrollDefinition>;
  required?: string[];
  anyOf?: PgrollDefinition[];
  $ref?: string;
}

export interface PgrollConformance {
  /** the examples folder, as a path */
  examplesDir: string;
  /** the file names, in the order of examples/.ledger */
  names: string[];
  /** the text of each example, by file name */
  texts: ReadonlyMap<string, string>;
  schema: PgrollSchema;
}

let loaded: PgrollConformance | undefined;

/** pgroll's examples and schema from ../shared/conformance/pgroll; throws, naming the place, when they are not there. */
export function pgrollConformance(): PgrollConformance {
  if (loaded !== undefined) return loaded;
  const ledger = new URL('examples/.ledger', PGROLL);
  const schemaFile = new URL('schema.json', PGROLL);
  for (const needed of [ledger, schemaFile]) {
    if (!existsSync(needed)) {
      throw new Error(
        `pgroll conformance data not found: looked for ${fileURLToPath(needed)}. ` +
          `The workplace provides ../shared/conformance beside the project (here ${fileURLToPath(CONFORMANCE)}), ` +
          "with pgroll's examples and schema.json; the tests read them there, and the repository keeps no copy of them.",
      );
    }
  }
  const names = readFileSync(ledger, 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const texts = new Map(names.map((name) => [name, readFileSync(new URL(`examples/${name}`, PGROLL), 'utf8')]));
  loaded = { examplesDir: fileURLToPath(new URL('examples/', PGROLL)), names, texts, schema: JSON.parse(readFileSync(schemaFile, 'utf8')) as PgrollSchema };
  return loaded;
}

/**
 * Defines the tests that need the data. When it is missing, defines one failing test in their place
 * that says where it looked, so the rest of the file still runs.
 */
export function withPgrollConformance(define: (data: PgrollConformance) => void): void {
  let data: PgrollConformance;
  try {
    data = pgrollConformance();
  } catch (error) {
    it('finds the pgroll conformance data in ../shared/conformance/pgroll', () => {
      throw error;
    });
    return;
  }
  define(data);
}

/** pgroll's own verdicts, from its schema.json compiled here, in the tests only. */
export interface PgrollValidators {
  migration: ValidateFunction;
  operation: ValidateFunction;
}

let compiled: PgrollValidators | undefined;

export function pgrollValidators(schema: PgrollSchema): PgrollValidators {
  if (compiled !== undefined) return compiled;
  // not strict: the schema is pgroll's, used as published (it carries code-generator hints)
  const ajv = new Ajv2020({ allErrors: false, strict: false });
  ajv.addSchema(schema);
  const get = (definition: string): ValidateFunction => {
    const validate = ajv.getSchema(`${schema.$id}#/$defs/${definition}`);
    if (validate === undefined) throw new Error(`pgroll's schema.json has no definition ${definition}`);
    return validate;
  };
  compiled = { migration: get('PgRollMigration'), operation: get('PgRollOperation') };
  return compiled;
}

/** pgroll's operation names, in the order of its schema, with the definition of each one's fields. */
export function pgrollOperations(schema: PgrollSchema): Map<string, PgrollDefinition> {
  const definitionOf = (ref: string): PgrollDefinition => {
    const definition = schema.$defs[ref.replace('#/$defs/', '')];
    if (definition === undefined) throw new Error(`pgroll's schema.json has no definition ${ref}`);
    return definition;
  };
  return new Map(
    (schema.$defs.PgRollOperation?.anyOf ?? []).flatMap((branch) => Object.entries(branch.properties ?? {}).map(([name, property]) => [name, definitionOf(property.$ref ?? '')] as const)),
  );
}
