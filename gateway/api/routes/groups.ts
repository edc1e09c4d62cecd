import type { FastifyInstance } from 'fastify';
import type { DeviceRepository } from '../../store/device-repository.js';
import { errorBodySchema } from '../errors.js';
import { pageOf, pageQuerySchema, pageSchema, type PageQuery } from '../pagination.js';

export const groupSchema = {
  type: 'object',
  required: ['name', 'members'],
  properties: { name: { type: 'string' }, description: { type: ['string', 'null'] }, members: { type: 'integer' } },
} as const;

export function groupRoutes(app: FastifyInstance, repo: DeviceRepository): void {
  app.get<{ Querystring: PageQuery }>(
    '/api/v1/groups',
    {
      schema: {
        tags: ['groups'],
        summary: 'List groups with their member counts, by name',
        querystring: pageQuerySchema,
        response: { 200: pageSchema(groupSchema), 400: errorBodySchema },
      },
    },
    async (req) => pageOf(repo.listGroups(), req.query),
  );
}
