import type { FastifyInstance } from 'fastify';
import { request } from 'undici';
import type { PromoteSpec } from '../spec/index.js';
import type { SeriesPoint } from '../router/window.js';

/**
 * GET /api/environments/:env/traffic: per-version time series for the dashboard's charts (request rate,
 * error rate, p50 and p99), read from the environment's router admin port (/series), where the router
 * keeps its last 300 s per second. Nothing is stored: a restarted router starts its series afresh.
 */
export interface TrafficPoint {
  /** bucket start, ms since the epoch */
  t: number;
  requestsPerSecond: number;
  /** (5xx + router errors) / requests; null without requests */
  errorRate: number | null;
  /** ms; null without requests */
  p50: number | null;
  p99: number | null;
}

export interface TrafficSeries {
  environment: string;
  seconds: number;
  step: number;
  versions: Array<{ version: string; points: TrafficPoint[] }>;
}

const TIMEOUT_MS = 3_000;

function adminAddress(spec: PromoteSpec, environment: string): string | undefined {
  const admin = spec.environments.find((each) => each.name === environment)?.router?.admin;
  if (!admin) return undefined;
  // a wildcard listen address is reached on loopback
  return admin.replace(/^(0\.0\.0\.0|\[::\]):/, '127.0.0.1:');
}

export async function readTrafficSeries(spec: PromoteSpec, environment: string, seconds: number): Promise<TrafficSeries | { status: number; error: string; hint?: string }> {
  if (!spec.environments.some((each) => each.name === environment)) return { status: 404, error: `no environment "${environment}" in promote.yaml` };
  const address = adminAddress(spec, environment);
  if (!address) return { status: 404, error: `environment ${environment} has no router, so Promote measures no traffic there`, hint: 'add router: to the environment in promote.yaml' };
  // about 60 points whatever the span, so charts stay light
  const step = Math.max(1, Math.round(seconds / 60));
  let body: { seconds: number; step: number; versions: Array<{ version: string; points: SeriesPoint[] }> };
  try {
    const answer = await request(`http://${address}/series?seconds=${seconds}&step=${step}`, { headersTimeout: TIMEOUT_MS, bodyTimeout: TIMEOUT_MS });
    if (answer.statusCode !== 200) {
      const text = await answer.body.text();
      return { status: 502, error: `reading the traffic series of ${environment} from its router admin port ${address}: answered ${answer.statusCode} ${text.slice(0, 200)}` };
    }
    body = (await answer.body.json()) as typeof body;
  } catch (problem) {
    return { status: 503, error: `reading the traffic series of ${environment} from its router admin port ${address}: ${(problem as Error).message}`, hint: 'is the router running (promote server runs the routers unless --no-routers)?' };
  }
  return {
    environment,
    seconds: body.seconds,
    step: body.step,
    versions: body.versions.map(({ version, points }) => ({
      version,
      points: points.map((point) => ({
        t: point.t,
        requestsPerSecond: point.requests / point.seconds,
        errorRate: point.requests === 0 ? null : point.errors / point.requests,
        p50: point.p50Micros === null ? null : point.p50Micros / 1000,
        p99: point.p99Micros === null ? null : point.p99Micros / 1000,
      })),
    })),
  };
}

const number = { type: ['number', 'null'] } as const;

export function registerTrafficSeries(app: FastifyInstance, options: { spec: PromoteSpec }): void {
  app.get(
    '/api/environments/:environment/traffic',
    {
      schema: {
        summary: "Per-version time series of the environment's traffic from its router: requests/s, error rate, p50 and p99 (ms), about 60 points",
        params: { type: 'object', properties: { environment: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } }, required: ['environment'], additionalProperties: false },
        querystring: { type: 'object', properties: { seconds: { type: 'integer', minimum: 10, maximum: 3600, default: 300 } }, additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              environment: { type: 'string' },
              seconds: { type: 'integer' },
              step: { type: 'integer' },
              versions: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: {
                    version: { type: 'string' },
                    points: { type: 'array', items: { type: 'object', properties: { t: { type: 'number' }, requestsPerSecond: { type: 'number' }, errorRate: number, p50: number, p99: number }, required: ['t', 'requestsPerSecond', 'errorRate', 'p50', 'p99'] } },
                  },
                  required: ['version', 'points'],
                },
              },
            },
            required: ['environment', 'seconds', 'step', 'versions'],
          },
          '4xx': { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] },
          '5xx': { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] },
        },
      },
    },
    async (request, reply) => {
      const environment = (request.params as { environment: string }).environment;
      const result = await readTrafficSeries(options.spec, environment, (request.query as { seconds: number }).seconds);
      if ('status' in result) return reply.status(result.status).send({ error: result.error, ...(result.hint ? { hint: result.hint } : {}) });
      return result;
    },
  );
}
