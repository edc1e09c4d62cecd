import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from '../../common/logger.js';
import type { EventBus } from '../events.js';
import type { DeviceCommands } from '../fleet/device-commands.js';
import type { DeviceService } from '../fleet/device-service.js';
import type { DeviceRepository } from '../store/device-repository.js';
import { errorHandler } from './errors.js';
import { deviceRoutes } from './routes/devices.js';
import { eventRoutes } from './routes/events.js';
import { groupRoutes } from './routes/groups.js';
import { healthRoutes, type MqttStats } from './routes/health.js';
import { operationRoutes } from './routes/operations.js';
import { firmwareRoutes } from './routes/firmware.js';
import { firmwareDownloadRoutes } from './routes/firmware-download.js';
import { rolloutRoutes } from './routes/rollouts.js';
import { fleetCommandRoutes } from './routes/fleet-commands.js';
import { labelRoutes } from './routes/labels.js';
import type { FleetCommandEngine } from '../commands/fleet-commands.js';
import { coapDeviceRoutes, type CoapDeviceManager } from './routes/coap-devices.js';
import { trustAnchorRoutes } from './routes/trust-anchor.js';
import type { FirmwareRepository } from '../firmware/firmware-repository.js';
import type { RolloutEngine } from '../rollouts/rollout-engine.js';
import type { ManagementServices } from '../management-services.js';
import { alarmRoutes } from './routes/alarms.js';
import { monitoringRoutes } from './routes/monitoring.js';
import { accountingRoutes } from './routes/accounting.js';
import { installAuth } from './auth.js';
import { authRoutes } from './routes/auth.js';
import { operatorRoutes } from './routes/operators.js';
import { tokenRoutes } from './routes/tokens.js';
import { auditRoutes } from './routes/audit.js';
import type { OperatorService } from '../operators/operator-service.js';
import type { AuditLog } from '../audit/audit-log.js';
import { LoginThrottle } from '../operators/login-throttle.js';
import { registerOpenApi } from './openapi.js';
import { trackRoutes } from './route-table.js';
import { metricsRoutes, type MetricsSource } from './routes/metrics.js';
import { portalRoutes } from './portal.js';
import { devicePskRoutes } from './routes/device-psk.js';
import type { DevicePsks } from '../fleet/device-psks.js';

export interface ApiDependencies {
  repository: DeviceRepository;
  devices: DeviceService;
  commands: DeviceCommands;
  events: EventBus;
  log: Logger;
  version: string;
  firmware: FirmwareRepository;
  rollouts: RolloutEngine;
  fleetCommands: FleetCommandEngine;
  firmwareOptions: { maxImageBytes: number; vendor: string };
  /** The operator's firmware-signing public key (SPKI DER), served to devices configured by hand. */
  firmwareTrustAnchor?: Uint8Array;
  /** Plain CoAP devices managed by address; absent when the gateway has no Resource Directory. */
  coapDevices?: CoapDeviceManager;
  /** The MQTT broker's connection counters, shown on /healthz. */
  mqttStats?: () => MqttStats;
  /** Alarms, monitoring time series and the accounting ledger. */
  management?: ManagementServices;
  /** Operator accounts and tokens: every /api route but a few public ones needs one. */
  operators: OperatorService;
  audit: AuditLog;
  /** HTTPS key and certificate (PEM); plain HTTP without. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  /** Prometheus metrics, served at /metrics. */
  metrics?: MetricsSource;
  /** Per-device DTLS pre-shared keys (`/api/v1/devices/{endpoint}/psk`). */
  psks?: DevicePsks;
}

/** The northbound REST API (Y.4702 clause 8.9). */
export async function buildApi(deps: ApiDependencies): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    loggerInstance: deps.log as FastifyBaseLogger,
    // Per-request lines would drown the DM events at info level; errors are still logged.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 1024 * 1024,
    ...(deps.tls ? { https: deps.tls } : {}),
  }) as unknown as FastifyInstance;
  app.addContentTypeParser('text/csv', { parseAs: 'string' }, (_req, body, done) => done(null, body));
  app.setErrorHandler(errorHandler(deps.log));
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ error: { code: 'not_found', message: `no route ${req.method} ${req.url}` } });
  });
  app.addHook('onResponse', async (req, reply) => {
    req.log.debug({ method: req.method, url: req.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) }, 'api request');
  });
  // Before the first route: the route table and the OpenAPI document see every one.
  trackRoutes(app);
  await registerOpenApi(app, deps.version);

  installAuth(app, deps.operators, deps.audit);
  authRoutes(app, { operators: deps.operators, audit: deps.audit, throttle: new LoginThrottle(), secure: deps.tls !== undefined });
  operatorRoutes(app, deps.operators);
  tokenRoutes(app, deps.operators);
  auditRoutes(app, deps.audit);

  const startedAt = Date.now();
  healthRoutes(app, deps.repository, startedAt, deps.version, deps.mqttStats);
  if (deps.metrics) metricsRoutes(app, deps.metrics);
  deviceRoutes(app, deps.devices);
  groupRoutes(app, deps.repository);
  operationRoutes(app, deps.commands);
  eventRoutes(app, deps.events, deps.operators);
  firmwareRoutes(app, deps.firmware, deps.firmwareOptions);
  firmwareDownloadRoutes(app, deps.firmware);
  rolloutRoutes(app, deps.rollouts);
  fleetCommandRoutes(app, deps.fleetCommands);
  labelRoutes(app, deps.repository);
  coapDeviceRoutes(app, deps.devices, deps.coapDevices);
  if (deps.psks) devicePskRoutes(app, deps.psks);
  if (deps.firmwareTrustAnchor) trustAnchorRoutes(app, deps.firmwareTrustAnchor);
  if (deps.management) alarmRoutes(app, deps.management.alarms);
  if (deps.management) monitoringRoutes(app, deps.management.timeseries, deps.repository);
  if (deps.management) accountingRoutes(app, deps.management.ledger);
  portalRoutes(app);
  await app.ready();
  return app;
}
