/** Analysis templates: where measurements come from (provider) and how they are judged (judge). */
import { z } from 'zod';
import { parseCondition } from './condition.js';
import { durationSchema } from './duration.js';
import { exactlyOneOf, exactlyOneOfJsonSchema, expectations, httpUrlSchema, nonEmptyString } from './schema-meta.js';
import { PromoteError } from '../errors.js';

export const builtinMetrics = ['request_rate', 'error_rate', 'latency_p50', 'latency_p90', 'latency_p95', 'latency_p99'] as const;

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
        metric: z.enum(builtinMetrics).describe('Which router metric to judge.'),
      })
      .describe("The router's own per-version metrics."),
    z
      .strictObject({
        type: z.literal('prometheus').describe('Query a Prometheus server.'),
        address: httpUrlSchema.describe('Base URL of the Prometheus server, e.g. http://prometheus:9090.'),
        query: nonEmptyString.describe('PromQL query returning one number; {{version}} and {{environment}} are filled in.'),
        timeout: providerTimeout,
        auth: prometheusAuthSchema.optional(),
      })
      .describe('A PromQL query.'),
    z
      .strictObject({
        type: z.literal('http').describe('Fetch a number from an HTTP endpoint.'),
        url: httpUrlSchema.describe('URL to GET.'),
        jsonPath: nonEmptyString.describe('JSONPath of the number in the response body, e.g. $.data.errorRate.'),
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
      })
      .describe('User feedback collected by the SDK.'),
    z
      .strictObject({
        type: z.literal('sdk').describe('A metric the app reports through the Promote SDK.'),
        metric: nonEmptyString.describe('Metric name the app reports.'),
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
      })
      .describe('Fixed limits.'),
    z
      .strictObject({
        type: z.literal('compare').describe('Compare the candidate with the stable version statistically.'),
        test: z.enum(['mannWhitney', 'twoProportion', 'ks']).describe('Statistical test: mannWhitney (latencies), twoProportion (rates), ks (distributions).'),
        direction: z.enum(['increase', 'decrease', 'either']).default('increase').describe('Which change is bad.'),
        confidence: z.number().min(0.5).max(0.999).default(0.98).describe('Confidence needed to call a difference real.'),
        critical: z.boolean().default(false).describe('A failure of this metric fails the whole analysis at once.'),
        weight: z.number().gt(0).register(expectations, { expected: 'a number greater than 0' }).default(1).describe('Weight of this metric in the overall score.'),
        minSamples: z.number().int().min(1).default(50).describe('Samples needed per version before the test is run.'),
      })
      .describe('Candidate against stable baseline.'),
  ])
  .describe('How measurements are judged.');

export const analysisTemplateSchema = z
  .strictObject({
    provider: providerSchema,
    judge: judgeSchema,
    interval: durationSchema.prefault('30s').describe('Time between measurements.'),
    count: z.number().int().min(1).default(5).describe('Measurements to take.'),
    failureLimit: z.number().int().min(0).default(0).describe('Failed measurements tolerated; one more fails the analysis.'),
    inconclusiveLimit: z.number().int().min(0).default(1).describe('Inconclusive measurements tolerated; one more pauses the rollout for a decision.'),
    consecutiveErrorLimit: z
      .number()
      .int()
      .min(0)
      .default(4)
      .describe('Provider errors in a row tolerated before the run errors; errors are not failures.'),
  })
  .describe('A reusable analysis: a provider, a judge and how often to measure.');
