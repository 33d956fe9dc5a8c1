/**
 * Which 64-bit row hash both sides use. `hashtextextended` is PostgreSQL's own hash (hash partitioning
 * depends on it, so its values do not change across major versions since 11) and costs about half of
 * md5 per row, but it reads words in the server's byte order: a big-endian and a little-endian server
 * hash the same text differently. So both servers hash the same probe texts (every length up to and
 * past a few words, multibyte characters, the empty text); only when every probe hashes alike on both,
 * and both have the function, is it used. Otherwise both sides use md5, which is the same everywhere.
 * The choice is the same for both sides, always: a sum of one function is never compared with a sum
 * of the other.
 */
import type pg from 'pg';
import type { HashFunction } from './canonical.js';

const PROBES = ['', 'a', 'ab,', "'NULL'", 'promote reconcile probe', 'ünïcödé 値 🙂 ,NULL,\'\'', 'x'.repeat(13), 'y'.repeat(64) + '0123456789'];

async function probe(pool: pg.Pool): Promise<string[] | undefined> {
  try {
    const result = await pool.query<{ h: string[] }>(`select array(select hashtextextended(p collate "C", 0)::text from unnest($1::text[]) with ordinality as u(p, n) order by n) as h`, [PROBES]);
    return result.rows[0]?.h;
  } catch {
    // no such function (PostgreSQL before 11), or a server that cannot run it: md5 for both
    return undefined;
  }
}

export async function chooseHash(source: pg.Pool, target: pg.Pool): Promise<HashFunction> {
  const [a, b] = await Promise.all([probe(source), probe(target)]);
  if (a === undefined || b === undefined || a.length !== PROBES.length) return 'md5';
  return a.every((value, index) => value === b[index]) ? 'hashtextextended' : 'md5';
}
