/**
 * Metrics the app reports about itself through the SDK (experiment mismatches, dual-write failures,
 * gate fallbacks), judged per version like the router's numbers. They are read from the state store,
 * where `POST /api/metrics` put them; a failed read is a ProviderError (hold and retry), and too few
 * reports is "no data" (support without a value), never a failure.
 */
import type pg from 'pg';
import { PromoteError } from '../../errors.js';
import { formatDuration } from '../../spec/duration.js';
import type { ProviderSpec } from '../../spec/schema.js';
import { summarizeReportedMetric, type ReportedMetricSummary } from '../../store/reported-metrics.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { ProviderError } from '../types.js';

export type SdkProviderSpec = Extract<ProviderSpec, { type: 'sdk' }>;

/** What the reported-metrics providers need: the state store and the app they measure. */
export interface ReportedProviderContext {
  pool: pg.Pool;
  app: string;
}

/**
 * `sum` and `count` of no reports are 0 (no dual-write failure reported is a real zero); `mean` and
 * `max` of no reports have no value. Below `minSamples` reports there is never a value nor samples.
 */
export function createSdkProvider(spec: SdkProviderSpec, context: ReportedProviderContext): Provider {
  return {
    kind: 'sdk',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const summary = await readReported(context, request, spec.metric, spec.window, `sdk metric ${spec.metric}`);
      const source = reportedSource('sdk', spec.metric, request, spec.window, summary, { aggregate: spec.aggregate, minSamples: spec.minSamples });
      if (summary.count < (spec.minSamples ?? 0)) return { support: summary.count, source };
      const value = aggregate(spec.aggregate, summary);
      return { ...(value === null ? {} : { value }), samples: summary.values, support: summary.count, source };
    },
  };
}

function aggregate(kind: SdkProviderSpec['aggregate'], summary: ReportedMetricSummary): number | null {
  switch (kind) {
    case 'sum':
      return summary.sum;
    case 'count':
      return summary.count;
    case 'mean':
      return summary.mean;
    case 'max':
      return summary.max;
  }
}

/** One version's summary of one reported metric; any failure is a ProviderError saying what was asked. */
export async function readReported(context: ReportedProviderContext, request: MeasureRequest, metric: string, windowMs: number, what: string): Promise<ReportedMetricSummary> {
  const doing = `${what} of version ${request.version} of app "${request.app}" in ${request.environment} over the last ${formatDuration(windowMs)}`;
  if (request.app !== context.app) throw new ProviderError(`${doing}: this provider measures app "${context.app}"`);
  if (request.signal.aborted) throw new ProviderError(`${doing}: aborted`);
  try {
    return await summarizeReportedMetric(context.pool, { app: request.app, environment: request.environment, version: request.version, metric, windowMs });
  } catch (error) {
    // the store's message already says what it was summarizing; a check it refused is said as is
    throw new ProviderError(error instanceof PromoteError ? `${what}: ${error.message}` : `${doing}: ${String(error)}`, { cause: error });
  }
}

/** The evidence kept with a measurement: what was asked and the whole summary but the raw values. */
export function reportedSource(provider: string, metric: string, request: MeasureRequest, windowMs: number, summary: ReportedMetricSummary, extra: Record<string, unknown> = {}): Record<string, unknown> {
  const { values, ...numbers } = summary;
  const defined = Object.fromEntries(Object.entries(extra).filter(([, value]) => value !== undefined));
  return { provider, metric, environment: request.environment, version: request.version, window: formatDuration(windowMs), ...defined, ...numbers, valuesKept: values.length };
}
