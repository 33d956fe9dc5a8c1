import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Fastify, { type FastifyInstance } from 'fastify';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CONTENT_SECURITY_POLICY, registerStatic } from './static.js';

describe('the dashboard files', () => {
  let folder: string;
  let app: FastifyInstance;
  let missing: FastifyInstance;
  let base: string;
  let missingBase: string;

  beforeAll(async () => {
    folder = await mkdtemp(join(tmpdir(), 'promote-static-'));
    await mkdir(join(folder, 'web', 'assets'), { recursive: true });
    await writeFile(join(folder, 'web', 'index.html'), '<!doctype html><title>Promote</title>');
    await writeFile(join(folder, 'web', 'assets', 'index-abc123.js'), 'console.log(1)');
    await writeFile(join(folder, 'secret.txt'), 'outside the root');
    app = Fastify();
    registerStatic(app, { root: join(folder, 'web') });
    app.get('/api/rollouts', () => []);
    base = await app.listen({ host: '127.0.0.1', port: 0 });
    missing = Fastify();
    registerStatic(missing, { root: join(folder, 'nothing-here') });
    missingBase = await missing.listen({ host: '127.0.0.1', port: 0 });
  });
  afterAll(async () => {
    await app?.close();
    await missing?.close();
    await rm(folder, { recursive: true, force: true });
  });

  const get = async (at: string, path: string) => {
    const response = await request(`${at}${path}`);
    return { status: response.statusCode, headers: response.headers, text: await response.body.text() };
  };

  it('serves index.html at / (not cached) and hashed assets for a year, always under the CSP', async () => {
    const index = await get(base, '/');
    expect(index).toMatchObject({ status: 200, text: '<!doctype html><title>Promote</title>' });
    expect(index.headers).toMatchObject({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache', 'content-security-policy': CONTENT_SECURITY_POLICY });
    expect(CONTENT_SECURITY_POLICY).toMatch(/^default-src 'self'/);
    const asset = await get(base, '/assets/index-abc123.js');
    expect(asset).toMatchObject({ status: 200, text: 'console.log(1)' });
    expect(asset.headers).toMatchObject({ 'content-type': 'text/javascript; charset=utf-8', 'cache-control': 'public, max-age=31536000, immutable' });
  });

  it('never leaves its folder, and unknown API paths stay JSON 404s', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/assets/..%2f..%2fsecret.txt', '/%2e%2e%2fsecret.txt', '/assets/%00x']) {
      const answer = await get(base, path);
      expect(answer.status, path).toBe(404);
      expect(answer.text, path).not.toContain('outside the root');
    }
    expect((await get(base, '/api/rollouts')).text).toBe('[]');
    const unknown = await get(base, '/api/nothing');
    expect(unknown.status).toBe(404);
    expect(JSON.parse(unknown.text)).toEqual({ error: 'no route GET /api/nothing' });
  });

  it('says how to build the dashboard when it is not built', async () => {
    const answer = await get(missingBase, '/');
    expect(answer.status).toBe(503);
    expect(answer.text).toMatch(/^the dashboard is not built: run npm run build/);
  });
});
