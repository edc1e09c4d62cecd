import { loadOrCreateOperatorKey } from './firmware/operator-key.js';
import { FirmwareRepository } from './firmware/firmware-repository.js';
import { RolloutEngine } from './rollouts/rollout-engine.js';
import { RolloutRepository } from './rollouts/rollout-repository.js';
import { CommandRepository } from './commands/command-repository.js';
import { FleetCommandEngine } from './commands/fleet-commands.js';
import type { FastifyInstance } from 'fastify';
import type { Logger } from '../common/logger.js';
import { EDGEDM_VERSION } from '../common/version.js';
import { buildApi } from './api/server.js';
import type { CoapDeviceManager } from './api/routes/coap-devices.js';
import { CoapNode } from '../common/coap/coap-node.js';
import { firmwareResource } from './coap/firmware-resource.js';
import { BootstrapServer } from './transports/lwm2m/bootstrap-server.js';
import { Lwm2mServer } from './transports/lwm2m/lwm2m-server.js';
import { CoapAddressError, CoapDeviceLink } from './transports/coap/coap-device-link.js';
import { ManagedCoapDevices } from './store/managed-coap-devices.js';
import { ApiError } from './api/errors.js';
import { ResourceDirectory } from './transports/coap/resource-directory.js';
import { WellKnownCore } from './transports/coap/well-known-core.js';
import type { GatewayConfig } from './config.js';
import { EventBus } from './events.js';
import { MQTT_BINDING } from './fleet/bootstrap-grant.js';
import { DeviceCommands } from './fleet/device-commands.js';
import { DeviceService } from './fleet/device-service.js';
import { DeviceSessions } from './fleet/device-sessions.js';
import { openDatabase, type Database } from './store/database.js';
import { DeviceRepository } from './store/device-repository.js';
import { MqttTransport } from './transports/mqtt/mqtt-transport.js';
import { ManagementServices } from './management-services.js';

/**
 * The composition root: store → fleet layer → transports → API. Start order matters only here;
 * each part receives what it uses and nothing else.
 */
export class Gateway {
  private constructor(
    readonly config: GatewayConfig,
    readonly repository: DeviceRepository,
    readonly devices: DeviceService,
    readonly commands: DeviceCommands,
    readonly events: EventBus,
    private readonly db: Database,
    private readonly mqtt: MqttTransport,
    private readonly api: FastifyInstance,
    private readonly log: Logger,
    readonly firmware: FirmwareRepository,
    readonly rollouts: RolloutEngine,
    private readonly coap: CoapNode | undefined,
    readonly lwm2m: Lwm2mServer | undefined,
    readonly coapDevices: CoapDeviceLink | undefined,
    readonly fleetCommands: FleetCommandEngine,
    readonly management: ManagementServices,
  ) {}

  static async start(config: GatewayConfig, log: Logger): Promise<Gateway> {
    const db = openDatabase(config.dataDir, log.child({ component: 'store' }));
    const repository = new DeviceRepository(db);
    const wentOffline = repository.markAllOffline(Date.now());
    if (wentOffline > 0) log.info({ devices: wentOffline }, 'marked devices offline until they reconnect');

    if (config.bootstrap.serverUri === null && isWildcardAddress(config.mqtt.host)) {
      log.warn({ mqttHost: config.mqtt.host }, 'bootstrap.serverUri is not set: devices will be told to use the wildcard listen address; set it to a name devices can reach');
    }
    if (config.coap.enabled && config.firmware.coapBaseUrl === null && isWildcardAddress(config.coap.host)) {
      log.warn({ coapHost: config.coap.host }, 'firmware.coapBaseUrl is not set: CoAP package URIs will name the wildcard listen address; set it to a name devices can reach');
    }
    const operatorKey = loadOrCreateOperatorKey(config.dataDir, log.child({ component: 'firmware' }));
    const firmware = new FirmwareRepository(db, config.dataDir, operatorKey);
    const events = new EventBus();
    const management = new ManagementServices({ db, devices: repository, events, firmware, config, log });
    let mqtt: MqttTransport | undefined;
    let coap: CoapNode | undefined;
    let lwm2m: Lwm2mServer | undefined;
    let coapDevices: CoapDeviceLink | undefined;
    let rollouts: RolloutEngine | undefined;
    let fleetCommands: FleetCommandEngine | undefined;
    const sessions = new DeviceSessions({
      repository,
      events,
      log: log.child({ component: 'sessions' }),
      serverUriFor: (transport) =>
        transport === 'mqtt'
          ? (config.bootstrap.serverUri ?? `mqtt://${config.mqtt.host}:${mqtt?.port ?? config.mqtt.port}`)
          : (config.lwm2m.serverUri ?? coap?.url ?? ''),
      bindingFor: (transport) => (transport === 'mqtt' ? MQTT_BINDING : 'U'),
      lifetimeSeconds: config.devices.lifetimeSeconds,
      firmwareTrustAnchor: operatorKey.trustAnchor,
    });
    try {
      mqtt = await MqttTransport.start({
        host: config.mqtt.host,
        port: config.mqtt.port,
        maxMessageBytes: config.mqtt.maxMessageBytes,
        maxConnectsPerSecond: config.mqtt.maxConnectsPerSecond,
        handler: sessions,
        log: log.child({ component: 'mqtt' }),
        traffic: management.ledger,
      });
      if (config.coap.enabled) {
        const coapLog = log.child({ component: 'coap' });
        coap = await CoapNode.bind({ host: config.coap.host, port: config.coap.port, log: coapLog, onDatagram: management.ledger.datagram });
        coap.route('fw', firmwareResource(firmware, coapLog), { rememberAnswers: false });
        const wellKnown = new WellKnownCore();
        coap.route('.well-known', wellKnown.handle);
        if (config.coap.resourceDirectory) {
          const rdLog = log.child({ component: 'coap-rd' });
          coapDevices = new CoapDeviceLink({ client: coap.client, handler: sessions, log: rdLog });
          const directory = new ResourceDirectory({ link: coapDevices, handler: sessions, log: rdLog });
          coap.route(directory.path, directory.handle);
          wellKnown.add(directory.link);
        }
        if (config.lwm2m.enabled) {
          const lwm2mLog = log.child({ component: 'lwm2m' });
          lwm2m = new Lwm2mServer({ client: coap.client, handler: sessions, log: lwm2mLog, queueAwakeMs: config.lwm2m.queueAwakeMs });
          coap.route('rd', lwm2m.handle);
          coap.route('bs', new BootstrapServer({ client: coap.client, handler: sessions, log: lwm2mLog }).handle);
        }
      }
      const links = [mqtt.link, ...(lwm2m ? [lwm2m] : []), ...(coapDevices ? [coapDevices] : [])];
      const commands = new DeviceCommands(repository, links, config.devices.requestTimeoutMs, log.child({ component: 'commands' }));
      management.attach(commands);
      events.subscribe((event) => {
        if (event.type === 'device.registered') void commands.syncDeviceInfo(event.endpoint);
      });
      const managedCoap = new ManagedCoapDevices(db);
      if (coapDevices) restoreManagedCoapDevices(coapDevices, managedCoap, sessions, log);
      const devices = new DeviceService(repository, commands, events, log.child({ component: 'devices' }));
      let apiBaseUrl = '';
      rollouts = new RolloutEngine({
        rollouts: new RolloutRepository(db),
        devices: repository,
        firmware,
        commands,
        events,
        log: log.child({ component: 'rollouts' }),
        packageBaseUrl: (scheme) => (scheme === 'http' ? (config.firmware.baseUrl ?? apiBaseUrl) : coap && (config.firmware.coapBaseUrl ?? coap.url)),
        pollIntervalMs: config.rollouts.pollIntervalMs,
      });
      fleetCommands = new FleetCommandEngine({
        repository: new CommandRepository(db),
        devices: repository,
        commands,
        events,
        log: log.child({ component: 'fleet-commands' }),
        defaults: {
          ttlSeconds: config.fleetCommands.defaultTtlSeconds,
          maxConcurrent: config.fleetCommands.defaultMaxConcurrent,
          ratePerMin: config.fleetCommands.defaultRatePerMin || null,
          timeoutMs: config.devices.requestTimeoutMs,
          maxAttempts: config.fleetCommands.maxAttempts,
        },
      });
      const api = await buildApi({
        repository,
        devices,
        commands,
        events,
        firmware,
        rollouts,
        fleetCommands,
        firmwareOptions: { maxImageBytes: config.firmware.maxImageBytes, vendor: config.firmware.vendor },
        firmwareTrustAnchor: operatorKey.trustAnchor,
        ...(coapDevices ? { coapDevices: coapDeviceManager(coapDevices, managedCoap, config) } : {}),
        log: log.child({ component: 'api' }),
        version: EDGEDM_VERSION,
        mqttStats: () => mqtt!.stats,
        management,
      });
      await api.listen({ host: config.api.host, port: config.api.port });
      const gateway = new Gateway(config, repository, devices, commands, events, db, mqtt, api, log, firmware, rollouts, coap, lwm2m, coapDevices, fleetCommands, management);
      apiBaseUrl = gateway.apiUrl;
      rollouts.start();
      fleetCommands.start();
      log.info({ mqttPort: gateway.mqttPort, api: gateway.apiUrl, coapPort: gateway.coapPort ?? null, dataDir: config.dataDir, version: EDGEDM_VERSION }, 'gateway started');
      return gateway;
    } catch (err) {
      await fleetCommands?.close();
      await rollouts?.close();
      lwm2m?.close();
      coapDevices?.close();
      await coap?.close();
      await mqtt?.close();
      management.close();
      await firmware.close();
      db.close();
      throw err;
    }
  }

  get mqttPort(): number {
    return this.mqtt.port;
  }

  get apiPort(): number {
    const address = this.api.server.address();
    return typeof address === 'object' && address ? address.port : this.config.api.port;
  }

  get apiUrl(): string {
    const host = this.config.api.host.includes(':') ? `[${this.config.api.host}]` : this.config.api.host;
    return `http://${host}:${this.apiPort}`;
  }

  get mqttUrl(): string {
    return `mqtt://${this.config.mqtt.host}:${this.mqttPort}`;
  }

  /** The bound CoAP port; undefined when CoAP is disabled. */
  get coapPort(): number | undefined {
    return this.coap?.port;
  }

  /** `coap://host:port` of the CoAP endpoint; undefined when CoAP is disabled. */
  get coapUrl(): string | undefined {
    return this.coap?.url;
  }

  async close(): Promise<void> {
    await this.fleetCommands.close();
    await this.rollouts.close();
    await this.api.close();
    this.lwm2m?.close();
    this.coapDevices?.close();
    await this.coap?.close();
    await this.mqtt.close();
    this.management.close();
    // Pending CoAP byte counts are written, open image files closed.
    await this.firmware.close();
    this.db.close();
    this.log.info('gateway stopped');
  }
}

/** Manage-by-address for the API: the registry's lifetime is how often such a device is probed. */
function coapDeviceManager(link: CoapDeviceLink, managed: ManagedCoapDevices, config: GatewayConfig): CoapDeviceManager {
  return {
    manage: async (endpoint, address) => {
      const lifetime = config.devices.lifetimeSeconds;
      try {
        await link.manage(endpoint, address, { timeoutMs: config.devices.requestTimeoutMs, lifetimeSeconds: lifetime });
      } catch (err) {
        if (err instanceof CoapAddressError) throw new ApiError(400, 'invalid_address', err.message);
        throw err;
      }
      // Kept, so that a restarted gateway manages it again without the operator.
      managed.save({ endpoint, address, lifetime, managedAt: Date.now() });
    },
  };
}

/** Devices managed by address before a restart: managed again, unless decommissioned since. */
function restoreManagedCoapDevices(link: CoapDeviceLink, managed: ManagedCoapDevices, sessions: DeviceSessions, log: Logger): void {
  for (const device of managed.all()) {
    if (!sessions.admit(device.endpoint)) {
      managed.remove(device.endpoint);
      log.info({ endpoint: device.endpoint }, 'CoAP device managed by address is decommissioned: no longer managed');
      continue;
    }
    link.restore(device.endpoint, device.address, device.lifetime);
  }
}

function isWildcardAddress(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}
