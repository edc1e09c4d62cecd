import type { Link } from '../model/index.js';

/**
 * Resource discovery filtering (RFC 6690 §4.1): `GET /.well-known/core?rt=core.rd` answers only
 * the links whose `rt` is (or, for space-separated values, contains) `core.rd`; a trailing `*`
 * matches a prefix; `href` filters on the target; a bare name keeps links that carry the
 * attribute. RFC 6690 defines one filter per request; several are all applied.
 */
export function filterLinks(links: readonly Link[], query: readonly string[]): Link[] {
  const filters = query.map(parseFilter);
  return links.filter((link) => filters.every((f) => matches(link, f)));
}

interface Filter {
  name: string;
  value: string | undefined;
}

function parseFilter(q: string): Filter {
  const eq = q.indexOf('=');
  return eq < 0 ? { name: q, value: undefined } : { name: q.slice(0, eq), value: q.slice(eq + 1) };
}

function matches(link: Link, f: Filter): boolean {
  if (f.name === 'href') return f.value === undefined || valueMatches(link.target, f.value);
  if (!Object.prototype.hasOwnProperty.call(link.attributes, f.name)) return false;
  if (f.value === undefined) return true;
  const value = link.attributes[f.name];
  if (value === undefined) return false;
  return valueMatches(value, f.value) || value.split(/\s+/).some((token) => valueMatches(token, f.value!));
}

function valueMatches(actual: string, wanted: string): boolean {
  return wanted.endsWith('*') ? actual.startsWith(wanted.slice(0, -1)) : actual === wanted;
}
