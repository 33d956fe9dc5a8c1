/**
 * Repairs, only by an explicit policy:
 *
 * - `source-wins`: the target is made to hold what the source holds now, key by key, in bounded
 *   batches, one target transaction each. The source rows are read again at repair time; per batch the
 *   target loses the keys the source no longer has and every duplicate of a key, rows whose compared
 *   columns differ are updated (other target columns are left alone), and missing rows are inserted.
 *   Each statement only acts where the target still differs, so running a batch twice changes nothing
 *   the second time.
 * - `flag`: nothing changes; the differences are recorded for a person.
 *
 * Every batch is one event in Promote's hash-chained audit trail (`reconcile.repaired` or
 * `reconcile.flagged`), appended after the batch commits: the store is another database, so the two
 * cannot share a transaction. If the append fails, the run stops naming the batch that committed
 * without its event.
 */
import type pg from 'pg';
import { PromoteError, wrapError } from '../errors.js';
import { ident } from '../migrations/sql.js';
import { appendEvent } from '../store/events.js';
import type { ColumnInfo, SideShape } from './describe.js';
import type { Difference, Key, RepairOptions, RepairReport } from './types.js';

export const DEFAULT_BATCH_ROWS = 500;

export interface RepairContext {
  source: { pool: pg.Pool; shape: SideShape; key: readonly ColumnInfo[]; columns: readonly ColumnInfo[] };
  target: { pool: pg.Pool; shape: SideShape; key: readonly ColumnInfo[] };
}

export function checkRepairOptions(repair: RepairOptions, target: SideShape): void {
  if (repair.policy !== 'source-wins' && repair.policy !== 'flag') {
    throw new PromoteError(`repair policy ${JSON.stringify(repair.policy)} is not one Promote knows: use source-wins or flag`);
  }
  if (repair.store === undefined) throw new PromoteError('a repair needs the state store, to record every batch in the audit trail');
  if (repair.batchRows !== undefined && (!Number.isSafeInteger(repair.batchRows) || repair.batchRows < 1)) throw new PromoteError(`repair batchRows ${repair.batchRows}: expected a whole number, 1 or more`);
  if (repair.policy === 'source-wins' && target.table === undefined) {
    throw new PromoteError(`a source-wins repair writes to the target, which must be a table; ${target.label} is a query`, { hint: 'put the translation on the source side, or use --repair flag' });
  }
}

export async function runRepair(differences: readonly Difference[], repair: RepairOptions, context: RepairContext): Promise<RepairReport> {
  const batchRows = repair.batchRows ?? DEFAULT_BATCH_ROWS;
  const report: RepairReport = { policy: repair.policy, batches: 0, deleted: 0, updated: 0, inserted: 0, eventSeqs: [] };
  for (let from = 0; from < differences.length; from += batchRows) {
    const batch = differences.slice(from, from + batchRows);
    const changed = repair.policy === 'source-wins' ? await applyBatch(batch.map((difference) => difference.key), context) : { deleted: 0, updated: 0, inserted: 0 };
    report.batches += 1;
    report.deleted += changed.deleted;
    report.updated += changed.updated;
    report.inserted += changed.inserted;
    const type = repair.policy === 'source-wins' ? 'reconcile.repaired' : 'reconcile.flagged';
    try {
      const event = await appendEvent(repair.store, {
        type,
        actor: repair.actor ?? 'reconcile',
        app: repair.app ?? null,
        environment: repair.environment ?? null,
        data: { source: context.source.shape.label, target: context.target.shape.label, policy: repair.policy, batch: report.batches, differences: batch, ...changed },
      });
      report.eventSeqs.push(event.seq);
    } catch (error) {
      throw wrapError(`reconcile: repair batch ${report.batches} (${batch.length} key(s)) ${repair.policy === 'source-wins' ? 'committed on the target' : 'was flagged'} but recording it in the audit trail failed`, error);
    }
  }
  return report;
}

/** `(k1, k2) in (keys passed as text arrays from $first on)`. */
function keyIn(key: readonly ColumnInfo[], first: number, prefix = ''): string {
  const names = key.map((_column, index) => `u${index}`);
  const casts = key.map((column, index) => `u${index}::${column.type}`).join(', ');
  const arrays = key.map((_column, index) => `$${first + index}::text[]`).join(', ');
  return `(${key.map((column) => prefix + ident(column.name)).join(', ')}) in (select ${casts} from unnest(${arrays}) as u(${names.join(', ')}))`;
}

async function applyBatch(keys: readonly Key[], context: RepairContext): Promise<{ deleted: number; updated: number; inserted: number }> {
  const { source, target } = context;
  const keyParams = source.key.map((_column, index) => keys.map((key) => key[index] ?? ''));
  const keyCols = source.key.map((column) => ident(column.name));
  const selected = [...source.key, ...source.columns].map((column) => ident(column.name)).join(', ');
  let rowsJson: string;
  try {
    const read = await source.pool.query<{ rows: string }>(
      `select coalesce(jsonb_agg(to_jsonb(r)), '[]'::jsonb)::text as rows from (select ${selected} from ${source.shape.from} where ${keyIn(source.key, 1)}) as r`,
      keyParams,
    );
    rowsJson = read.rows[0]?.rows ?? '[]';
  } catch (error) {
    throw wrapError(`reconcile: reading the source rows to repair from ${source.shape.label}`, error);
  }
  const table = target.shape.table ?? '';
  const generated = new Set(target.shape.generated);
  const writable = source.columns.filter((column) => !generated.has(column.name)).map((column) => ident(column.name));
  const rows = `jsonb_populate_recordset(null::${table}, $1::jsonb)`;
  const sameKey = (left: string, right: string) => keyCols.map((column) => `${left}.${column} = ${right}.${column}`).join(' and ');
  let client: pg.PoolClient;
  try {
    client = await target.pool.connect();
  } catch (error) {
    throw wrapError('reconcile: connecting to the target database to repair', error);
  }
  let broken = false;
  try {
    await client.query('begin');
    const params = [rowsJson, ...keyParams];
    const gone = await client.query(`delete from ${table} as t where ${keyIn(target.key, 2, 't.')} and not exists (select from ${rows} as s where ${sameKey('s', 't')})`, params);
    const doubled = await client.query(
      `delete from ${table} as t where ${keyIn(target.key, 1, 't.')} and (${keyCols.map((column) => `t.${column}`).join(', ')}) in (select ${keyCols.join(', ')} from ${table} where ${keyIn(target.key, 1)} group by ${keyCols.join(', ')} having count(*) > 1)`,
      keyParams,
    );
    const updated = writable.length === 0 ? { rowCount: 0 } : await client.query(
      `update ${table} as t set ${writable.map((column) => `${column} = s.${column}`).join(', ')} from ${rows} as s
        where ${sameKey('s', 't')} and (${writable.map((column) => `t.${column}`).join(', ')}) is distinct from (${writable.map((column) => `s.${column}`).join(', ')})`,
      [rowsJson],
    );
    const inserted = await client.query(
      `insert into ${table} (${[...keyCols, ...writable].join(', ')}) overriding system value
       select ${[...keyCols, ...writable].map((column) => `s.${column}`).join(', ')} from ${rows} as s where not exists (select from ${table} as t where ${sameKey('s', 't')})`,
      [rowsJson],
    );
    await client.query('commit');
    return { deleted: (gone.rowCount ?? 0) + (doubled.rowCount ?? 0), updated: updated.rowCount ?? 0, inserted: inserted.rowCount ?? 0 };
  } catch (error) {
    broken = await client.query('rollback').then(() => false, () => true);
    throw wrapError(`reconcile: repairing ${keys.length} key(s) of the target ${target.shape.label} (rolled back)`, error);
  } finally {
    client.release(broken);
  }
}
