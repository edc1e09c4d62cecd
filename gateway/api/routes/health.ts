import type { FastifyInstance } from 'fastify';
import type { DeviceRepository } from '../../store/device-repository.js';
import { PUBLIC_ROUTE } from '../openapi.js';

/** Open MQTT sessions, CONNECTs let through and refused (CONNACK 3) by the connection rate limit, and PUBLISH packets in and out since the start. */
export interface MqttStats {
  connections: number;
  connectsAdmitted: number;
  connectsRefused: number;
  /** PUBLISH packets from authenticated devices. */
  messagesIn?: number;
  /** PUBLISH packets the gateway sent devices (requests, bootstrap answers). */
  messagesOut?: number;
}

/** For supervisors (systemd, Kubernetes): 200 while the gateway can reach its store. */
export function healthRoutes(app: FastifyInstance, repo: DeviceRepository, startedAt: number, version: string, mqttStats?: () => MqttStats): void {
  app.get(
    '/healthz',
    {
      schema: {
        tags: ['health'],
        summary: 'Liveness for supervisors: 200 while the gateway reaches its store, with device counts by status and the broker counters',
        security: PUBLIC_ROUTE,
        response: {
          200: {
            type: 'object',
            properties: {
              status: { type: 'string' },
              version: { type: 'string' },
              uptimeSeconds: { type: 'integer' },
              devices: { type: 'object', additionalProperties: { type: 'integer' } },
              mqtt: { type: 'object', additionalProperties: { type: 'integer' } },
            },
          },
        },
      },
    },
    async () => ({
      status: 'ok',
      version,
      uptimeSeconds: Math.floor((Date.now() - startedAt) / 1000),
      devices: repo.countByStatus(),
      ...(mqttStats ? { mqtt: mqttStats() } : {}),
    }),
  );
}
