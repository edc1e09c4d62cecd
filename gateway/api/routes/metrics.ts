import type { FastifyInstance } from 'fastify';
import { PUBLIC_ROUTE } from '../openapi.js';

/** What `/metrics` serves: the Prometheus exposition of one gateway's registry. */
export interface MetricsSource {
  render(): Promise<{ contentType: string; body: string }>;
}

/** `GET /metrics` for Prometheus (text exposition format 0.0.4); names and labels in docs/metrics.md. */
export function metricsRoutes(app: FastifyInstance, metrics: MetricsSource): void {
  app.get(
    '/metrics',
    {
      schema: {
        tags: ['health'],
        summary: 'Prometheus metrics: devices, operations, queues, rollouts, alarms, broker and CoAP traffic, process',
        security: PUBLIC_ROUTE,
        response: {
          200: {
            description: 'Prometheus text exposition format 0.0.4',
            content: { 'text/plain': { schema: { type: 'string', example: 'edgedm_devices{status="online",transport="mqtt"} 7' } } },
          },
        },
      },
    },
    async (_req, reply) => {
      const { contentType, body } = await metrics.render();
      return reply.header('content-type', contentType).header('cache-control', 'no-store').send(body);
    },
  );
}
