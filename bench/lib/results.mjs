// Where a benchmark's JSON goes and what it always records: the command that reproduces it.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';

/**
 * Writes `body` (plus the command line of `script`) to `out`, or to bench/results/<name>-<time>.json
 * under `root`; returns the path written.
 */
export function writeResults({ root, name, script, startedAt, out, body }) {
  const path = out ?? join(root, 'bench', 'results', `${name}-${startedAt.toISOString().replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z')}.json`);
  mkdirSync(dirname(path), { recursive: true });
  const command = `node ${relative(root, script)} ${process.argv.slice(2).join(' ')}`.trim();
  writeFileSync(path, `${JSON.stringify({ command, ...body }, null, 2)}\n`);
  return path;
}
