import type { FastifyInstance } from 'fastify';
import { buildDeliveryReport } from '../report/load.js';
import { parsePeriod } from '../report/period.js';
import type { ServerOptions } from './app.js';
import { createMetricsRegistry } from './metrics.js';

const count = { type: 'integer', minimum: 0 } as const;
const share = { type: ['number', 'null'], minimum: 0, maximum: 1 } as const;
const ms = { type: ['number', 'null'] } as const;
const rateProperties = { value: share, numerator: count, denominator: count } as const;
const rate = { type: 'object', properties: rateProperties, required: ['value', 'numerator', 'denominator'] } as const;
const durations = { type: 'object', properties: { count, medianMs: ms, meanMs: ms, p90Ms: ms, maxMs: ms }, required: ['count', 'medianMs', 'meanMs', 'p90Ms', 'maxMs'] } as const;
const frequencyProperties = { count, perDay: { type: ['number', 'null'] }, perWeek: { type: ['number', 'null'] } } as const;
const outcomes = { type: 'object', properties: { succeeded: count, failed: count }, required: ['succeeded', 'failed'] } as const;

/** The DeliveryReport (src/report/types.ts) as JSON schema: the response is serialised through it, so every field is listed. */
export const deliveryReportSchema = {
  type: 'object',
  properties: {
    app: { type: ['string', 'null'] },
    since: { type: 'string', format: 'date-time' },
    until: { type: 'string', format: 'date-time' },
    days: { type: 'number' },
    production: { type: 'array', items: { type: 'string' } },
    deploymentFrequency: {
      type: 'object',
      properties: {
        ...frequencyProperties,
        byEnvironment: {
          type: 'array',
          items: { type: 'object', properties: { app: { type: 'string' }, environment: { type: 'string' }, production: { type: 'boolean' }, ...frequencyProperties }, required: ['app', 'environment', 'production', 'count', 'perDay', 'perWeek'] },
        },
      },
      required: ['count', 'perDay', 'perWeek', 'byEnvironment'],
    },
    leadTime: durations,
    changeFailureRate: {
      type: 'object',
      properties: { ...rateProperties, rolledBack: count, aborted: count, degraded: count, rolledBackLater: count },
      required: ['value', 'numerator', 'denominator', 'rolledBack', 'aborted', 'degraded', 'rolledBackLater'],
    },
    rollbacks: {
      type: 'object',
      properties: {
        ...frequencyProperties,
        automatic: count,
        abort: count,
        manual: count,
        successRate: rate,
        unfinished: count,
        records: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              kind: { type: 'string', enum: ['automatic', 'abort', 'manual'] },
              rolloutId: { type: 'integer' },
              app: { type: 'string' },
              environment: { type: 'string' },
              version: { type: 'string' },
              at: { type: 'string', format: 'date-time' },
              result: { type: 'string', enum: ['succeeded', 'failed', 'unfinished'] },
              reason: { type: 'string' },
            },
            required: ['kind', 'rolloutId', 'app', 'environment', 'version', 'at', 'result', 'reason'],
          },
        },
      },
      required: ['count', 'perDay', 'perWeek', 'automatic', 'abort', 'manual', 'successRate', 'unfinished', 'records'],
    },
    recovery: {
      type: 'object',
      properties: {
        mttd: durations,
        mttr: durations,
        incidents: {
          type: 'array',
          items: {
            type: 'object',
            properties: {
              rolloutId: { type: 'integer' },
              app: { type: 'string' },
              environment: { type: 'string' },
              version: { type: 'string' },
              trafficAt: { type: 'string', format: 'date-time' },
              detectedAt: { type: 'string', format: 'date-time' },
              recoveredAt: { type: 'string', format: 'date-time' },
              mttdMs: { type: 'number' },
              mttrMs: { type: 'number' },
              reason: { type: 'string' },
            },
            required: ['rolloutId', 'app', 'environment', 'version', 'trafficAt', 'detectedAt', 'recoveredAt', 'mttdMs', 'mttrMs', 'reason'],
          },
        },
      },
      required: ['mttd', 'mttr', 'incidents'],
    },
    migrations: {
      type: 'object',
      properties: { ...rateProperties, rolledBack: count, byPhase: { type: 'object', properties: { expand: outcomes, contract: outcomes, rollback: outcomes }, required: ['expand', 'contract', 'rollback'] } },
      required: ['value', 'numerator', 'denominator', 'rolledBack', 'byPhase'],
    },
    integrity: {
      type: 'object',
      properties: { verifySteps: count, verifyFailed: count, checksFailed: count, reconcileDifferences: count, reconcileBatches: count, note: { type: 'string' } },
      required: ['verifySteps', 'verifyFailed', 'checksFailed', 'reconcileDifferences', 'reconcileBatches', 'note'],
    },
  },
  required: ['app', 'since', 'until', 'days', 'production', 'deploymentFrequency', 'leadTime', 'changeFailureRate', 'rollbacks', 'recovery', 'migrations', 'integrity'],
} as const;

/** GET /api/report and the Prometheus exposition at GET /metrics: the delivery figures, for people and for scrapers. */
export function registerReportRoutes(app: FastifyInstance, options: ServerOptions): void {
  const registry = createMetricsRegistry(options.pool, options.spec.app.name);
  app.get('/metrics', { schema: { summary: 'Prometheus metrics of rollouts (text exposition), derived from the store at each scrape', produces: ['text/plain'], response: { 200: { type: 'string' } } } }, async (_request, reply) => {
    const text = await registry.metrics();
    return reply.type(registry.contentType).send(text);
  });
  app.get(
    '/api/report',
    {
      schema: {
        summary: 'Delivery metrics of the app over a period (definitions: docs/report.md)',
        querystring: {
          type: 'object',
          properties: {
            since: { type: 'string', maxLength: 40, default: '30d', description: 'a duration back from until (30d, 2w, 12h) or a date' },
            until: { type: 'string', maxLength: 40, description: 'a date; default now' },
          },
          additionalProperties: false,
        },
        response: { 200: deliveryReportSchema },
      },
    },
    async (request) => {
      const query = request.query as { since: string; until?: string };
      // the server serves one app: its report is that app's
      return buildDeliveryReport(options.pool, { ...parsePeriod(query), app: options.spec.app.name });
    },
  );
}
