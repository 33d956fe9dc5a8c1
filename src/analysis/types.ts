/**
 * The contract between the three parts of an analysis: providers fetch data for one version,
 * judges turn the data of the candidate (and of the baseline, for compare judges) into a verdict,
 * and the runner repeats measurements and turns their verdicts into the verdict of a run.
 */

/** One version's data for one metric over one window, as a provider returns it. */
export interface MetricData {
  /** a single number: what threshold judges compare */
  value?: number;
  /** raw observations (latencies in ms, a time series' values) for distribution tests */
  samples?: number[];
  /** counts for proportion tests: `events` (errors, say) among `total` (requests) */
  events?: number;
  total?: number;
  /**
   * how much data stands behind `value` (requests in the window, feedback reports...); a threshold
   * judge with `minSamples` says "no data" below it instead of judging a number from three requests
   */
  support?: number;
  /** what the provider asked and saw (query, URL, an excerpt of the answer): kept as evidence */
  source: Record<string, unknown>;
}

export interface MeasureRequest {
  app: string;
  environment: string;
  version: string;
  signal: AbortSignal;
  /**
   * ms since the epoch when the analysis started: providers that look back over a window do not look
   * further back than this, so a canary's first measurement is not diluted by the time before it took
   * traffic (and the baseline's by the time it served everything)
   */
  since?: number;
}

/**
 * A configured provider. `measure` rejects with a ProviderError when it cannot measure (unreachable,
 * query failed, the answer holds no number): that makes the measurement an Error, never a failure.
 */
export interface Provider {
  /** what compare judges may ask of it; threshold judges need `value` */
  readonly kind: string;
  measure(request: MeasureRequest): Promise<MetricData>;
}

/** The verdict of one measurement. NoData: too little data to judge; Error: the provider failed. */
export type MeasurementVerdict = 'Successful' | 'Failed' | 'Inconclusive' | 'NoData' | 'Error';

/** What a judge concludes from one measurement. */
export interface Judgement {
  verdict: Exclude<MeasurementVerdict, 'Error'>;
  /** one line a person can read: the values and the limit, or the test, interval and effect */
  reason: string;
  /** set when a real change reached the judge's `criticalChange`: fails the whole analysis at once */
  critical?: boolean;
  /** the numbers behind the verdict: test, statistic, p-value, interval, estimate, effect, n per version */
  statistics: Record<string, unknown>;
}

/** The verdict of a whole analysis run (one template) or of an analysis step (several templates). */
export type RunVerdict = 'Successful' | 'Failed' | 'Inconclusive';

/**
 * A provider could not measure. Its message is the provider's own (Prometheus's error text, the HTTP
 * status, the command's output) with what was being asked: the measurement is an Error, never Failed.
 */
export class ProviderError extends Error {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ProviderError';
  }
}
