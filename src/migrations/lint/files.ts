/**
 * The order a folder of plain-SQL migrations runs in, so each file is linted against the schema the
 * files before it built. Flyway's naming: versioned `V<version>__<description>.sql` by version
 * (1 < 1.1 < 2 < 10, `_` works as `.`), then undo `U<version>__...`, then repeatable `R__...` by
 * description; other `.sql` files last, in natural name order.
 */
import { basename } from 'node:path';

const FLYWAY = /^([VUR])([0-9][0-9._]*)?__(.*)\.sql$/i;
const GROUP: Record<string, number> = { V: 0, U: 1, R: 2 };

export function migrationOrder(paths: readonly string[]): string[] {
  return [...paths].sort((a, b) => compare(basename(a), basename(b)));
}

function compare(a: string, b: string): number {
  const left = FLYWAY.exec(a);
  const right = FLYWAY.exec(b);
  const groupOf = (match: RegExpExecArray | null) => (match ? (GROUP[(match[1] ?? '').toUpperCase()] ?? 3) : 3);
  const byGroup = groupOf(left) - groupOf(right);
  if (byGroup !== 0) return byGroup;
  if (left?.[2] && right?.[2]) {
    const byVersion = compareVersions(left[2], right[2]);
    if (byVersion !== 0) return byVersion;
  }
  return a.localeCompare(b, 'en', { numeric: true });
}

function compareVersions(a: string, b: string): number {
  const parts = (version: string) => version.split(/[._]/).filter(Boolean).map(Number);
  const left = parts(a);
  const right = parts(b);
  for (let index = 0; index < Math.max(left.length, right.length); index++) {
    const difference = (left[index] ?? 0) - (right[index] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}
