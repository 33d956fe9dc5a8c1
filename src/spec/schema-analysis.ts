/** Analysis templates: where measurements come from (provider) and how they are judged (judge). */
import { z } from 'zod';
import { parseCondition } from './condition.js';
import { durationSchema } from './duration.js';
import { exactlyOneOf, exactlyOneOfJsonSchema, expectations, httpUrlSchema, jsonPathSchema, nonEmptyString } from './schema-meta.js';
import { PromoteError } from '../errors.js';

export const builtinMetrics = ['request_rate', 'error_rate', 'latency_p50', 'latency_p90', 'latency_p95', 'latency_p99', 'latency'] as const;

const providerTimeout = durationSchema.prefault('10s').describe('Give up on one measurement after this long; it counts as a provider error.');

const prometheusAuthSchema = z
  .strictObject({
    bearerToken: nonEmptyString.optional().describe('Bearer token; use ${VAR} to keep it out of the file.'),
    basic: z
      .strictObject({
        username: nonEmptyString.describe('User name.'),
        password: nonEmptyString.describe('Password; use ${VAR} to keep it out of the file.'),
      })
      .optional()
      .describe('HTTP basic authentication.'),
  })
  .superRefine(exactlyOneOf(['bearerToken', 'basic'], 'auth'))
  .meta(exactlyOneOfJsonSchema(['bearerToken', 'basic']))
  .describe('Credentials for the Prometheus API.');

const providerSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('builtin').describe("Metrics the router measures per version; no setup needed."),
        metric: z
          .enum(builtinMetrics)
          .describe('Which router metric to judge: a rate or percentile for threshold judges; `latency` (raw samples) or `error_rate` (counts) for compare judges.'),
        window: durationSchema.prefault('60s').describe('How far back each measurement looks, in whole seconds.'),
      })
      .describe("The router's own per-version metrics."),
    z
      .strictObject({
        type: z.literal('prometheus').describe('Query a Prometheus server.'),
        address: httpUrlSchema.describe('Base URL of the Prometheus server, e.g. http://prometheus:9090.'),
        query: nonEmptyString.describe('PromQL query returning one number; {{version}}, {{environment}} and {{app}} are filled in.'),
        range: durationSchema
          .optional()
          .describe('Run it as a range query over this long back from now; the values of the series become samples (for compare judges).'),
        step: durationSchema.prefault('15s').describe('Resolution of a range query.'),
        timeout: providerTimeout,
        auth: prometheusAuthSchema.optional(),
      })
      .describe('A PromQL query.'),
    z
      .strictObject({
        type: z.literal('http').describe('Fetch a number from an HTTP endpoint.'),
        url: httpUrlSchema.describe('URL to GET.'),
        jsonPath: jsonPathSchema.describe('Path of the number (or array of numbers) in the JSON response body, e.g. $.data.errorRate.'),
        headers: z.record(z.string(), z.string()).optional().describe('Request headers.'),
        timeout: providerTimeout,
      })
      .describe('A JSON HTTP endpoint.'),
    z
      .strictObject({
        type: z.literal('command').describe('Run a command that prints a number.'),
        run: nonEmptyString.describe('Shell command; its standard output must be one number.'),
        timeout: providerTimeout,
      })
      .describe('A command that prints the measurement.'),
    z
      .strictObject({
        type: z.literal('feedback').describe('User feedback reported through the SDK.'),
        minSamples: z.number().int().min(1).optional().describe('Feedback reports needed before a measurement counts.'),
        window: durationSchema.prefault('5m').describe('How far back feedback reports count.'),
      })
      .describe('User feedback collected by the SDK.'),
    z
      .strictObject({
        type: z.literal('sdk').describe('A metric the app reports through the Promote SDK.'),
        // the same rule as the reported_metrics store (src/store/reported-metrics.ts): a typo fails validation, not the analysis
        metric: z
          .string()
          .regex(/^[a-z][a-z0-9_.:-]{0,99}$/)
          .register(expectations, { expected: 'a metric name: 1 to 100 of a-z 0-9 _ . : - starting with a letter' })
          .describe('Metric name the app reports.'),
        aggregate: z
          .enum(['sum', 'count', 'mean', 'max'])
          .default('sum')
          .describe('How the reports in the window become one value: sum (of counters), count (of reports), mean or max (of observations).'),
        minSamples: z.number().int().min(1).optional().describe('Reports needed before a measurement counts.'),
        window: durationSchema.prefault('5m').describe('How far back reports count.'),
      })
      .describe('App-reported metrics.'),
  ])
  .describe('Where measurements come from.');

const conditionSchema = z
  .string()
  .superRefine((text, ctx) => {
    try {
      parseCondition(text);
    } catch (error) {
      if (!(error instanceof PromoteError)) throw error;
      ctx.addIssue({ code: 'custom', message: `invalid condition: ${error.message}` });
    }
  })
  .describe('Comparisons such as `value < 0.01`, joined by `and` / `or`; the measurement passes when it is true.');

const judgeSchema = z
  .discriminatedUnion('type', [
    z
      .strictObject({
        type: z.literal('threshold').describe('Compare each measurement with fixed limits.'),
        condition: conditionSchema,
        minSamples: z
          .number()
          .int()
          .min(0)
          .default(0)
          .describe('Requests (builtin) or samples needed before the condition is judged; fewer is "no data", never a failure.'),
      })
      .describe('Fixed limits.'),
    z
      .strictObject({
        type: z.literal('compare').describe('Compare the candidate with the stable version statistically.'),
        test: z
          .enum(['mannWhitney', 'twoProportion', 'ks', 'tail'])
          .describe('Statistical test: mannWhitney (a shift of the typical value), twoProportion (rates), ks (any change of the distribution), tail (more values above the baseline high quantile).'),
        direction: z.enum(['increase', 'decrease', 'either']).default('increase').describe('Which change is bad.'),
        confidence: z.number().min(0.5).max(0.9999).default(0.98).describe('Confidence needed to call a difference real.'),
        allowedChange: z
          .number()
          .min(0)
          .optional()
          .describe(
            'Change tolerated even when it is real. mannWhitney and ks: relative, default 0.1 (10% worse); twoProportion: absolute difference of rates, default 0.01; tail: relative increase of the candidate\'s quantile over the baseline\'s, default 0.5.',
          ),
        minimumChange: z
          .number()
          .gt(0)
          .optional()
          .describe(
            "A change smaller than this, in the metric's own units (ms for builtin latency), never fails, however real: a 3 ms service whose p99 moves 4 ms has not got worse for anyone. For mannWhitney (the shift) and tail (the quantile's move).",
          ),
        criticalChange: z
          .number()
          .gt(0)
          .optional()
          .describe('A real change at least this large fails the whole analysis at once, whatever the other metrics say.'),
        quantile: z.number().gt(0.5).lt(1).default(0.99).describe('For the tail test: the baseline quantile the candidate is compared above.'),
        minSamples: z.number().int().min(1).default(50).describe('Samples needed per version before the test is run; fewer is "no data", never a failure.'),
      })
      .describe('Candidate against stable baseline.'),
  ])
  .describe('How measurements are judged.');

export const analysisTemplateSchema = z
  .strictObject({
    provider: providerSchema,
    judge: judgeSchema,
    interval: durationSchema.prefault('30s').describe('Time between measurements.'),
    initialDelay: durationSchema.prefault('0s').describe('Wait this long after the analysis starts before the first measurement.'),
    count: z.number().int().min(1).default(5).describe('Judged measurements to take; "no data" and provider errors do not count.'),
    failureLimit: z.number().int().min(0).default(0).describe('Failed measurements tolerated; one more fails the analysis.'),
    inconclusiveLimit: z.number().int().min(0).default(1).describe('Inconclusive measurements tolerated; one more pauses the rollout for a decision.'),
    consecutiveSuccessLimit: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Succeed early after this many successful measurements in a row.'),
    errorBudget: durationSchema
      .prefault('10m')
      .describe('How long the provider may keep failing (errors in a row) before the analysis fails; until then the rollout holds its weights and retries.'),
    noDataLimit: z
      .number()
      .int()
      .min(1)
      .default(20)
      .describe('Measurements with too little data before the analysis is inconclusive (a person decides); never a failure.'),
    critical: z.boolean().default(false).describe('A failure of this metric fails the whole analysis at once.'),
    weight: z.number().gt(0).register(expectations, { expected: 'a number greater than 0' }).default(1).describe('Weight of this metric in the score of an analysis step.'),
    dryRun: z.boolean().default(false).describe('Measure and record, but never act on the verdict.'),
  })
  .describe('A reusable analysis: a provider, a judge and how often to measure.');
