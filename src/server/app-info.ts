/**
 * GET /api/app: the app's name and its environments in promotion order, for dashboard pages that
 * call app-scoped routes (the flag admin API is under /api/apps/:app/...).
 */
import type { FastifyInstance } from 'fastify';
import type { PromoteSpec } from '../spec/index.js';

const response = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    environments: { type: 'array', items: { type: 'string' }, description: 'in promotion order' },
  },
  required: ['name', 'environments'],
} as const;

export function registerAppInfoRoute(app: FastifyInstance, spec: PromoteSpec): void {
  app.get('/api/app', { schema: { summary: 'The app this server promotes, and its environments in promotion order', response: { 200: response } } }, () => ({
    name: spec.app.name,
    environments: spec.environments.map((environment) => environment.name),
  }));
}
