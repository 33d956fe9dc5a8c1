/**
 * Runs a verify step's integrity checks against the environment's app database, one after the other,
 * and says which failed. A check that cannot run (a query error, a timeout, an unreachable database)
 * fails with the reason: a verify step proves data is intact, and an unproven check proves nothing.
 */
import { describeCause } from '../../errors.js';
import type { IntegrityCheckSpec } from '../../spec/schema-integrity.js';
import { reconcile } from '../reconcile.js';
import type { SideInput } from '../types.js';
import { runNotNullCheck, runReferencesCheck, runSqlCheck } from './row-checks.js';
import { compareSnapshots, schemaSnapshot } from './schema-check.js';
import { EVIDENCE_ROWS, type CheckContext, type CheckResult } from './types.js';

export type { CheckContext, CheckResult } from './types.js';

export interface VerifyReport {
  passed: boolean;
  summary: string;
  checks: CheckResult[];
}

export async function runIntegrityChecks(checks: ReadonlyArray<{ name: string; spec: IntegrityCheckSpec }>, context: CheckContext): Promise<VerifyReport> {
  const results: CheckResult[] = [];
  for (const { name, spec } of checks) results.push(await runIntegrityCheck(name, spec, context));
  const failed = results.filter((result) => !result.passed);
  const summary = failed.length === 0 ? `${results.length} check(s) passed` : failed.map((result) => `${result.name}: ${result.summary}`).join('; ');
  return { passed: failed.length === 0, summary, checks: results };
}

export async function runIntegrityCheck(name: string, spec: IntegrityCheckSpec, context: CheckContext): Promise<CheckResult> {
  const started = Date.now();
  const done = (outcome: Pick<CheckResult, 'passed' | 'summary' | 'evidence'>): CheckResult => ({ name, type: spec.type, ...outcome, durationMs: Date.now() - started });
  try {
    return done(await runOne(name, spec, context));
  } catch (error) {
    return done({ passed: false, summary: `could not run: ${describeCause(error)}`, evidence: { error: describeCause(error) } });
  }
}

async function runOne(name: string, spec: IntegrityCheckSpec, context: CheckContext): Promise<Pick<CheckResult, 'passed' | 'summary' | 'evidence'>> {
  const here = context.databaseUrl(context.environment);
  switch (spec.type) {
    case 'sql':
      return runSqlCheck(name, spec, here);
    case 'notNull':
      return runNotNullCheck(name, spec, here);
    case 'references':
      return runReferencesCheck(name, spec, here);
    case 'schema': {
      const against = spec.against ?? context.previousEnvironment;
      if (against === undefined) return { passed: false, summary: `${context.environment} is the first environment: name the one to compare with in \`against\``, evidence: {} };
      const [mine, theirs] = await Promise.all([
        schemaSnapshot(here, context.migrationsSchema, spec.timeout, `integrity check ${name} (reading the schema of ${context.environment})`),
        schemaSnapshot(context.databaseUrl(against), context.migrationsSchema, spec.timeout, `integrity check ${name} (reading the schema of ${against})`),
      ]);
      return compareSnapshots(mine, theirs, { here: context.environment, there: against });
    }
    case 'reconcile': {
      const side = (input: typeof spec.source): SideInput => ({ url: context.databaseUrl(input.environment ?? context.environment), ...(input.table ? { table: input.table } : { query: input.query! }) });
      const report = await withTimeout(
        reconcile({ source: side(spec.source), target: side(spec.target), ...(spec.key ? { key: spec.key } : {}), ...(spec.columns ? { columns: spec.columns } : {}) }),
        spec.timeout,
        `integrity check ${name} (reconcile)`,
      );
      const counts = Object.entries(report.counts).filter(([, count]) => count > 0).map(([kind, count]) => `${count} ${kind}`);
      const evidence = { source: report.source, target: report.target, counts: report.counts, differences: report.differences.slice(0, EVIDENCE_ROWS), consistency: report.consistency };
      return report.equal
        ? { passed: true, summary: `${report.source.rowsChecked} rows equal on both sides`, evidence }
        : { passed: false, summary: `rows differ: ${counts.join(', ')}`, evidence };
    }
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number, doing: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${doing} took longer than ${Math.round(ms / 1000)} s`)), ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
