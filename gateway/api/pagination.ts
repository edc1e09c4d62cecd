/**
 * One way to page every list of the API: `?offset=&limit=` in, `{ items, total, offset, limit }`
 * out. `items` is what clients read before lists were paged, so they keep working (on the first
 * page); `total` says whether there is more.
 */

export const PAGE_LIMIT_DEFAULT = 100;
/** A page at most this long: more is fetched page by page (the CLI's ApiClient.getAll). */
export const PAGE_LIMIT_MAX = 1000;

export interface PageQuery {
  offset: number;
  limit: number;
}

export interface Page<T> extends PageQuery {
  items: T[];
  total: number;
}

/** The querystring properties of a paged list (spread them into the route's querystring schema). */
export const pageQueryProperties = {
  offset: { type: 'integer', minimum: 0, default: 0, description: 'items to skip' },
  limit: { type: 'integer', minimum: 1, maximum: PAGE_LIMIT_MAX, default: PAGE_LIMIT_DEFAULT, description: `items per page (at most ${PAGE_LIMIT_MAX})` },
} as const;

/** The querystring schema of a paged list with no other parameter. */
export const pageQuerySchema = { type: 'object', additionalProperties: false, properties: pageQueryProperties } as const;

/** The response schema of a page of `items`. */
export function pageSchema<S extends object>(items: S, description?: string) {
  return {
    type: 'object',
    required: ['items', 'total', 'offset', 'limit'],
    ...(description ? { description } : {}),
    properties: {
      items: { type: 'array', items },
      total: { type: 'integer', description: 'items in the whole list' },
      offset: { type: 'integer' },
      limit: { type: 'integer' },
    },
  } as const;
}

/** A page cut from a list held whole (small lists: groups, tags, rules, firmware images). */
export function pageOf<T>(all: readonly T[], query: PageQuery): Page<T> {
  return { items: all.slice(query.offset, query.offset + query.limit), total: all.length, offset: query.offset, limit: query.limit };
}
