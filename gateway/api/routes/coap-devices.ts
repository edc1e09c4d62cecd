import type { FastifyInstance } from 'fastify';
import type { DeviceService } from '../../fleet/device-service.js';
import { DeviceNotFoundError } from '../../store/device-repository.js';
import { ApiError, errorBodySchema } from '../errors.js';
import { deviceSchema, endpointParamSchema } from '../schemas.js';
import { deviceView } from '../views.js';

/** Plain CoAP devices the gateway manages by address (the CoAP device link behind it). */
export interface CoapDeviceManager {
  /** Probes `coap://{IP}[:port]/.well-known/core` and manages the device from then on; rejects when it does not answer. */
  manage(endpoint: string, address: string): Promise<void>;
}

/**
 * `POST /api/v1/devices/{endpoint}/manage {"address": "coap://192.0.2.7:5683"}`: a plain CoAP
 * device that does not register by itself. It must be in the registry (imported) like any
 * device; from then on it is managed like one that registered with the Resource Directory.
 */
export function coapDeviceRoutes(app: FastifyInstance, devices: DeviceService, manager: CoapDeviceManager | undefined): void {
  app.post<{ Params: { endpoint: string }; Body: { address: string } }>(
    '/api/v1/devices/:endpoint/manage',
    {
      schema: {
        tags: ['devices'],
        summary: 'Manage a plain CoAP device by its address (it must be imported); probes its /.well-known/core',
        params: endpointParamSchema,
        body: {
          type: 'object',
          additionalProperties: false,
          required: ['address'],
          properties: { address: { type: 'string', minLength: 8, maxLength: 300 } },
        },
        response: { 200: deviceSchema, 400: errorBodySchema, 404: errorBodySchema, 409: errorBodySchema, 503: errorBodySchema, 504: errorBodySchema },
      },
    },
    async (req) => {
      const { endpoint } = req.params;
      const device = devices.get(endpoint);
      if (!device) throw new DeviceNotFoundError(endpoint);
      if (device.status === 'decommissioned') throw new ApiError(409, 'device_unavailable', `${endpoint} is decommissioned`, { reason: 'decommissioned' });
      if (!manager) throw new ApiError(409, 'coap_disabled', 'plain CoAP devices are off on this gateway (coap.enabled, coap.resourceDirectory)');
      await manager.manage(endpoint, req.body.address);
      return deviceView(devices.get(endpoint)!);
    },
  );
}
