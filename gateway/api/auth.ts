import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AuditLog, AuditOutcome } from '../audit/audit-log.js';
import type { OperatorService, Principal } from '../operators/operator-service.js';
import { roleAllows, type Access } from '../operators/roles.js';

declare module 'fastify' {
  interface FastifyRequest {
    /** The authenticated operator; null on public routes reached without credentials. */
    principal: Principal | null;
  }
  interface FastifyContextConfig {
    /** Who may call the route. Default: public outside /api, viewer for GET, operator otherwise. */
    access?: Access;
    /** false for POSTs that change nothing (device read, discover), and for routes that audit themselves (login). */
    audit?: boolean;
    /** The audit action name, when the one derived from the URL does not say it. */
    action?: string;
  }
}

export const SESSION_COOKIE = 'edgedm_session';
const READ_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Routes anyone may call: devices fetch the trust anchor (a public key), people log in, tools read the API's description. */
const PUBLIC = [/^\/api\/v1\/firmware\/trust-anchor$/, /^\/api\/v1\/auth\/login$/, /^\/api\/docs(\/|$)/];
/** Changes only an admin may make: operator accounts, alarm rules, and the registry's device credentials. */
const ADMIN_CHANGES = [
  /^\/api\/v1\/operators(\/|$)/,
  /^\/api\/v1\/alarm-rules(\/|$)/,
  /^\/api\/v1\/devices\/import$/,
  /^\/api\/v1\/devices\/:endpoint\/decommission$/,
  /^\/api\/v1\/devices\/:endpoint\/psk$/,
];
/** POSTs that change nothing: a viewer may make them, and they are not audited. */
const READING_POSTS = [/^\/api\/v1\/devices\/:endpoint\/(read|discover)$/];
const ADMIN_DELETES = [/^\/api\/v1\/devices\/:endpoint$/];

/**
 * The access a route needs; the policy in one place, so it reads as a table and the route-table
 * test can hold every route to it. A route's own `config.access` overrides it.
 */
export function routeAccess(method: string, url: string | undefined, configured: Access | undefined): Access {
  if (configured) return configured;
  // Outside /api: the portal's static files, /healthz, /metrics, device-facing firmware downloads (/fw).
  if (url === undefined || !url.startsWith('/api/') || PUBLIC.some((p) => p.test(url))) return 'public';
  if (READ_METHODS.has(method)) return url.startsWith('/api/v1/operators') ? 'admin' : 'viewer';
  if (method === 'POST' && READING_POSTS.some((p) => p.test(url))) return 'viewer';
  if (ADMIN_CHANGES.some((p) => p.test(url)) || (method === 'DELETE' && ADMIN_DELETES.some((p) => p.test(url)))) return 'admin';
  return 'operator';
}

/** `devices.write`, `rollouts.create`, `alarm-rules.delete`: what the audit log calls a route. */
export function auditAction(method: string, url: string): string {
  const segments = url.replace(/^\/api\/v\d+\//, '').split('/').filter(Boolean);
  const named = segments.filter((s) => !s.startsWith(':'));
  const last = segments.at(-1) ?? '';
  const onItemOrCollection = last.startsWith(':') || named.length === 1;
  const verb = { POST: 'create', PUT: 'update', PATCH: 'update', DELETE: 'delete' }[method] ?? method.toLowerCase();
  return onItemOrCollection || method === 'DELETE' ? [...named, verb].join('.') : named.join('.');
}

export function bearerOrCookie(request: FastifyRequest): { token: string; from: 'header' | 'cookie' } | undefined {
  const header = request.headers.authorization;
  if (header) {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(header);
    return match ? { token: match[1]!, from: 'header' } : undefined;
  }
  const cookie = request.headers.cookie;
  if (!cookie) return undefined;
  for (const part of cookie.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === SESSION_COOKIE) return { token: decodeURIComponent(part.slice(eq + 1).trim()), from: 'cookie' };
  }
  return undefined;
}

export function sessionCookie(token: string, maxAgeSeconds: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${encodeURIComponent(token)}; Path=/; HttpOnly; SameSite=Strict; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

function deny(reply: FastifyReply, status: 401 | 403, code: string, message: string): FastifyReply {
  if (status === 401) void reply.header('www-authenticate', 'Bearer realm="edgedm"');
  return reply.status(status).send({ error: { code, message } });
}

/**
 * Authentication (bearer token or the portal's session cookie), authorisation by role, and the
 * audit trail of every state-changing request, allowed or not.
 */
export function installAuth(app: FastifyInstance, operators: OperatorService, audit: AuditLog): void {
  app.decorateRequest('principal', null);

  app.addHook('onRequest', async (request, reply) => {
    const config = request.routeOptions.config;
    const access = routeAccess(request.method, request.routeOptions.url, config?.access);
    const credential = bearerOrCookie(request);
    request.principal = credential ? (operators.resolve(credential.token) ?? null) : null;
    if (access === 'public') return;
    if (!request.principal) {
      return deny(reply, 401, 'unauthorized', credential ? 'the token is unknown or expired; log in again' : 'log in or send an API token (Authorization: Bearer …)');
    }
    // A cookie is sent by the browser on its own: a state-changing request carrying one must come
    // from the portal's own origin, whatever SameSite support the browser has.
    if (credential?.from === 'cookie' && !READ_METHODS.has(request.method) && !sameOrigin(request)) {
      return deny(reply, 403, 'forbidden', 'cross-origin request refused');
    }
    if (!roleAllows(request.principal.role, access)) {
      return deny(reply, 403, 'forbidden', `${request.principal.role} may not ${request.method} ${request.routeOptions.url}; it needs ${access}`);
    }
  });

  // The error body's code, taken before it is serialised (every error body is `{ error: { code } }`).
  app.addHook('preSerialization', async (request, reply, payload) => {
    if (reply.statusCode >= 400 && shouldAudit(request)) errorCodes.set(request, (payload as { error?: { code?: string } } | null)?.error?.code);
    return payload;
  });

  app.addHook('onResponse', async (request, reply) => {
    if (!shouldAudit(request)) return;
    const status = reply.statusCode;
    const outcome: AuditOutcome = status === 401 || status === 403 ? 'denied' : status < 400 ? 'success' : 'failure';
    const url = request.routeOptions.url!;
    const body = request.body as Record<string, unknown> | undefined;
    const details: Record<string, unknown> = {};
    if (typeof body?.path === 'string') details.path = body.path;
    if (typeof body?.operation === 'string') details.operation = body.operation;
    const code = errorCodes.get(request);
    if (code) details.error = code;
    audit.append({
      actor: request.principal?.username ?? null,
      role: request.principal?.role ?? null,
      action: request.routeOptions.config?.action ?? auditAction(request.method, url),
      method: request.method,
      path: request.url.split('?')[0]!,
      target: auditTarget(request.params as Record<string, string> | undefined, body),
      status,
      outcome,
      source: request.ip,
      details: Object.keys(details).length > 0 ? details : null,
    });
  });
}

const errorCodes = new WeakMap<FastifyRequest, string | undefined>();

/** Whether a request to this route goes to the audit log: every state-changing one. */
export function routeAudited(method: string, url: string | undefined, configured: boolean | undefined): boolean {
  if (url === undefined || READ_METHODS.has(method) || configured === false) return false;
  return !(method === 'POST' && READING_POSTS.some((p) => p.test(url)));
}

function shouldAudit(request: FastifyRequest): boolean {
  return routeAudited(request.method, request.routeOptions.url, request.routeOptions.config?.audit);
}

function auditTarget(params: Record<string, string> | undefined, body: Record<string, unknown> | undefined): string | null {
  const fromParams = params?.endpoint ?? params?.id ?? params?.name ?? params?.username;
  if (fromParams) return String(fromParams);
  for (const key of ['target', 'endpoint', 'username', 'name'] as const) if (typeof body?.[key] === 'string') return body[key] as string;
  return null;
}

function sameOrigin(request: FastifyRequest): boolean {
  const origin = request.headers.origin ?? request.headers.referer;
  if (!origin) return true; // not a browser's cross-site form or fetch: those always send Origin
  try {
    return new URL(origin).host === request.headers.host;
  } catch {
    return false;
  }
}
