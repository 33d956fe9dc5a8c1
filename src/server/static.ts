import { existsSync } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance, FastifyReply } from 'fastify';

/**
 * Serves the dashboard (dist/web, built by `npm run build`) at `/`. The API stays under /api. Every
 * answer carries a Content-Security-Policy of `default-src 'self'`: the dashboard cannot reach any other
 * origin, so nothing it shows leaves the machine.
 */
export const CONTENT_SECURITY_POLICY = "default-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.json': 'application/json; charset=utf-8',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.txt': 'text/plain; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
};

/**
 * dist/web next to this module: compiled, this file is dist/server/static.js (from a checkout or an npm
 * install alike); run from source by the tests, it is src/server/static.ts and the build is in ../../dist/web.
 */
export function defaultWebRoot(): string {
  const candidates = [new URL('../web/', import.meta.url), new URL('../../dist/web/', import.meta.url)].map((url) => fileURLToPath(url));
  return candidates.find((folder) => existsSync(join(folder, 'index.html'))) ?? candidates[0]!;
}

export interface StaticOptions {
  /** the built dashboard; default dist/web next to the module */
  root?: string;
}

export function registerStatic(app: FastifyInstance, options: StaticOptions = {}): void {
  const root = normalize(options.root ?? defaultWebRoot());
  const rootPrefix = root.endsWith(sep) ? root : root + sep;

  const send = async (reply: FastifyReply, relative: string) => {
    void reply.header('content-security-policy', CONTENT_SECURITY_POLICY).header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer');
    const file = normalize(join(root, relative));
    // a path that leaves the root (.., encoded or not, or an absolute one) is simply not found
    if (!file.startsWith(rootPrefix) || relative.includes('\0')) return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    const info = await stat(file).catch(() => undefined);
    if (!info?.isFile()) {
      if (relative === 'index.html') {
        return reply.status(503).type('text/plain; charset=utf-8').send(`the dashboard is not built: run npm run build (looked for ${join(root, 'index.html')}); the API answers under /api`);
      }
      return reply.status(404).type('text/plain; charset=utf-8').send('not found');
    }
    // Vite names built assets by content hash, so they never change; index.html names the current ones
    const hashed = relative.startsWith('assets/');
    void reply.header('cache-control', hashed ? 'public, max-age=31536000, immutable' : 'no-cache');
    return reply.type(TYPES[extname(file)] ?? 'application/octet-stream').send(await readFile(file));
  };

  app.get('/', { schema: { hide: true } }, (_request, reply) => send(reply, 'index.html'));
  app.get('/*', { schema: { hide: true } }, (request, reply) => {
    const wanted = (request.params as { '*': string })['*'];
    // unknown API paths answer as the API does, not with a page
    if (wanted.startsWith('api/') || wanted === 'api') return reply.status(404).send({ error: `no route ${request.method} /${wanted}` });
    return send(reply, wanted === '' ? 'index.html' : wanted);
  });
}
