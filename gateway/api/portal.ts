import { existsSync, statSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance, FastifyReply } from 'fastify';

/** Paths that are never the portal's, even when nothing else answers them: the API, device downloads, probes. */
const NOT_PORTAL = /^\/(?:api|fw)(?:\/|$)|^\/(?:healthz|metrics)$/;

/** The portal talks to its own origin only; no framing (clickjacking), no inline script. */
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'x-frame-options': 'DENY',
} as const;

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>edgedm: portal not built</title>
<style>body{font:15px/1.5 system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em;color:#1c2430}code{background:#eef0f4;padding:1px 4px;border-radius:3px}</style></head>
<body><h1>The web portal is not built</h1>
<p>This gateway runs, but its web portal has not been built into <code>dist/portal/</code>.</p>
<p>In the edgedm checkout run <code>npm install</code> (the portal is built with the development
dependencies), or <code>npm run build</code> if they are installed, then reload this page.</p>
<p>The REST API answers meanwhile at <a href="/api/v1/devices">/api/v1</a>; <a href="/healthz">/healthz</a> tells whether the gateway is up.</p>
</body></html>
`;

/** `dist/portal` of the checkout this file is in, whether it runs compiled (dist/gateway/api) or from source (gateway/api, tsx). */
export function defaultPortalDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'package.json'))) {
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  return join(dir, 'dist/portal');
}

/**
 * The web portal (Y.4702 8.8), served by the gateway itself at `/`: the files Vite built into
 * dist/portal, with a single-page-application fallback (any other GET outside /api, /fw,
 * /healthz and /metrics answers index.html, so /devices/sim-0001 opens that view on a reload).
 * Without a build, those paths answer 503 with a page saying how to build it. Public: the
 * portal's own login page calls /api/v1/auth/login.
 */
export function portalRoutes(app: FastifyInstance, opts: { dir?: string } = {}): void {
  const dir = resolve(opts.dir ?? process.env.EDGEDM_PORTAL_DIR ?? defaultPortalDir());
  const index = join(dir, 'index.html');
  // Only reply.sendFile: the one route below decides what is the portal's.
  void app.register(fastifyStatic, { root: dir, serve: false, suppressWarning: true });

  const sendIndex = (reply: FastifyReply) => reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-cache' }).sendFile('index.html', { cacheControl: false });

  app.get<{ Params: { '*': string } }>('/*', { schema: { hide: true } }, async (req, reply) => {
    const path = req.url.split('?')[0]!;
    if (NOT_PORTAL.test(path)) return reply.callNotFound();
    if (!existsSync(index)) {
      return reply.status(503).headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store', 'retry-after': '60' }).type('text/html; charset=utf-8').send(NOT_BUILT);
    }
    const file = inside(dir, path);
    if (file === undefined) return reply.callNotFound();
    if (file !== 'index.html' && file !== '' && isFile(join(dir, file))) {
      // Vite names its assets by content hash: they never change, so the browser may keep them.
      const cache = file.startsWith('assets/') ? 'public, max-age=31536000, immutable' : 'no-cache';
      return reply.headers({ 'cache-control': cache, 'x-content-type-options': 'nosniff' }).sendFile(file, { cacheControl: false });
    }
    // A missing asset is a 404 (an old page after an upgrade reloads); any other path is a view of the portal (/devices/pump.42).
    if (file.startsWith('assets/')) return reply.callNotFound();
    return sendIndex(reply);
  });
}

/** The URL path as a file path relative to `dir`, or undefined when it is malformed or leads outside it. */
function inside(dir: string, urlPath: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0')) return undefined;
  const full = resolve(dir, `.${decoded}`);
  if (full !== dir && !full.startsWith(dir + sep)) return undefined;
  return full.slice(dir.length + 1);
}

function isFile(path: string): boolean {
  try {
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
