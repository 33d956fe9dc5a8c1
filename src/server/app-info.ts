/**
 * GET /api/app: the app's name and its environments in promotion order, for dashboard pages that
 * call app-scoped routes (the flag admin API is under /api/apps/:app/...).
 */
import type { FastifyInstance } from 'fastify';
import { notFound } from '../errors.js';
import type { PromoteSpec } from '../spec/index.js';

/** The environment a route's path names; unknown: a 404 naming the ones the app has. */
export function environmentNamed(spec: PromoteSpec, name: string): PromoteSpec['environments'][number] {
  const found = spec.environments.find((each) => each.name === name);
  if (found === undefined) throw notFound(`${spec.app.name} has no environment "${name}"`, { hint: `environments: ${spec.environments.map((each) => each.name).join(', ')}` });
  return found;
}

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
