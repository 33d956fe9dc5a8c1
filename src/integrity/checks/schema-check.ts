/**
 * The `schema` check: this environment's app database has the same migration history (names and
 * checksums of the completed runs, in order) and the same shape (tables, columns, types, defaults,
 * constraints, indexes) as another environment's. Staging proved a shape; production must have it.
 */
import { readSchema } from '../../migrations/introspect.js';
import { STATE_SCHEMA } from '../../migrations/names.js';
import { listRuns } from '../../migrations/state.js';
import type { VirtualSchema } from '../../migrations/virtual-schema.js';
import { readOnly } from './read-only.js';
import { EVIDENCE_ROWS, type CheckResult } from './types.js';

export interface SchemaSnapshot {
  /** `name sha256` of each completed run, oldest first */
  migrations: string[];
  /** one line per table, column, constraint and index, sorted: two shapes are equal when the lines are */
  shape: string[];
}

export async function schemaSnapshot(url: string, schema: string, timeoutMs: number, doing: string): Promise<SchemaSnapshot> {
  return readOnly(url, timeoutMs, doing, async (client) => {
    const tracked = (await client.query<{ exists: boolean }>('select to_regclass($1) is not null as exists', [`${STATE_SCHEMA}.runs`])).rows[0]!.exists;
    const runs = tracked ? await listRuns(client, schema) : [];
    return { migrations: runs.filter((run) => run.phase === 'completed').map((run) => `${run.name} ${run.checksum}`), shape: shapeLines(await readSchema(client, schema)) };
  });
}

export function shapeLines(schema: VirtualSchema): string[] {
  const lines: string[] = [];
  for (const table of Object.values(schema.tables)) {
    if (table.removed) continue;
    lines.push(`table ${table.name}`);
    for (const column of table.columns) {
      lines.push(`column ${table.name}.${column.name} ${column.type}${column.nullable ? '' : ' not null'}${column.default !== null ? ` default ${column.default}` : ''}${column.generated ? ' generated' : ''}`);
    }
    if (table.primaryKey.length > 0) lines.push(`primary key ${table.name} (${table.primaryKey.join(', ')})`);
    for (const constraint of table.constraints) lines.push(`constraint ${table.name}.${constraint.name} ${constraint.definition}`);
    for (const index of table.indexes) lines.push(`index ${table.name}.${index.name} ${index.definition}`);
  }
  return lines.sort();
}

/** What one snapshot has and the other lacks, each side named. */
export function compareSnapshots(here: SchemaSnapshot, there: SchemaSnapshot, names: { here: string; there: string }): Pick<CheckResult, 'passed' | 'summary' | 'evidence'> {
  const historyEqual = here.migrations.length === there.migrations.length && here.migrations.every((entry, index) => entry === there.migrations[index]);
  const thereLines = new Set(there.shape);
  const hereLines = new Set(here.shape);
  const onlyHere = here.shape.filter((line) => !thereLines.has(line));
  const onlyThere = there.shape.filter((line) => !hereLines.has(line));
  const evidence = {
    migrations: { [names.here]: here.migrations, [names.there]: there.migrations },
    [`only in ${names.here}`]: onlyHere.slice(0, EVIDENCE_ROWS),
    [`only in ${names.there}`]: onlyThere.slice(0, EVIDENCE_ROWS),
  };
  if (historyEqual && onlyHere.length === 0 && onlyThere.length === 0) {
    return { passed: true, summary: `the same ${here.migrations.length} migration(s) and shape (${here.shape.length} objects) as ${names.there}`, evidence };
  }
  const problems = [
    ...(historyEqual ? [] : [`migration history differs (${names.here}: ${here.migrations.length} completed, ${names.there}: ${there.migrations.length})`]),
    ...(onlyHere.length > 0 ? [`${onlyHere.length} object(s) only in ${names.here}, first: ${onlyHere[0]}`] : []),
    ...(onlyThere.length > 0 ? [`${onlyThere.length} object(s) only in ${names.there}, first: ${onlyThere[0]}`] : []),
  ];
  return { passed: false, summary: problems.join('; '), evidence };
}
