import type { FastifyInstance } from 'fastify';
import type { OperatorService, TokenInfo } from '../../operators/operator-service.js';
import { roleAllows } from '../../operators/roles.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageOf, pageQueryProperties, pageSchema } from '../pagination.js';

const tokenSchema = {
  type: 'object',
  required: ['id', 'username', 'name', 'kind', 'createdAt', 'expiresAt', 'lastUsedAt'],
  properties: {
    id: { type: 'string' },
    username: { type: 'string' },
    name: { type: 'string' },
    kind: { type: 'string', enum: ['session', 'api'] },
    createdAt: { type: 'string', format: 'date-time' },
    expiresAt: { type: ['string', 'null'], format: 'date-time' },
    lastUsedAt: { type: ['string', 'null'], format: 'date-time' },
  },
} as const;

const MAX_TOKEN_DAYS = 3650;

/**
 * API tokens for scripts and the CLI: any operator manages their own (with their own role);
 * an admin sees and revokes everyone's.
 */
export function tokenRoutes(app: FastifyInstance, operators: OperatorService): void {
  app.get<{ Querystring: { username?: string; all?: boolean; offset: number; limit: number } }>(
    '/api/v1/tokens',
    {
      schema: {
        tags: ['operators'],
        summary: "Your tokens (an admin may ask for another operator's, or all)",
        querystring: {
          type: 'object',
          additionalProperties: false,
          properties: { username: { type: 'string', maxLength: 64 }, all: { type: 'boolean' }, ...pageQueryProperties },
        },
        response: { 200: pageSchema(tokenSchema), 403: errorBodySchema },
      },
    },
    async (req) => {
      const me = req.principal!;
      const wanted = req.query.all ? undefined : (req.query.username?.toLowerCase() ?? me.username);
      if (wanted !== me.username && !roleAllows(me.role, 'admin')) throw new ApiError(403, 'forbidden', "only an admin may list other operators' tokens");
      return pageOf(operators.tokens(wanted), req.query);
    },
  );

  app.post<{ Body: { name: string; expiresInDays?: number } }>(
    '/api/v1/tokens',
    {
      config: { access: 'viewer', action: 'tokens.create' },
      schema: {
        tags: ['operators'],
        summary: 'Create an API token for yourself; its secret is in this answer only',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 100 }, expiresInDays: { type: 'integer', minimum: 1, maximum: MAX_TOKEN_DAYS } },
        },
        response: { 201: { type: 'object', required: ['token', 'info'], properties: { token: { type: 'string' }, info: tokenSchema } }, 400: errorBodySchema },
      },
    },
    async (req, reply) => {
      const ttl = req.body.expiresInDays === undefined ? null : req.body.expiresInDays * 86_400_000;
      return reply.status(201).send(operators.issueToken(req.principal!.username, req.body.name, 'api', ttl));
    },
  );

  app.delete<{ Params: { id: string } }>(
    '/api/v1/tokens/:id',
    {
      config: { access: 'viewer', action: 'tokens.delete' },
      schema: {
        tags: ['operators'],
        summary: 'Revoke a token (yours; an admin may revoke any)',
        params: { type: 'object', required: ['id'], properties: { id: { type: 'string', maxLength: 64 } } },
        response: { 204: { type: 'null' }, 403: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req, reply) => {
      const me = req.principal!;
      const token: TokenInfo = operators.token(req.params.id);
      // Another operator's token is "not found" to a non-admin: its id says nothing.
      if (token.username !== me.username && !roleAllows(me.role, 'admin')) throw new ApiError(404, 'not_found', `no token ${req.params.id}`);
      operators.revokeToken(token.id);
      return reply.status(204).send();
    },
  );
}
