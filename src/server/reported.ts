/**
 * What apps and their users report back during a rollout: user feedback scores (`POST /feedback`) and
 * SDK metrics (`POST /api/metrics`). Analysis judges a canary by them, so a report is checked at the
 * door and refused with a 400 naming the field (a NaN or a null never becomes a 0), and a report for an
 * app or environment this server does not run is a 404, not a row no analysis will ever read.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifySchemaValidationError } from 'fastify';
import { PromoteError } from '../errors.js';
import { checkReportedMetric, FEEDBACK_METRIC, recordReportedMetrics, type ReportedMetricInput } from '../store/index.js';
import type { ServerOptions } from './app.js';

/** Metrics one `POST /api/metrics` may carry. */
export const MAX_METRICS_PER_POST = 1000;
/** `at` may be this old at most: analysis windows are minutes, and a late batch is not news. */
const MAX_AGE_MS = 3_600_000;
/** clocks of app hosts drift a little; a report this far "in the future" is still taken */
const CLOCK_SKEW_MS = 5_000;

// text PostgreSQL can store: no NUL, no lone UTF-16 surrogate (ajv matches patterns per code point)
const storableText = '^[^\\u0000\\ud800-\\udfff]*$';
const namePattern = '^[a-z][a-z0-9-]{0,62}$';
const metricNamePattern = '^[a-z][a-z0-9_.:-]{0,99}$';
/** what each pattern means, for the 400 message */
const patternMeaning: Record<string, string> = {
  [storableText]: 'must not contain a NUL character or a broken UTF-16 surrogate',
  [namePattern]: 'must be 1 to 63 lowercase letters, digits and dashes, starting with a letter',
  [metricNamePattern]: 'must be 1 to 100 of a-z 0-9 _ . : - starting with a letter',
};
const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;
const recorded = { type: 'object', properties: { recorded: { type: 'integer' } }, required: ['recorded'] } as const;
const where = {
  app: { type: 'string', pattern: namePattern, description: 'the app name of promote.yaml' },
  environment: { type: 'string', pattern: namePattern, description: 'the environment the reporting instance runs in' },
  version: { type: 'string', minLength: 1, maxLength: 128, pattern: storableText, description: 'the version of the reporting instance' },
} as const;

const feedbackBody = {
  type: 'object',
  properties: {
    ...where,
    score: { type: 'number', description: "the user's score on the app's own scale (1 to 5, say); higher is better" },
    user: { type: 'string', minLength: 1, maxLength: 200, pattern: storableText, description: 'who gave it (an id, not a name)' },
    comment: { type: 'string', maxLength: 1000, pattern: storableText },
  },
  required: ['app', 'environment', 'version', 'score'],
  additionalProperties: false,
} as const;

const metricsBody = {
  type: 'object',
  properties: {
    ...where,
    metrics: {
      type: 'array',
      minItems: 1,
      maxItems: MAX_METRICS_PER_POST,
      items: {
        type: 'object',
        properties: {
          name: { type: 'string', pattern: metricNamePattern, description: 'a-z 0-9 _ . : - starting with a letter; names starting with "promote:" are reserved' },
          value: { type: 'number' },
          at: { type: 'string', format: 'date-time', description: 'when it happened (within the last hour); the time of arrival when left out' },
        },
        required: ['name', 'value'],
        additionalProperties: false,
      },
    },
  },
  required: ['app', 'environment', 'version', 'metrics'],
  additionalProperties: false,
} as const;

interface Where {
  app: string;
  environment: string;
  version: string;
}
type FeedbackBody = Where & { score: number; user?: string; comment?: string };
type MetricsBody = Where & { metrics: Array<{ name: string; value: number; at?: string }> };

export function registerReportedRoutes(app: FastifyInstance, options: ServerOptions): void {
  const appName = options.spec.app.name;
  const environments = new Set(options.spec.environments.map((environment) => environment.name));

  /** A 404 reply when the report is not for this server's app and environments. */
  const notServedHere = (body: Where, reply: FastifyReply) => {
    if (body.app !== appName) return reply.status(404).send({ error: `unknown app "${body.app}": this Promote server runs app "${appName}"` });
    if (!environments.has(body.environment)) return reply.status(404).send({ error: `app "${appName}" has no environment "${body.environment}"; it has ${[...environments].join(', ')}` });
    return undefined;
  };

  /** Records the reports, or a 400 for one the store refuses (a check the JSON schema cannot say). */
  const record = async (reports: ReportedMetricInput[], reply: FastifyReply) => {
    try {
      reports.forEach((report, index) => checkReportedMetric(report, reports.length === 1 ? 'the report' : `metrics[${index}]`));
    } catch (problem) {
      if (problem instanceof PromoteError) return reply.status(400).send({ error: problem.message });
      throw problem;
    }
    return reply.status(201).send({ recorded: await recordReportedMetrics(options.pool, reports) });
  };

  app.post(
    '/feedback',
    {
      schema: {
        summary: 'Record a user feedback score for the version the user saw',
        description: 'Scores are on the app\'s own scale (1 to 5, say); a `feedback` analysis provider judges their mean and distribution per version.',
        body: feedbackBody,
        response: { 201: recorded, 400: error, 404: error },
      },
      preValidation: numbersOnly([['score']]),
      schemaErrorFormatter: describeValidation,
    },
    async (request, reply) => {
      const body = request.body as FeedbackBody;
      const refused = notServedHere(body, reply);
      if (refused) return refused;
      const context = { ...(body.user !== undefined ? { user: body.user } : {}), ...(body.comment !== undefined ? { comment: body.comment } : {}) };
      return record([{ app: body.app, environment: body.environment, version: body.version, metric: FEEDBACK_METRIC, value: body.score, context }], reply);
    },
  );

  app.post(
    '/api/metrics',
    {
      bodyLimit: 512 * 1024,
      schema: {
        summary: 'Record metrics an app reports through the SDK (experiment mismatches, dual-write failures, gate fallbacks...)',
        description: `1 to ${MAX_METRICS_PER_POST} metrics of one version; an \`sdk\` analysis provider judges them per version.`,
        body: metricsBody,
        response: { 201: recorded, 400: error, 404: error },
      },
      preValidation: numbersOnly([['metrics', '*', 'value']]),
      schemaErrorFormatter: describeValidation,
    },
    async (request, reply) => {
      const body = request.body as MetricsBody;
      const refused = notServedHere(body, reply);
      if (refused) return refused;
      const now = Date.now();
      const reports: ReportedMetricInput[] = [];
      for (const [index, metric] of body.metrics.entries()) {
        if (metric.name.startsWith('promote:')) return reply.status(400).send({ error: `metrics[${index}].name "${metric.name}": names starting with "promote:" are reserved for Promote` });
        const at = metric.at === undefined ? undefined : new Date(metric.at);
        if (at !== undefined && (Number.isNaN(at.getTime()) || at.getTime() > now + CLOCK_SKEW_MS || at.getTime() < now - MAX_AGE_MS)) {
          return reply.status(400).send({ error: `metrics[${index}].at ${metric.at} must be within the last hour and not in the future (the server's time is ${new Date(now).toISOString()})` });
        }
        reports.push({ app: body.app, environment: body.environment, version: body.version, metric: metric.name, value: metric.value, ...(at ? { reportedAt: at } : {}) });
      }
      return record(reports, reply);
    },
  );
}

/**
 * The server's validator coerces types (null would become the score 0, "3" the value 3): measurements
 * must arrive as JSON numbers, so these paths ('*' for every item of an array) are checked first.
 */
function numbersOnly(paths: ReadonlyArray<readonly string[]>) {
  return async (request: FastifyRequest, reply: FastifyReply) => {
    for (const path of paths) {
      for (const [shown, value] of valuesAt(request.body, path, '')) {
        if (typeof value !== 'number' || !Number.isFinite(value)) {
          const got = typeof value === 'number' ? String(value) : value === null ? 'null' : typeof value;
          return reply.status(400).send({ error: `${shown} must be a finite number, got ${got}` });
        }
      }
    }
    return undefined;
  };
}

function valuesAt(data: unknown, path: readonly string[], shown: string): Array<[string, unknown]> {
  const [head, ...rest] = path;
  if (head === undefined) return [[shown, data]];
  if (head === '*') return Array.isArray(data) ? data.flatMap((item, index) => valuesAt(item, rest, `${shown}[${index}]`)) : [];
  if (data === null || typeof data !== 'object' || Array.isArray(data) || !Object.hasOwn(data, head)) return [];
  return valuesAt((data as Record<string, unknown>)[head], rest, shown === '' ? head : `${shown}.${head}`);
}

/** `metrics[3].value must be number; unknown field "force"`: each problem with the field it is about. */
export function describeValidation(errors: FastifySchemaValidationError[], dataVar: string): Error {
  const field = (instancePath: string, child?: unknown) => {
    const parts = instancePath.split('/').filter(Boolean);
    if (typeof child === 'string') parts.push(child);
    const text = parts.map((part, index) => (/^\d+$/.test(part) ? `[${part}]` : index === 0 ? part : `.${part}`)).join('');
    return text === '' ? dataVar : text;
  };
  const problems = errors.map((problem) => {
    const params = problem.params;
    if (problem.keyword === 'required') return `${field(problem.instancePath, params.missingProperty)} is required`;
    if (problem.keyword === 'additionalProperties') return `unknown field ${field(problem.instancePath, params.additionalProperty)}`;
    const meaning = problem.keyword === 'pattern' ? patternMeaning[String(params.pattern)] : undefined;
    if (meaning) return `${field(problem.instancePath)} ${meaning}`;
    return `${field(problem.instancePath)} ${problem.message ?? 'is not valid'}`;
  });
  const unique = [...new Set(problems)];
  return new Error(unique.length > 5 ? `${unique.slice(0, 5).join('; ')}; and ${unique.length - 5} more` : unique.join('; '));
}
