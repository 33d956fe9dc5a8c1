import type { FastifyInstance } from 'fastify';
import { freezeState } from '../engine/freeze.js';
import type { PromoteSpec } from '../spec/index.js';
import { environmentNamed } from './app-info.js';

/**
 * GET /api/environments/:environment/freeze: whether deploys to the environment are frozen now (by which
 * window, until when) and its next window, the same answer as `promote freeze --env <name> --json`
 * (both call engine/freeze.ts freezeState). Computed from promote.yaml and the clock: nothing is stored.
 */
const window = (...times: string[]) =>
  ({
    type: ['object', 'null'],
    properties: { window: { type: 'string' }, ...Object.fromEntries(times.map((time) => [time, { type: 'string', format: 'date-time' }])) },
    required: ['window', ...times],
    additionalProperties: false,
  }) as const;

/** The state's JSON schema; the overview reuses its `frozen` and `next`. */
export const freezeSchemas = { frozen: window('since', 'until'), next: window('startsAt', 'endsAt') };

const error = { type: 'object', properties: { error: { type: 'string' }, hint: { type: 'string' } }, required: ['error'] } as const;

export function registerFreezeRoutes(app: FastifyInstance, options: { spec: PromoteSpec }): void {
  const { spec } = options;
  app.get(
    '/api/environments/:environment/freeze',
    {
      schema: {
        summary: "The environment's freeze windows now: frozen by which window until when (touching windows chained) or null, and the next window; times UTC",
        params: { type: 'object', properties: { environment: { type: 'string', pattern: '^[a-z][a-z0-9-]{0,62}$' } }, required: ['environment'], additionalProperties: false },
        response: {
          200: {
            type: 'object',
            properties: {
              environment: { type: 'string' },
              mode: { type: ['string', 'null'], enum: ['refuse', 'wait', null] },
              timezone: { type: ['string', 'null'] },
              frozen: freezeSchemas.frozen,
              next: freezeSchemas.next,
            },
            required: ['environment', 'mode', 'timezone', 'frozen', 'next'],
            additionalProperties: false,
          },
          404: error,
        },
      },
    },
    (request) => freezeState(environmentNamed(spec, (request.params as { environment: string }).environment), new Date()),
  );
}
