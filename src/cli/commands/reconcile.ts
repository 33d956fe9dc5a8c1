/**
 * `promote reconcile`: compares a source and a target table (or a translating query on either side), in
 * one database or two, and prints what differs. Exit code 0 when they are equal, 1 when rows differ
 * (also after a repair: the run found them), 2 for usage errors. A repair runs only with --repair.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, ReportedFailure, UsageError } from '../../errors.js';
import { reconcile } from '../../integrity/reconcile.js';
import type { Difference, ReconcileOptions, ReconcileReport, RepairPolicy, SideInput } from '../../integrity/types.js';
import type { CliContext } from '../io.js';
import { printJson, printLine, printTable } from '../output.js';
import { currentActor, findEnvironment, loadConfig } from '../spec.js';
import { withStore } from '../store.js';

interface ReconcileCliOptions {
  source: string;
  sourceTable?: string;
  sourceQuery?: string;
  target: string;
  targetTable?: string;
  targetQuery?: string;
  key?: string;
  columns?: string;
  chunkRows?: string;
  repair?: string;
  batchRows?: string;
  json?: boolean;
}

const KEYS_SHOWN = 50;

export function registerReconcile(program: Command, context: () => CliContext): void {
  program
    .command('reconcile')
    .description('compare a source and a target table row by row (chunked checksums, bisection, re-check) and report missing, extra and different rows')
    .requiredOption('--source <url|env:name>', 'the source database: a postgres:// URL, or env:<name> for the database of that environment in promote.yaml')
    .option('--source-table <table>', 'the source table')
    .option('--source-query <sql>', 'instead of a table: a SELECT giving the source rows in the compared shape (a translation)')
    .requiredOption('--target <url|env:name>', 'the target database (may be the same as the source)')
    .option('--target-table <table>', 'the target table')
    .option('--target-query <sql>', 'instead of a table: a SELECT giving the target rows in the compared shape')
    .option('--key <columns>', 'comma-separated key columns (default: the primary key)')
    .option('--columns <columns>', 'comma-separated columns to compare, in this order (default: every non-key source column)')
    .option('--chunk-rows <n>', 'rows per first-level chunk (default 20000)')
    .option('--repair <policy>', 'source-wins: make the target match the source; flag: record the differences for a person (default: report only)')
    .option('--batch-rows <n>', 'keys per repair transaction and audit event (default 500)')
    .option('--json', 'print JSON')
    .action(async (options: ReconcileCliOptions) => {
      const ctx = context();
      const reconcileOptions = await toOptions(ctx, options);
      const report = options.repair === undefined
        ? await reconcile(reconcileOptions)
        : await withStore(ctx, (store) => reconcile({ ...reconcileOptions, repair: { policy: options.repair as RepairPolicy, store: store.pool, actor: currentActor(ctx), ...(options.batchRows === undefined ? {} : { batchRows: whole(options.batchRows, '--batch-rows') }) } }));
      if (options.json === true) printJson(ctx.io, report);
      else printReport(ctx, report);
      if (!report.equal) throw new ReportedFailure(`${report.differences.length} row(s) differ`, ExitCode.failed);
    });
}

function whole(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < 1) throw new UsageError(`${option} ${text}: expected a whole number, 1 or more`);
  return value;
}

function list(text: string | undefined, option: string): string[] | undefined {
  if (text === undefined) return undefined;
  const names = text.split(',').map((name) => name.trim());
  if (names.some((name) => name === '')) throw new UsageError(`${option} ${JSON.stringify(text)}: expected comma-separated column names`);
  return names;
}

async function toOptions(ctx: CliContext, options: ReconcileCliOptions): Promise<ReconcileOptions> {
  if (options.repair !== undefined && options.repair !== 'source-wins' && options.repair !== 'flag') {
    throw new UsageError(`--repair ${options.repair}: expected source-wins or flag`);
  }
  const side = async (which: 'source' | 'target', url: string, table: string | undefined, query: string | undefined): Promise<SideInput> => {
    if ((table === undefined) === (query === undefined)) throw new UsageError(`name the ${which} with --${which}-table <table> or --${which}-query <sql> (one of them)`);
    return { url: await databaseUrl(ctx, url, `--${which}`), ...(table === undefined ? {} : { table }), ...(query === undefined ? {} : { query }) };
  };
  const key = list(options.key, '--key');
  const columns = list(options.columns, '--columns');
  return {
    source: await side('source', options.source, options.sourceTable, options.sourceQuery),
    target: await side('target', options.target, options.targetTable, options.targetQuery),
    ...(key === undefined ? {} : { key }),
    ...(columns === undefined ? {} : { columns }),
    ...(options.chunkRows === undefined ? {} : { chunkRows: whole(options.chunkRows, '--chunk-rows') }),
  };
}

async function databaseUrl(ctx: CliContext, given: string, option: string): Promise<string> {
  if (!given.startsWith('env:')) {
    if (!/^postgres(ql)?:\/\//.test(given)) throw new UsageError(`${option}: expected a postgres:// URL or env:<name>`);
    return given;
  }
  const configPath = resolve(ctx.io.cwd, ctx.globals.config);
  if (!existsSync(configPath)) throw new UsageError(`${option} ${given} needs promote.yaml (looked for ${configPath})`);
  const config = await loadConfig(ctx);
  const environment = findEnvironment(config.spec, given.slice('env:'.length));
  if (environment.database === undefined || environment.database === '') throw new UsageError(`environment ${environment.name} of promote.yaml has no database`);
  return environment.database;
}

function keyText(difference: Difference): string {
  return difference.key.length === 1 ? (difference.key[0] ?? '') : `(${difference.key.join(', ')})`;
}

function printReport(ctx: CliContext, report: ReconcileReport): void {
  printTable(ctx.io, [report.source, report.target].map((side, index) => ({ side, role: index === 0 ? 'source' : 'target' })), [
    { header: 'SIDE', value: (row) => row.role },
    { header: 'TABLE', value: (row) => row.side.label },
    { header: 'ROWS', value: (row) => String(row.side.rows), align: 'right' },
    { header: 'CHECKED', value: (row) => String(row.side.rowsChecked), align: 'right' },
    { header: 'QUERIES', value: (row) => String(row.side.queries), align: 'right' },
  ]);
  const { counts } = report;
  printLine(ctx.io, `\nkey (${report.key.join(', ')}), ${report.columns.length} compared column(s), ${report.chunks} chunk(s), ${report.consistency === 'snapshot' ? 'one snapshot' : 'two databases'}, ${(report.elapsedMs / 1000).toFixed(1)} s`);
  printLine(ctx.io, `missing ${counts.missing}, extra ${counts.extra}, different ${counts.different}, duplicate ${counts.duplicate}${report.settledOnRecheck > 0 ? ` (${report.settledOnRecheck} in flight during the scan, equal on re-check)` : ''}`);
  if (report.differences.length > 0) {
    printLine(ctx.io);
    printTable(ctx.io, report.differences.slice(0, KEYS_SHOWN), [
      { header: 'KIND', value: (difference) => difference.kind },
      { header: 'KEY', value: keyText },
      { header: 'DETAIL', value: (difference) => (difference.columns !== undefined ? difference.columns.join(', ') : difference.rows !== undefined ? `source ${difference.rows.source}, target ${difference.rows.target} row(s)` : '') },
    ]);
    if (report.differences.length > KEYS_SHOWN) printLine(ctx.io, `… and ${report.differences.length - KEYS_SHOWN} more (--json lists them all)`);
  }
  if (report.repair !== undefined) {
    const repair = report.repair;
    printLine(ctx.io, repair.policy === 'flag'
      ? `\nflagged in ${repair.batches} audit event(s), nothing changed`
      : `\nrepaired (source wins) in ${repair.batches} batch(es): ${repair.deleted} deleted, ${repair.updated} updated, ${repair.inserted} inserted on the target; audit events ${repair.eventSeqs.join(', ')}`);
  }
  printLine(ctx.io, report.equal ? '\nequal' : `\n${report.differences.length} row(s) differ`);
}
