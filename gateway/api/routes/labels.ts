import type { FastifyInstance } from 'fastify';
import { Labels } from '../../fleet/labels.js';
import type { DeviceRepository } from '../../store/device-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { pageOf, pageQuerySchema, pageSchema, type PageQuery } from '../pagination.js';
import { groupSchema } from './groups.js';

const nameParam = { type: 'object', required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 64 } } } as const;
const targetBody = {
  type: 'object',
  required: ['target'],
  additionalProperties: false,
  properties: { target: { type: 'string', minLength: 1, maxLength: 2048 } },
} as const;
const changeSchema = {
  type: 'object',
  properties: { name: { type: 'string' }, matched: { type: 'integer' }, changed: { type: 'integer' }, members: { type: 'integer' } },
} as const;
const errors = { 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema };

/**
 * Groups and tags as their own resources (GET /api/v1/groups lists groups): create and delete a
 * group, put a group or tag on — or take it off — every device a target expression selects.
 */
export function labelRoutes(app: FastifyInstance, repository: DeviceRepository): void {
  const labels = new Labels(repository);

  app.post<{ Body: { name: string; description?: string } }>(
    '/api/v1/groups',
    {
      schema: {
        tags: ['groups'],
        summary: 'Create an empty group',
        body: {
          type: 'object',
          required: ['name'],
          additionalProperties: false,
          properties: { name: { type: 'string', minLength: 1, maxLength: 64 }, description: { type: 'string', maxLength: 1024 } },
        },
        response: { 201: groupSchema, ...errors },
      },
    },
    async (req, reply) => {
      if (!labels.createGroup(req.body.name, req.body.description ?? null)) throw new ApiError(409, 'group_exists', `group "${req.body.name}" exists already`);
      return reply.status(201).send(labels.group(req.body.name));
    },
  );

  app.get<{ Params: { name: string } }>(
    '/api/v1/groups/:name',
    { schema: { tags: ['groups'], summary: 'One group with its member count', params: nameParam, response: { 200: groupSchema, 400: errorBodySchema, 404: errorBodySchema } } },
    async (req) => {
      const group = labels.group(req.params.name);
      if (!group) throw new ApiError(404, 'group_not_found', `no group "${req.params.name}"`);
      return group;
    },
  );

  app.delete<{ Params: { name: string } }>(
    '/api/v1/groups/:name',
    {
      schema: {
        tags: ['groups'],
        summary: 'Delete a group; its devices stay',
        params: nameParam,
        response: { 200: { type: 'object', properties: { name: { type: 'string' }, removedMembers: { type: 'integer' } } }, 400: errorBodySchema, 404: errorBodySchema },
      },
    },
    async (req) => {
      const removed = labels.deleteGroup(req.params.name);
      if (removed === undefined) throw new ApiError(404, 'group_not_found', `no group "${req.params.name}"`);
      return { name: req.params.name, removedMembers: removed };
    },
  );

  for (const action of ['add', 'remove'] as const) {
    app.post<{ Params: { name: string }; Body: { target: string } }>(
      `/api/v1/groups/:name/${action}`,
      {
        schema: {
          tags: ['groups'],
          summary: action === 'add' ? 'Add the devices a target selects to a group (created if needed)' : 'Remove the devices a target selects from a group',
          params: nameParam,
          body: targetBody,
          response: { 200: changeSchema, ...errors },
        },
      },
      async (req) => {
        // Adding creates the group (as labelling one device does); removing from a group that is not there is an error.
        if (action === 'remove' && !labels.group(req.params.name)) throw new ApiError(404, 'group_not_found', `no group "${req.params.name}"`);
        const change = labels.apply('groups', req.params.name, req.body.target, action);
        return { name: req.params.name, ...change, members: labels.group(req.params.name)?.members ?? 0 };
      },
    );

    app.post<{ Params: { name: string }; Body: { target: string } }>(
      `/api/v1/tags/:name/${action}`,
      {
        schema: {
          tags: ['tags'],
          summary: action === 'add' ? 'Tag the devices a target selects' : 'Take a tag off the devices a target selects',
          params: nameParam,
          body: targetBody,
          response: { 200: changeSchema, ...errors },
        },
      },
      async (req) => {
        const change = labels.apply('tags', req.params.name, req.body.target, action);
        return { name: req.params.name, ...change, members: labels.tags().find((t) => t.name === req.params.name)?.devices ?? 0 };
      },
    );
  }

  app.get<{ Querystring: PageQuery }>(
    '/api/v1/tags',
    {
      schema: {
        tags: ['tags'],
        summary: 'List the tags in use with how many devices carry each, by name',
        querystring: pageQuerySchema,
        response: {
          200: pageSchema({ type: 'object', required: ['name', 'devices'], properties: { name: { type: 'string' }, devices: { type: 'integer' } } }),
          400: errorBodySchema,
        },
      },
    },
    async (req) => pageOf(labels.tags(), req.query),
  );
}
