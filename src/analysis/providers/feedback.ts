/**
 * Real user feedback during a canary as a signal: the scores users give through the app (posted to
 * `POST /feedback`) per version. The value is the mean score over the window and the samples are the
 * scores, so a threshold judge can ask `value >= 4` and a compare judge with direction `decrease` can
 * compare canary and stable scores with Mann-Whitney. Too few scores is "no data", never a failure.
 */
import type { ProviderSpec } from '../../spec/schema.js';
import { FEEDBACK_METRIC } from '../../store/reported-metrics.js';
import type { MeasureRequest, MetricData, Provider } from '../types.js';
import { readReported, reportedSource, type ReportedProviderContext } from './sdk.js';

export type FeedbackProviderSpec = Extract<ProviderSpec, { type: 'feedback' }>;

export function createFeedbackProvider(spec: FeedbackProviderSpec, context: ReportedProviderContext): Provider {
  return {
    kind: 'feedback',
    async measure(request: MeasureRequest): Promise<MetricData> {
      const summary = await readReported(context, request, FEEDBACK_METRIC, spec.window, 'feedback scores');
      const source = reportedSource('feedback', FEEDBACK_METRIC, request, spec.window, summary, { minSamples: spec.minSamples });
      if (summary.mean === null || summary.count < (spec.minSamples ?? 0)) return { support: summary.count, source };
      return { value: summary.mean, samples: summary.values, support: summary.count, source };
    },
  };
}
