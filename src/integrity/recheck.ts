/**
 * The re-check (after Ghostferry's verifier): a row that differed in the scan may only have been in
 * flight, written to one side and not yet to the other. Each candidate is read again from both sides
 * after a delay, `rounds` times, and reported only if it still differs every time; the report says
 * what the last read found (its kind, and which columns differ).
 */
import type pg from 'pg';
import type { Candidate } from './scan.js';
import type { KeyedRow, SideReader } from './side.js';
import type { Difference, Key } from './types.js';

const KEYS_PER_READ = 2000;

export interface RecheckResult {
  differences: Difference[];
  settled: number;
}

export async function recheck(
  candidates: readonly Candidate[],
  readers: { source: SideReader; target: SideReader },
  pools: { source: pg.Pool; target: pg.Pool },
  options: { delayMs: number; rounds: number; onProgress?: (done: number, total: number) => void },
): Promise<RecheckResult> {
  const unique = new Map<string, Key>();
  for (const candidate of candidates) unique.set(JSON.stringify(candidate.key), candidate.key);
  let pending = [...unique.values()];
  let found: Difference[] = [];
  const rounds = Math.max(1, options.rounds);
  for (let round = 0; round < rounds && pending.length > 0; round += 1) {
    await new Promise((resolve) => setTimeout(resolve, options.delayMs));
    found = [];
    for (let from = 0; from < pending.length; from += KEYS_PER_READ) {
      const keys = pending.slice(from, from + KEYS_PER_READ);
      const [sourceRows, targetRows] = await Promise.all([readers.source.rowsByKeys(pools.source, keys), readers.target.rowsByKeys(pools.target, keys)]);
      found.push(...classify(keys, sourceRows, targetRows, readers.source.columns.map((column) => column.name)));
    }
    pending = found.map((difference) => difference.key);
    options.onProgress?.(round + 1, rounds);
  }
  return { differences: sortDifferences(found), settled: unique.size - found.length };
}

export function classify(keys: readonly Key[], sourceRows: readonly KeyedRow[], targetRows: readonly KeyedRow[], columns: readonly string[]): Difference[] {
  const byKey = (rows: readonly KeyedRow[]) => {
    const map = new Map<string, KeyedRow[]>();
    for (const row of rows) {
      const id = JSON.stringify(row.key);
      map.set(id, [...(map.get(id) ?? []), row]);
    }
    return map;
  };
  const sources = byKey(sourceRows);
  const targets = byKey(targetRows);
  const differences: Difference[] = [];
  for (const key of keys) {
    const id = JSON.stringify(key);
    const s = sources.get(id) ?? [];
    const t = targets.get(id) ?? [];
    if (s.length > 1 || t.length > 1) differences.push({ kind: 'duplicate', key, rows: { source: s.length, target: t.length } });
    else if (s[0] !== undefined && t[0] === undefined) differences.push({ kind: 'missing', key });
    else if (s[0] === undefined && t[0] !== undefined) differences.push({ kind: 'extra', key });
    else if (s[0] !== undefined && t[0] !== undefined && s[0].hash !== t[0].hash) {
      const sourceValues = s[0].values ?? [];
      const targetValues = t[0].values ?? [];
      differences.push({ kind: 'different', key, columns: columns.filter((_name, index) => sourceValues[index] !== targetValues[index]) });
    }
  }
  return differences;
}

function sortDifferences(differences: Difference[]): Difference[] {
  const compareKeys = (a: Key, b: Key) => {
    for (let index = 0; index < Math.max(a.length, b.length); index += 1) {
      const x = a[index] ?? '';
      const y = b[index] ?? '';
      if (x === y) continue;
      const nx = Number(x);
      const ny = Number(y);
      if (x !== '' && y !== '' && Number.isFinite(nx) && Number.isFinite(ny)) return nx - ny;
      return x < y ? -1 : 1;
    }
    return 0;
  };
  return differences.sort((a, b) => compareKeys(a.key, b.key));
}
