import type { FastifyInstance } from 'fastify';
import { listReleases } from '../store/index.js';
import type { ServerOptions } from './app.js';

const release = {
  type: 'object',
  properties: {
    id: { type: 'integer' },
    version: { type: 'string' },
    digest: { type: 'string' },
    migrationChecksums: { type: 'object', additionalProperties: { type: 'string' } },
    createdBy: { type: ['string', 'null'] },
    createdAt: { type: 'string', format: 'date-time' },
  },
  required: ['id', 'version', 'digest', 'createdAt'],
} as const;

export function registerReleaseRoutes(app: FastifyInstance, options: ServerOptions): void {
  app.get(
    '/api/releases',
    { schema: { summary: 'The releases of the app, newest first', querystring: { type: 'object', properties: { limit: { type: 'integer', minimum: 1, maximum: 1000, default: 50 } }, additionalProperties: false }, response: { 200: { type: 'array', items: release } } } },
    async (request) => listReleases(options.pool, options.spec.app.name, { limit: (request.query as { limit: number }).limit }),
  );
}
