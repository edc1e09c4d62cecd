import type { Gateway } from '../../gateway/gateway.js';

/** One route of the gateway's API, as the server registered it. */
export interface RouteUnderTest {
  method: string;
  /** With `:name` parameters, as registered: `/api/v1/devices/:endpoint`. */
  url: string;
  /** `GET /api/v1/devices/:endpoint`: what tests key policies by. */
  key: string;
}

/** The docs' own page assets (Swagger UI's files); the docs page itself and its JSON/YAML are API routes like any. */
const DOCS_ASSETS = /^\/api\/docs\/(static\/|$)/;

/**
 * Every route of the gateway's API from its own route table (a route added tomorrow is in it),
 * without HEAD twins and the docs' own assets. `under` keeps those whose URL starts with it
 * (e.g. `/api/v1/` for the authenticated API).
 */
export function apiRoutes(gateway: Gateway, options: { under?: string } = {}): RouteUnderTest[] {
  const seen = new Set<string>();
  const routes: RouteUnderTest[] = [];
  for (const r of gateway.apiRoutes) {
    if (r.method === 'HEAD' || r.method === 'OPTIONS' || DOCS_ASSETS.test(r.url)) continue;
    // Files served outside the API (the portal's, at `/`) are hidden from the document and are not API routes.
    if (r.hidden && !r.url.startsWith('/api/')) continue;
    if (options.under && !r.url.startsWith(options.under)) continue;
    const key = `${r.method} ${r.url}`;
    if (seen.has(key)) continue;
    seen.add(key);
    routes.push({ method: r.method, url: r.url, key });
  }
  return routes;
}

/** `/api/v1/devices/:endpoint` → `/api/v1/devices/{endpoint}` (the OpenAPI path template). */
export function openApiPath(url: string): string {
  return url.replace(/:(\w+)/g, '{$1}');
}

/** A URL of the route with every parameter filled in (`no-such-endpoint`), for requests that must get past the router. */
export function concreteUrl(url: string, fill: (name: string) => string = (name) => `no-such-${name}`): string {
  return url.replace(/:(\w+)/g, (_m, name: string) => fill(name));
}
