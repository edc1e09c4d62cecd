import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { portalRoutes } from '../../gateway/api/portal.js';
import { tempDir } from '../support/harness.js';

/** The gateway's serving of the portal build, without a browser: fallback, caching, what it leaves alone, no build. */
async function app(dir: string): Promise<FastifyInstance> {
  const fastify = Fastify();
  fastify.setNotFoundHandler((req, reply) => void reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } }));
  fastify.get('/api/v1/devices', async () => ({ items: [] }));
  portalRoutes(fastify, { dir });
  await fastify.ready();
  return fastify;
}

describe('portal static serving', () => {
  test('serves index.html at / and for every view path, assets with a long cache, and never answers for /api, /fw, /healthz, /metrics', async () => {
    const dir = tempDir();
    mkdirSync(join(dir.path, 'assets'));
    writeFileSync(join(dir.path, 'index.html'), '<!doctype html><div id="app"></div>');
    writeFileSync(join(dir.path, 'assets/index-abc123.js'), 'console.log(1)');
    const a = await app(dir.path);
    try {
      for (const url of ['/', '/devices', '/devices/pump.42', '/rollouts/ro-1?x=1', '/index.html']) {
        const r = await a.inject({ url });
        assert.equal(r.statusCode, 200, url);
        assert.match(r.headers['content-type'] as string, /text\/html/, url);
        assert.equal(r.headers['cache-control'], 'no-cache', url);
        assert.match(r.headers['content-security-policy'] as string, /default-src 'self'/);
        assert.match(r.body, /id="app"/);
      }
      const asset = await a.inject({ url: '/assets/index-abc123.js' });
      assert.equal(asset.statusCode, 200);
      assert.match(asset.headers['content-type'] as string, /javascript/);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      const head = await a.inject({ method: 'HEAD', url: '/devices/x' });
      assert.equal(head.statusCode, 200);

      for (const url of ['/assets/gone-123.js', '/api/v1/nothing', '/api', '/fw/t1/image.bin', '/healthz', '/metrics', '/..%2f..%2f..%2fetc%2fpasswd', '/assets/..%2f..%2fpackage.json']) {
        const r = await a.inject({ url });
        assert.equal(r.statusCode, 404, url);
        assert.equal(r.json<{ error: { code: string } }>().error.code, 'not_found', url);
      }
      assert.equal((await a.inject({ url: '/api/v1/devices' })).statusCode, 200, 'API routes are untouched');
    } finally {
      await a.close();
      dir.remove();
    }
  });

  test('without a build, a view path answers 503 with a page saying how to build it', async () => {
    const dir = tempDir();
    const a = await app(join(dir.path, 'not-built'));
    try {
      const r = await a.inject({ url: '/' });
      assert.equal(r.statusCode, 503);
      assert.match(r.headers['content-type'] as string, /text\/html/);
      assert.match(r.body, /npm run build/);
      assert.equal((await a.inject({ url: '/devices/x' })).statusCode, 503);
      assert.equal((await a.inject({ url: '/api/v1/nothing' })).statusCode, 404);

      // Built while the gateway runs: served from the next request on.
      mkdirSync(join(dir.path, 'not-built'));
      writeFileSync(join(dir.path, 'not-built/index.html'), '<!doctype html><div id="app"></div>');
      assert.equal((await a.inject({ url: '/' })).statusCode, 200);
    } finally {
      await a.close();
      dir.remove();
    }
  });
});
