import type { FastifyInstance } from 'fastify';
import type { OperatorService } from '../../operators/operator-service.js';
import { ROLES, type Role } from '../../operators/roles.js';
import { errorBodySchema } from '../errors.js';

const operatorSchema = {
  type: 'object',
  required: ['username', 'role', 'createdAt', 'updatedAt'],
  properties: {
    username: { type: 'string' },
    role: { type: 'string', enum: [...ROLES] },
    createdAt: { type: 'string', format: 'date-time' },
    updatedAt: { type: 'string', format: 'date-time' },
  },
} as const;

const paginationQuery = {
  type: 'object',
  additionalProperties: false,
  properties: { offset: { type: 'integer', minimum: 0, default: 0 }, limit: { type: 'integer', minimum: 1, maximum: 1000, default: 100 } },
} as const;

const usernameParams = { type: 'object', required: ['username'], properties: { username: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const password = { type: 'string', minLength: 1, maxLength: 256 } as const;
const role = { type: 'string', enum: [...ROLES] } as const;

/** Operator accounts; admins only. */
export function operatorRoutes(app: FastifyInstance, operators: OperatorService): void {
  const admin = { access: 'admin' } as const;
  app.get<{ Querystring: { offset: number; limit: number } }>(
    '/api/v1/operators',
    {
      config: admin,
      schema: {
        tags: ['operators'],
        summary: 'List operator accounts',
        querystring: paginationQuery,
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: operatorSchema }, total: { type: 'integer' }, offset: { type: 'integer' }, limit: { type: 'integer' } } },
        },
      },
    },
    async (req) => ({ ...operators.list(req.query.offset, req.query.limit), offset: req.query.offset, limit: req.query.limit }),
  );

  app.post<{ Body: { username: string; password: string; role: Role } }>(
    '/api/v1/operators',
    {
      config: admin,
      schema: {
        tags: ['operators'],
        summary: 'Create an operator account',
        body: { type: 'object', required: ['username', 'password', 'role'], additionalProperties: false, properties: { username: { type: 'string', maxLength: 64 }, password, role } },
        response: { 201: operatorSchema, 400: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req, reply) => reply.status(201).send(await operators.create(req.body.username, req.body.password, req.body.role)),
  );

  app.get<{ Params: { username: string } }>(
    '/api/v1/operators/:username',
    { config: admin, schema: { tags: ['operators'], summary: 'One operator account', params: usernameParams, response: { 200: operatorSchema, 404: errorBodySchema } } },
    async (req) => operators.get(req.params.username),
  );

  app.put<{ Params: { username: string }; Body: { role?: Role; password?: string } }>(
    '/api/v1/operators/:username',
    {
      config: admin,
      schema: {
        tags: ['operators'],
        summary: "Change an operator's role or set a new password (ends its sessions)",
        params: usernameParams,
        body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { role, password } },
        response: { 200: operatorSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req) => operators.update(req.params.username, req.body),
  );

  app.delete<{ Params: { username: string } }>(
    '/api/v1/operators/:username',
    {
      config: admin,
      schema: {
        tags: ['operators'],
        summary: 'Delete an operator account and its tokens',
        params: usernameParams,
        response: { 204: { type: 'null' }, 404: errorBodySchema, 409: errorBodySchema },
      },
    },
    async (req, reply) => {
      operators.delete(req.params.username);
      return reply.status(204).send();
    },
  );
}
