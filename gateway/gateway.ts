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
import { bootstrapDtlsPort, bootstrapSecurityOf, type GatewayConfig } from './config.js';
import { EventBus } from './events.js';
import { MQTT_BINDING } from './fleet/bootstrap-grant.js';
import { DeviceCommands } from './fleet/device-commands.js';
import { DeviceService } from './fleet/device-service.js';
import { DeviceSessions } from './fleet/device-sessions.js';
import { openDatabase, type Database } from './store/database.js';
import { DeviceRepository } from './store/device-repository.js';
import { MqttTransport } from './transports/mqtt/mqtt-transport.js';
import { ManagementServices } from './management-services.js';
import { OperatorService, type InitialAdmin } from './operators/operator-service.js';
import { AuditLog } from './audit/audit-log.js';
import { loadServerTls } from './security/certificates.js';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { GatewayMetrics } from './metrics/gateway-metrics.js';
import { FleetStatistics } from './store/fleet-statistics.js';
import { routeTable, type ApiRoute } from './api/route-table.js';
import { CoapsEndpoint } from './transports/coap/coaps-endpoint.js';
import { DevicePsks } from './fleet/device-psks.js';
import { DevicePskStore } from './store/device-psk-store.js';
import { SealingKey } from './security/sealing-key.js';
import { BootstrapPsks } from './fleet/bootstrap-psks.js';

/** Who may use the northbound API, and what they did with it. */
export interface Northbound {
  operators: OperatorService;
  audit: AuditLog;
  /** The first admin's credential when this start created it, for the person starting the gateway to see once. */
  initialAdmin: InitialAdmin | undefined;
  /** Whether the API is served over HTTPS. */
  https: boolean;
  /** The certificate (PEM file) a client of the HTTPS API must trust: the gateway's local CA, unless the operator brought a certificate. */
  caFile: string | undefined;
}

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
    readonly northbound: Northbound,
    /** Per-device DTLS pre-shared keys. */
    readonly psks: DevicePsks,
    private readonly coaps: CoapsEndpoint | undefined,
    /** LwM2M bootstrap keys derived from the kept factory secrets. */
    readonly bootstrapPsks: BootstrapPsks,
    private readonly bootstrapCoaps: CoapsEndpoint | undefined,
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
    const metrics = new GatewayMetrics({ version: EDGEDM_VERSION, statistics: new FleetStatistics(db), mqtt: () => mqtt?.stats });
    firmware.onServed(metrics.firmwareServed);
    const operators = new OperatorService(db, { passwordCost: config.auth.passwordCost, sessionTtlMs: config.auth.sessionHours * 3600_000 });
    const audit = new AuditLog(db);
    let sealing: SealingKey | undefined;
    // The sealing key is made on first use: a gateway that never stores a PSK or factory secret has none.
    const sealingKey = () => (sealing ??= SealingKey.loadOrCreate(config.dataDir, log.child({ component: 'security' })));
    const psks = new DevicePsks({
      store: new DevicePskStore(db, sealingKey),
      repository,
      log: log.child({ component: 'psk' }),
      required: config.lwm2m.security === 'psk',
      dtlsEnabled: config.coap.enabled && config.coap.dtls.enabled,
    });
    const bootstrapPsks = new BootstrapPsks({
      repository,
      sealing: sealingKey,
      log: log.child({ component: 'psk' }),
      required: bootstrapSecurityOf(config) === 'psk',
    });
    if (config.lwm2m.enabled) bootstrapPsks.reportLegacy();
    if (config.lwm2m.enabled && config.lwm2m.security === 'psk' && bootstrapSecurityOf(config) === 'nosec') {
      log.warn('lwm2m.bootstrapSecurity is nosec: the DM server PSKs handed out at bootstrap cross the network in clear');
    }
    let mqtt: MqttTransport | undefined;
    let coap: CoapNode | undefined;
    let coaps: CoapsEndpoint | undefined;
    let bootstrapCoaps: CoapsEndpoint | undefined;
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
          ? (config.bootstrap.serverUri ?? mqttServerUri(config, mqtt))
          : (config.lwm2m.serverUri ?? coap?.url ?? ''),
      bindingFor: (transport) => (transport === 'mqtt' ? MQTT_BINDING : 'U'),
      lifetimeSeconds: config.devices.lifetimeSeconds,
      resumeSessions: config.devices.resumeSessions !== false,
      firmwareTrustAnchor: operatorKey.trustAnchor,
      lwm2mPskFor: (endpoint) => {
        const psk = coaps ? psks.forBootstrap(endpoint) : undefined;
        return psk && { identity: psk.identity, key: psk.key, serverUri: config.lwm2m.secureServerUri ?? coaps!.url };
      },
    });
    try {
      const mqttTls = await loadServerTls(config.mqtt.tls, config.dataDir, 'mqtt', config.mqtt.host, log.child({ component: 'mqtt' }));
      mqtt = await MqttTransport.start({
        ...(mqttTls ? { tls: { port: config.mqtt.tls.port, key: mqttTls.key, cert: mqttTls.cert } } : {}),
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
        coap = await CoapNode.bind({
          host: config.coap.host,
          port: config.coap.port,
          log: coapLog,
          onDatagram: (direction, peer, bytes) => {
            management.ledger.datagram(direction, peer, bytes);
            metrics.coapDatagram(direction, bytes);
          },
        });
        coap.route('fw', firmwareResource(firmware, coapLog), { rememberAnswers: false });
        if (config.coap.dtls.enabled) {
          coaps = await CoapsEndpoint.start({
            host: config.coap.host,
            port: config.coap.dtls.port,
            log: log.child({ component: 'coaps' }),
            pskOf: (identity) => psks.keyOf(identity),
            // Metered on the UDP socket under DTLS: ciphertext and handshakes, what the network carries.
            onDatagram: (direction, peer, bytes) => {
              management.ledger.datagram(direction, peer, bytes);
              metrics.coapDatagram(direction, bytes);
            },
          });
          coaps.node.route('fw', firmwareResource(firmware, coapLog), { rememberAnswers: false });
          // A changed or removed key ends the device's sessions and registration: it must come back with the new one.
          psks.onChange((endpoint, previous) => {
            if (previous) coaps?.closeSessions(previous.identity);
            lwm2m?.disconnect(endpoint, 'pre-shared key changed');
            // A device managed by address is not ours to move: only registrations end.
            if (coapDevices?.sourceOf(endpoint) === 'directory') coapDevices.disconnect(endpoint, 'pre-shared key changed');
          });
        }
        const wellKnown = new WellKnownCore();
        coap.route('.well-known', wellKnown.handle);
        if (config.coap.resourceDirectory) {
          const rdLog = log.child({ component: 'coap-rd' });
          coapDevices = new CoapDeviceLink({ client: coap.client, handler: sessions, log: rdLog });
          const directory = new ResourceDirectory({ link: coapDevices, handler: sessions, log: rdLog, authorize: (endpoint, channel) => psks.directoryRefusal(endpoint, channel) });
          coap.route(directory.path, directory.handle);
          wellKnown.add(directory.link);
          // Over DTLS too: requests to a device that registered there go back through its session.
          coaps?.node.route(directory.path, directory.handle);
          coaps?.node.route('.well-known', wellKnown.handle);
        }
        if (config.lwm2m.enabled) {
          const lwm2mLog = log.child({ component: 'lwm2m' });
          if (coaps) {
            // The bootstrap server over DTLS on a port of its own: its identities (endpoint names,
            // keys derived from factory secrets) are another namespace than the DM server's PSKs.
            bootstrapCoaps = await CoapsEndpoint.start({
              host: config.coap.host,
              port: bootstrapDtlsPort(config),
              log: log.child({ component: 'coaps-bootstrap' }),
              pskOf: (identity) => bootstrapPsks.keyOf(identity),
              onDatagram: (direction, peer, bytes) => {
                management.ledger.datagram(direction, peer, bytes);
                metrics.coapDatagram(direction, bytes);
              },
            });
            // A re-imported or decommissioned device's sessions under its old secret end.
            bootstrapPsks.onChange((endpoint) => bootstrapCoaps?.closeSessions(endpoint));
          }
          lwm2m = new Lwm2mServer({
            client: coap.client,
            handler: sessions,
            log: lwm2mLog,
            queueAwakeMs: config.lwm2m.queueAwakeMs,
            authorize: (endpoint, channel) => psks.refusal(endpoint, channel),
          });
          coap.route('rd', lwm2m.handle);
          // The bootstrap server on plain CoAP (devices without a bootstrap PSK, unless it is required) and over DTLS.
          const bootstrap = new BootstrapServer({ client: coap.client, handler: sessions, log: lwm2mLog, authorize: (endpoint, channel) => bootstrapPsks.refusal(endpoint, channel) });
          coap.route('bs', bootstrap.handle);
          bootstrapCoaps?.node.route('bs', bootstrap.handle);
          coaps?.node.route('rd', lwm2m.handle);
        }
      }
      const links = [mqtt.link, ...(lwm2m ? [lwm2m] : []), ...(coapDevices ? [coapDevices] : [])];
      const commands = new DeviceCommands(repository, links, config.devices.requestTimeoutMs, log.child({ component: 'commands' }));
      commands.onCompleted(metrics.operationCompleted);
      management.attach(commands, sessions);
      // The registry's copy of the Device object is read again only when it may have changed.
      sessions.onRegistered((r) => {
        if (!r.deviceInfoCurrent) void commands.syncDeviceInfo(r.endpoint, r.session?.bootId);
      });
      // Devices that registered while the parts above were wired are set up now.
      sessions.deliverRegistrations();
      const managedCoap = new ManagedCoapDevices(db);
      if (coapDevices) restoreManagedCoapDevices(coapDevices, managedCoap, sessions, log);
      const devices = new DeviceService(repository, commands, events, log.child({ component: 'devices' }), Date.now, bootstrapPsks);
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
      const initialAdmin = await operators.ensureInitialAdmin(config.auth.initialAdminPassword ?? undefined);
      if (initialAdmin) log.info({ username: initialAdmin.username }, 'created the first admin account; its password is shown once on the console');
      const tls = await loadServerTls(config.api.tls, config.dataDir, 'api', config.api.host, log.child({ component: 'api' }));
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
        metrics,
        management,
        operators,
        audit,
        psks,
        ...(tls ? { tls: { key: tls.key, cert: tls.cert } } : {}),
      });
      await api.listen({ host: config.api.host, port: config.api.port });
      const gateway = new Gateway(
        config,
        repository,
        devices,
        commands,
        events,
        db,
        mqtt,
        api,
        log,
        firmware,
        rollouts,
        coap,
        lwm2m,
        coapDevices,
        fleetCommands,
        management,
        {
          operators,
          audit,
          initialAdmin,
          https: tls !== undefined,
          caFile: tls?.caFile,
        },
        psks,
        coaps,
        bootstrapPsks,
        bootstrapCoaps,
      );
      apiBaseUrl = gateway.apiUrl;
      rollouts.start();
      fleetCommands.start();
      log.info({ mqttPort: gateway.mqttPort, api: gateway.apiUrl, coapPort: gateway.coapPort ?? null, coapsPort: coaps?.port ?? null, coapsBootstrapPort: bootstrapCoaps?.port ?? null, dataDir: config.dataDir, version: EDGEDM_VERSION }, 'gateway started');
      return gateway;
    } catch (err) {
      await fleetCommands?.close();
      await rollouts?.close();
      lwm2m?.close();
      coapDevices?.close();
      await bootstrapCoaps?.close();
      await coaps?.close();
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

  /** Every route of the API (for tests that check each one: the OpenAPI document, access). */
  get apiRoutes(): readonly ApiRoute[] {
    return routeTable(this.api);
  }

  get apiPort(): number {
    const address = this.api.server.address();
    return typeof address === 'object' && address ? address.port : this.config.api.port;
  }

  get apiUrl(): string {
    const host = this.config.api.host.includes(':') ? `[${this.config.api.host}]` : this.config.api.host;
    return `${this.northbound.https ? 'https' : 'http'}://${host}:${this.apiPort}`;
  }

  get mqttUrl(): string {
    return `mqtt://${this.config.mqtt.host}:${this.mqttPort}`;
  }

  /** `mqtts://host:port` of the MQTT-over-TLS listener; undefined without it. */
  get mqttsUrl(): string | undefined {
    const port = this.mqtt.tlsPort;
    return port === undefined ? undefined : `mqtts://${this.config.mqtt.host}:${port}`;
  }

  /** The gateway's local CA certificate (PEM file), which devices and clients trust for its TLS listeners; undefined when it made none. */
  get localCaFile(): string | undefined {
    const file = join(this.config.dataDir, 'tls', 'ca.pem');
    return existsSync(file) ? file : undefined;
  }

  /** The bound CoAP port; undefined when CoAP is disabled. */
  get coapPort(): number | undefined {
    return this.coap?.port;
  }

  /** `coap://host:port` of the CoAP endpoint; undefined when CoAP is disabled. */
  get coapUrl(): string | undefined {
    return this.coap?.url;
  }

  /** `coaps://host:port` of the CoAP-over-DTLS endpoint; undefined when it is off. */
  get coapsUrl(): string | undefined {
    return this.coaps?.url;
  }

  /** `coaps://host:port` of the LwM2M bootstrap server over DTLS (`/bs`); undefined when DTLS or LwM2M is off. */
  get coapsBootstrapUrl(): string | undefined {
    return this.bootstrapCoaps?.url;
  }

  /** The bootstrap server's DTLS endpoint (its counters, sessions); undefined when it is off. */
  get coapsBootstrapEndpoint(): CoapsEndpoint | undefined {
    return this.bootstrapCoaps;
  }

  /** The CoAP-over-DTLS endpoint (its DTLS counters, sessions); undefined when it is off. */
  get coapsEndpoint(): CoapsEndpoint | undefined {
    return this.coaps;
  }

  async close(): Promise<void> {
    await this.fleetCommands.close();
    await this.rollouts.close();
    await this.api.close();
    this.lwm2m?.close();
    this.coapDevices?.close();
    await this.bootstrapCoaps?.close();
    await this.coaps?.close();
    await this.coap?.close();
    await this.mqtt.close();
    this.management.close();
    // Pending CoAP byte counts are written, open image files closed.
    await this.firmware.close();
    this.db.close();
    this.log.info('gateway stopped');
  }
}

/** What devices are told at bootstrap: MQTT over TLS when it is on, so their secrets never cross the network in clear. */
function mqttServerUri(config: GatewayConfig, mqtt: MqttTransport | undefined): string {
  if (config.mqtt.tls.enabled) return `mqtts://${config.mqtt.host}:${mqtt?.tlsPort ?? config.mqtt.tls.port}`;
  return `mqtt://${config.mqtt.host}:${mqtt?.port ?? config.mqtt.port}`;
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
