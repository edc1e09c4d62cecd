import type { FastifyInstance } from 'fastify';

/** One route as the server registered it: what tests check the OpenAPI document and the access policy against. */
export interface ApiRoute {
  method: string;
  /** The route's path as registered, with `:name` parameters (`/api/v1/devices/:endpoint`). */
  url: string;
  /** Left out of the OpenAPI document on purpose (`schema.hide`: the docs' own assets, aliases). */
  hidden: boolean;
}

const tables = new WeakMap<FastifyInstance, ApiRoute[]>();

/** Records every route registered on `app` from now on; call it before the first route. */
export function trackRoutes(app: FastifyInstance): void {
  const table: ApiRoute[] = [];
  tables.set(app, table);
  app.addHook('onRoute', (route) => {
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    for (const method of methods) table.push({ method: String(method).toUpperCase(), url: route.url, hidden: route.schema?.hide === true });
  });
}

/** The routes of an app set up with `trackRoutes`, in registration order (HEAD twins included). */
export function routeTable(app: FastifyInstance): readonly ApiRoute[] {
  return tables.get(app) ?? [];
}
