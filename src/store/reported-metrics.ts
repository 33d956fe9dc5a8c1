/**
 * Metrics the app and its users report (SDK counters, dual-write failures, feedback scores), per
 * version. The analysis judges a canary by them as it judges the router's own numbers, so a report is
 * refused at the door when it could not be judged later: an unknown app, a NaN, a nameless metric.
 */
import { notFound, PromoteError } from '../errors.js';
import { canonicalJson } from './canonical-json.js';
import { checkName, databaseErrorOf, PG_FOREIGN_KEY_VIOLATION, query, rethrow, type Queryable } from './queryable.js';

/** The metric name user feedback scores are stored under; `promote:` names are Promote's own. */
export const FEEDBACK_METRIC = 'promote:feedback';
export const METRIC_NAME_PATTERN = /^[a-z][a-z0-9_.:-]{0,99}$/;
/** Reports one call may record: one statement with arrays of this length stays small. */
export const MAX_REPORTS_PER_BATCH = 10_000;
/** The context of one report is a small JSON object: at most this many bytes once encoded. */
export const MAX_CONTEXT_BYTES = 4096;
/**
 * `summarizeReportedMetric` returns at most this many raw values (the newest); count, sum, mean,
 * min and max always cover every report in the window.
 */
export const MAX_SUMMARY_VALUES = 10_000;

export interface ReportedMetricInput {
  app: string;
  environment: string;
  version: string;
  metric: string;
  value: number;
  /** when it happened; the time of recording when left out */
  reportedAt?: Date;
  /** a small JSON object kept with the value (the user and comment of a feedback score, say) */
  context?: Record<string, unknown>;
}

export interface ReportedMetricQuery {
  app: string;
  environment: string;
  version: string;
  metric: string;
  /** reports in the last `windowMs` milliseconds (by the database's clock) count */
  windowMs: number;
  /** and none from before this moment (epoch ms), e.g. when the canary began receiving traffic */
  sinceMs?: number;
}

export interface ReportedMetricSummary {
  count: number;
  sum: number;
  /** null when there are no reports, as are min and max */
  mean: number | null;
  min: number | null;
  max: number | null;
  /** the raw values, oldest first and newest last; only the newest {@link MAX_SUMMARY_VALUES} */
  values: number[];
}

// a NUL or a lone surrogate is accepted by JavaScript but refused (or silently replaced) by PostgreSQL
// eslint-disable-next-line no-control-regex -- finding NUL is the point
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/** Throws a PromoteError naming what is wrong with one report; `where` says which one ("report 3"). */
export function checkReportedMetric(report: ReportedMetricInput, where = 'the report'): void {
  checkedContextJson(report, where);
}

/** Checks one report and returns its context as the JSON text to store. */
function checkedContextJson(report: ReportedMetricInput, where: string): string {
  if (report === null || typeof report !== 'object') throw new PromoteError(`${where} must be an object`);
  checkName('app', report.app);
  checkName('environment', report.environment);
  if (typeof report.version !== 'string' || report.version.length < 1 || report.version.length > 128 || UNSTORABLE_TEXT.test(report.version)) {
    throw new PromoteError(`the version of ${where} must be 1 to 128 characters of text, got ${JSON.stringify(report.version)}`);
  }
  if (typeof report.metric !== 'string' || !METRIC_NAME_PATTERN.test(report.metric)) {
    throw new PromoteError(`the metric name of ${where} must be 1 to 100 of a-z 0-9 _ . : - starting with a letter, got ${JSON.stringify(report.metric)}`);
  }
  if (typeof report.value !== 'number' || !Number.isFinite(report.value)) {
    throw new PromoteError(`the value of ${where} (${report.metric}) must be a finite number, got ${String(report.value)}`);
  }
  if (report.reportedAt !== undefined && (!(report.reportedAt instanceof Date) || Number.isNaN(report.reportedAt.getTime()))) {
    throw new PromoteError(`the time of ${where} (${report.metric}) must be a valid date`);
  }
  const context: unknown = report.context ?? {};
  if (context === null || typeof context !== 'object' || Array.isArray(context)) throw new PromoteError(`the context of ${where} must be a JSON object`);
  let text: string;
  try {
    text = canonicalJson(context);
  } catch (error) {
    throw new PromoteError(`the context of ${where} is not plain JSON: ${(error as Error).message}`, { cause: error });
  }
  if (Buffer.byteLength(text) > MAX_CONTEXT_BYTES) throw new PromoteError(`the context of ${where} is ${Buffer.byteLength(text)} bytes of JSON; at most ${MAX_CONTEXT_BYTES}`);
  const parsed: unknown = JSON.parse(text);
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new PromoteError(`the context of ${where} must be a JSON object`);
  if (hasUnstorableText(parsed)) throw new PromoteError(`the context of ${where} holds a NUL character or a broken UTF-16 surrogate`);
  return text;
}

function hasUnstorableText(value: unknown): boolean {
  if (typeof value === 'string') return UNSTORABLE_TEXT.test(value);
  if (Array.isArray(value)) return value.some(hasUnstorableText);
  if (value !== null && typeof value === 'object') return Object.entries(value).some(([key, each]) => UNSTORABLE_TEXT.test(key) || hasUnstorableText(each));
  return false;
}

/**
 * Records reports in one statement (all or none); returns how many. Each is checked first, and a
 * report of an app the state store does not know is refused naming the app.
 */
export async function recordReportedMetrics(db: Queryable, given: readonly ReportedMetricInput[]): Promise<number> {
  const unchecked: unknown = given;
  if (!Array.isArray(unchecked)) throw new PromoteError('reported metrics must be an array of reports');
  const reports = given;
  if (reports.length > MAX_REPORTS_PER_BATCH) throw new PromoteError(`${reports.length} reported metrics in one batch; at most ${MAX_REPORTS_PER_BATCH}`);
  if (reports.length === 0) return 0;
  const contexts = reports.map((report, index) => checkedContextJson(report, reports.length === 1 ? 'the report' : `report ${index + 1}`));
  const apps = [...new Set(reports.map((report) => report.app))];
  const doing = `recording ${reports.length} reported metric${reports.length === 1 ? '' : 's'} of app${apps.length === 1 ? '' : 's'} ${apps.map((app) => `"${app}"`).join(', ')}`;
  try {
    const result = await db.query(
      `insert into promote.reported_metrics (app, environment, version, metric, value, reported_at, context)
       select app, environment, version, metric, value, coalesce(reported_at, now()), context
         from unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::float8[], $6::timestamptz[], $7::jsonb[])
           as r (app, environment, version, metric, value, reported_at, context)`,
      [
        reports.map((report) => report.app),
        reports.map((report) => report.environment),
        reports.map((report) => report.version),
        reports.map((report) => report.metric),
        reports.map((report) => report.value),
        reports.map((report) => report.reportedAt ?? null),
        contexts,
      ],
    );
    return result.rowCount ?? reports.length;
  } catch (error) {
    if (databaseErrorOf(error).code === PG_FOREIGN_KEY_VIOLATION) {
      const missing = await query<{ app: string }>(db, doing, 'select app from unnest($1::text[]) as a (app) where not exists (select 1 from promote.apps where name = a.app) order by app', [apps]).catch(() => undefined);
      const names = missing?.rows.map((row) => `"${row.app}"`).join(', ') || apps.map((app) => `"${app}"`).join(', ');
      throw notFound(`cannot record reported metrics: app ${names} is not recorded in the state store`, { cause: error, hint: 'report under the app name of promote.yaml' });
    }
    rethrow(doing, error);
  }
}

interface SummaryRow {
  count: string;
  sum: number;
  min: number | null;
  max: number | null;
  values: number[];
}

/** Count, sum, mean, min and max of one metric of one version over a window, and its newest raw values. */
export async function summarizeReportedMetric(db: Queryable, request: ReportedMetricQuery): Promise<ReportedMetricSummary> {
  checkName('app', request.app);
  checkName('environment', request.environment);
  if (!Number.isSafeInteger(request.windowMs) || request.windowMs < 1) throw new PromoteError(`the window of reported metrics must be a whole number of milliseconds from 1, got ${String(request.windowMs)}`);
  if (request.sinceMs !== undefined && !Number.isFinite(request.sinceMs)) throw new PromoteError(`the start of the reported metrics window must be a time, got ${String(request.sinceMs)}`);
  const result = await query<SummaryRow>(
    db,
    `summarizing reported metric ${request.metric} of version ${request.version} of app "${request.app}" in ${request.environment}`,
    `with matching as (
       select id, value, reported_at from promote.reported_metrics
        where app = $1 and environment = $2 and version = $3 and metric = $4
          and reported_at >= greatest(now() - $5 * interval '1 millisecond', coalesce($6::timestamptz, '-infinity'))
     ), newest as (
       select id, value, reported_at from matching order by reported_at desc, id desc limit $7
     )
     select (select count(*) from matching) as count,
            (select coalesce(sum(value), 0) from matching) as sum,
            (select min(value) from matching) as min,
            (select max(value) from matching) as max,
            (select coalesce(array_agg(value order by reported_at, id), '{}') from newest) as values`,
    [request.app, request.environment, request.version, request.metric, request.windowMs, request.sinceMs === undefined ? null : new Date(request.sinceMs), MAX_SUMMARY_VALUES],
  );
  const row = result.rows[0]!;
  const count = Number(row.count);
  return { count, sum: row.sum, mean: count === 0 ? null : row.sum / count, min: row.min, max: row.max, values: row.values };
}
