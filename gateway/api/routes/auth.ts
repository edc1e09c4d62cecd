import type { FastifyInstance } from 'fastify';
import type { AuditLog } from '../../audit/audit-log.js';
import type { LoginThrottle } from '../../operators/login-throttle.js';
import type { OperatorService } from '../../operators/operator-service.js';
import { ROLES } from '../../operators/roles.js';
import { SESSION_COOKIE, sessionCookie } from '../auth.js';
import { ApiError, errorBodySchema } from '../errors.js';

const credentialsBody = {
  type: 'object',
  required: ['username', 'password'],
  additionalProperties: false,
  properties: { username: { type: 'string', minLength: 1, maxLength: 64 }, password: { type: 'string', minLength: 1, maxLength: 256 } },
} as const;

export const principalSchema = {
  type: 'object',
  required: ['username', 'role'],
  properties: { username: { type: 'string' }, role: { type: 'string', enum: [...ROLES] } },
} as const;

const loginAnswer = {
  type: 'object',
  required: ['token', 'expiresAt', 'operator'],
  properties: { token: { type: 'string' }, expiresAt: { type: ['string', 'null'], format: 'date-time' }, operator: principalSchema },
} as const;

export interface AuthRouteOptions {
  operators: OperatorService;
  audit: AuditLog;
  throttle: LoginThrottle;
  /** Cookies get `Secure` when the API is served over HTTPS. */
  secure: boolean;
}

/** Log in (a session token, also set as the portal's HttpOnly cookie), log out, who am I, change my password. */
export function authRoutes(app: FastifyInstance, { operators, audit, throttle, secure }: AuthRouteOptions): void {
  app.post<{ Body: { username: string; password: string } }>(
    '/api/v1/auth/login',
    {
      config: { access: 'public', audit: false },
      schema: {
        tags: ['auth'],
        summary: 'Log in with a username and password; answers a session token and sets the session cookie',
        security: [],
        body: credentialsBody,
        response: { 200: loginAnswer, 400: errorBodySchema, 401: errorBodySchema, 429: errorBodySchema },
      },
    },
    async (req, reply) => {
      const { username, password } = req.body;
      const record = (status: number, outcome: 'success' | 'failure', role: string | null, error?: string) =>
        audit.append({
          actor: username.toLowerCase().slice(0, 64),
          role,
          action: 'auth.login',
          method: 'POST',
          path: '/api/v1/auth/login',
          target: null,
          status,
          outcome,
          source: req.ip,
          details: error ? { error } : null,
        });
      const waitMs = throttle.retryAfterMs(username, req.ip);
      if (waitMs > 0) {
        record(429, 'failure', null, 'too_many_attempts');
        void reply.header('retry-after', Math.ceil(waitMs / 1000));
        throw new ApiError(429, 'too_many_attempts', `too many failed logins; try again in ${Math.ceil(waitMs / 1000)} s`);
      }
      const operator = await operators.authenticate(username, password);
      if (!operator) {
        throttle.failed(username, req.ip);
        record(401, 'failure', null, 'invalid_credentials');
        throw new ApiError(401, 'invalid_credentials', 'wrong username or password');
      }
      throttle.succeeded(username);
      const { token, info } = operators.issueToken(operator.username, `login from ${req.ip}`, 'session');
      record(200, 'success', operator.role);
      const maxAge = info.expiresAt ? Math.floor((Date.parse(info.expiresAt) - Date.now()) / 1000) : 12 * 3600;
      void reply.header('set-cookie', sessionCookie(token, maxAge, secure));
      return { token, expiresAt: info.expiresAt, operator: { username: operator.username, role: operator.role } };
    },
  );

  app.post(
    '/api/v1/auth/logout',
    { config: { access: 'viewer' }, schema: { tags: ['auth'], summary: 'End this session (its token stops working)', response: { 204: { type: 'null' } } } },
    async (req, reply) => {
      // An API token used here is left alone: logging out ends sessions, revoking is DELETE /tokens/{id}.
      if (req.principal?.tokenKind === 'session') operators.revokeToken(req.principal.tokenId);
      void reply.header('set-cookie', `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0${secure ? '; Secure' : ''}`);
      return reply.status(204).send();
    },
  );

  app.get('/api/v1/auth/me', { schema: { tags: ['auth'], summary: 'The operator this request is authenticated as', response: { 200: principalSchema } } }, async (req) => ({
    username: req.principal!.username,
    role: req.principal!.role,
  }));

  app.post<{ Body: { currentPassword: string; newPassword: string } }>(
    '/api/v1/auth/password',
    {
      config: { access: 'viewer', action: 'auth.password' },
      schema: {
        tags: ['auth'],
        summary: 'Change your own password (ends your other sessions)',
        body: {
          type: 'object',
          required: ['currentPassword', 'newPassword'],
          additionalProperties: false,
          properties: { currentPassword: { type: 'string', maxLength: 256 }, newPassword: { type: 'string', maxLength: 256 } },
        },
        response: { 204: { type: 'null' }, 400: errorBodySchema, 403: errorBodySchema },
      },
    },
    async (req, reply) => {
      const me = req.principal!;
      if (!(await operators.authenticate(me.username, req.body.currentPassword))) throw new ApiError(403, 'invalid_credentials', 'the current password is wrong');
      await operators.update(me.username, { password: req.body.newPassword }, me.tokenId);
      return reply.status(204).send();
    },
  );
}
