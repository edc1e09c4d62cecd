import type { FastifyInstance } from 'fastify';
import type { DeviceRepository } from '../../store/device-repository.js';

export function groupRoutes(app: FastifyInstance, repo: DeviceRepository): void {
  app.get(
    '/api/v1/groups',
    {
      schema: {
        response: {
          200: {
            type: 'object',
            required: ['items'],
            properties: {
              items: {
                type: 'array',
                items: {
                  type: 'object',
                  properties: { name: { type: 'string' }, description: { type: ['string', 'null'] }, members: { type: 'integer' } },
                },
              },
            },
          },
        },
      },
    },
    async () => ({ items: repo.listGroups() }),
  );
}
