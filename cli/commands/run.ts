import { Readable } from 'node:stream';
import { describeFaults, FAULTS, faultHelp, FaultProfileError, parseFaultProfile, type FaultProfile } from '../../simulators/faults.js';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { platform } from 'node:os';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import { Agent } from '../../agent/agent.js';
import { agentTransportOptions, loadAgentConfig } from '../../agent/config.js';
import type { HostAdapter } from '../../agent/host/host-adapter.js';
import { LinuxHost } from '../../agent/host/linux-host.js';
import type { DeepPartial } from '../../common/config.js';
import { createLogger, type Logger } from '../../common/logger.js';
import { EDGEDM_VERSION } from '../../common/version.js';
import { DEFAULT_GATEWAY_CONFIG, loadGatewayConfig, type GatewayConfig } from '../../gateway/config.js';
import { withDemoMonitoring } from '../../gateway/management-config.js';
import { formatFactoryCsv } from '../../gateway/fleet/factory-import.js';
import { Gateway } from '../../gateway/gateway.js';
import { SimulatedFleet } from '../../simulators/fleet.js';
import { SimulatedHost } from '../../simulators/hardware/simulated-host.js';
import { loadFleetSecret, SIMULATED_MODELS, simulatedIdentities } from '../../simulators/identities.js';
import { describeTransports, parseTransports, TransportPlanError } from '../../simulators/transports.js';
import { describeProfiles, parseProfiles, profileHelp, ProfilePlanError, type ProfilePlan } from '../../simulators/profiles.js';
import { DEVICES_PER_WORKER, reportProgress, startSimFleet } from './sim-fleet.js';
import type { TransportKind } from '../../protocol/states.js';
import { ApiClient, CliError, DEFAULT_API } from '../api-client.js';
import { decimal, wholeNumber } from '../arguments.js';
import { apiFrom } from '../context.js';
import { saveLogin } from '../credentials.js';

type DeepPartialGateway = DeepPartial<GatewayConfig>;


/** Command-line flags become the top layer of the gateway configuration. */
function gatewayOverrides(o: GatewayFlags): DeepPartialGateway {
  const overrides: Record<string, unknown> = {};
  const set = (path: string[], value: unknown) => {
    if (value === undefined) return;
    let node = overrides;
    for (const key of path.slice(0, -1)) node = (node[key] ??= {}) as Record<string, unknown>;
    node[path[path.length - 1]!] = value;
  };
  set(['dataDir'], o.data);
  set(['logLevel'], o.logLevel);
  set(['mqtt', 'host'], o.mqttHost);
  set(['mqtt', 'port'], o.mqttPort);
  set(['api', 'host'], o.apiHost);
  set(['api', 'port'], o.apiPort);
  if (o.https) set(['api', 'tls', 'enabled'], true);
  if (o.mqttTls) set(['mqtt', 'tls', 'enabled'], true);
  set(['coap', 'host'], o.coapHost);
  set(['coap', 'port'], o.coapPort);
  if (o.coap === false) {
    set(['coap', 'enabled'], false);
    set(['lwm2m', 'enabled'], false); // LwM2M runs on the CoAP endpoint: --no-coap alone was refused
  }
  return overrides as DeepPartialGateway;
}

interface GatewayFlags {
  config?: string;
  data?: string;
  logLevel?: string;
  mqttHost?: string;
  mqttPort?: number;
  apiHost?: string;
  apiPort?: number;
  https?: boolean;
  mqttTls?: boolean;
  coapHost?: string;
  coapPort?: number;
  /** false with --no-coap. */
  coap?: boolean;
}

function addGatewayFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'configuration file (YAML or JSON)')
    .option('--data <dir>', 'data directory (registry database, keys)')
    .option('--mqtt-host <host>', 'MQTT listen address')
    .option('--mqtt-port <port>', 'MQTT listen port', wholeNumber('mqtt-port'))
    .option('--mqtt-tls', 'also listen for MQTT over TLS (mqtt.tls.port, 8883) and tell devices to use it')
    .option('--api-host <host>', 'REST API listen address')
    .option('--api-port <port>', 'REST API listen port', wholeNumber('api-port'))
    .option('--https', 'serve the API and portal over HTTPS (a self-signed certificate in the data directory unless api.tls names one)')
    .option('--coap-host <host>', 'CoAP/UDP listen address')
    .option('--coap-port <port>', 'CoAP/UDP listen port', wholeNumber('coap-port'))
    .option('--no-coap', 'do not open the CoAP endpoint')
    .option('--log-level <level>', 'trace, debug, info, warn, error, fatal or silent');
}

function loadGateway(flags: GatewayFlags): GatewayConfig {
  return loadGatewayConfig({ ...(flags.config ? { file: flags.config } : {}), env: process.env, overrides: gatewayOverrides(flags) });
}

/** Stops cleanly on SIGINT/SIGTERM, once. */
function onShutdown(log: Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    stop().then(
      () => process.exit(0),
      (err) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGINT', () => handler('SIGINT'));
  process.once('SIGTERM', () => handler('SIGTERM'));
}

function hostFor(kind: 'auto' | 'linux' | 'simulated', endpoint: string): HostAdapter {
  const linux = kind === 'linux' || (kind === 'auto' && platform() === 'linux');
  return linux ? new LinuxHost({ agentVersion: EDGEDM_VERSION }) : new SimulatedHost({ serialNumber: `SIM-${endpoint}` });
}

export function registerRunCommands(program: Command): void {
  addGatewayFlags(program.command('gateway').description('run the gateway: MQTT broker, device registry, REST API')).action(
    async (flags: GatewayFlags) => {
      const config = loadGateway(flags);
      const log = createLogger({ level: config.logLevel });
      const gateway = await Gateway.start(config, log);
      const admin = gateway.northbound.initialAdmin;
      if (admin?.generated) {
        // On the console, never in the log: this is the only time the password exists in clear.
        process.stdout.write(
          `\nFirst start: created the admin account.\n  username  ${admin.username}\n  password  ${admin.password}\n` +
            `It is shown only now. Log in at ${gateway.apiUrl}/ or with \`edgedm login${gateway.apiUrl === DEFAULT_API ? '' : ` --api ${gateway.apiUrl}`}\`, then change it (\`edgedm passwd\`).\n\n`,
        );
      }
      onShutdown(log, () => gateway.close());
    },
  );

  program
    .command('agent')
    .description('run the device agent on this host')
    .option('-c, --config <file>', 'configuration file (YAML or JSON)')
    .option('--endpoint <name>', 'endpoint name (factory identity)')
    .option('--factory-secret <secret>', 'factory secret (prefer EDGEDM_FACTORY_SECRET or the config file)')
    .option('--state <dir>', 'state directory (credentials, settings)')
    .option('--server <uri>', 'bootstrap server (mqtt://gateway:1883, LwM2M coap://gateway:5683) or, with --transport coap, the Resource Directory')
    .option('--transport <kind>', 'auto (by the server URI\'s scheme), mqtt, lwm2m or coap')
    .option('--host <kind>', 'auto, linux or simulated')
    .option('--tls-ca <file>', 'trust this CA (PEM) for mqtts:// servers: the gateway\'s <data>/tls/ca.pem')
    .option('--log-level <level>', 'log level')
    .action(async (o: Record<string, string | undefined>) => {
      const overrides: Record<string, unknown> = {};
      if (o.endpoint) overrides.endpoint = o.endpoint;
      if (o.factorySecret) overrides.factorySecret = o.factorySecret;
      if (o.state) overrides.stateDir = o.state;
      if (o.server) overrides.bootstrapServerUri = o.server;
      if (o.transport) overrides.transport = o.transport;
      if (o.host) overrides.host = o.host;
      if (o.tlsCa) overrides.tlsCaFile = o.tlsCa;
      if (o.logLevel) overrides.logLevel = o.logLevel;
      const config = loadAgentConfig({ ...(o.config ? { file: o.config } : {}), env: process.env, overrides });
      const log = createLogger({ level: config.logLevel }).child({ endpoint: config.endpoint });
      const agent = new Agent({
        endpoint: config.endpoint,
        factorySecret: config.factorySecret,
        bootstrapServerUri: config.bootstrapServerUri,
        stateDir: config.stateDir,
        keepaliveSeconds: config.keepaliveSeconds,
        reconnect: config.reconnect,
        host: hostFor(config.host, config.endpoint),
        log,
        ...agentTransportOptions(config),
      });
      agent.start();
      onShutdown(log, () => agent.stop());
    });

  program
    .command('sim')
    .description('run a fleet of simulated devices (the real agent on simulated hardware) against a gateway')
    .option('-n, --count <n>', 'number of devices', wholeNumber('count'), 20)
    .option('--prefix <prefix>', 'endpoint name prefix', 'sim')
    .option('--transport <kinds>', 'mqtt, lwm2m, coap, a list dealt out in turn (e.g. mqtt,lwm2m) or mixed (all three); default: by --server\'s scheme')
    .option('--server <uri>', 'MQTT bootstrap server (a coap:// or coaps:// URI here means an LwM2M fleet, bootstrapping over DTLS with coaps://)', 'mqtt://127.0.0.1:1883')
    .option('--coap-server <uri>', 'the gateway\'s CoAP endpoint: LwM2M bootstrap server and CoAP Resource Directory', 'coap://127.0.0.1:5683')
    .option('--tls-ca <file>', 'the devices trust this CA (PEM) for an mqtts:// --server: the gateway\'s <data>/tls/ca.pem')
    .option('--state <dir>', 'where the simulated devices keep their state', '.edgedm/sim')
    .option('--no-import', 'do not register the fleet\'s factory identities with the gateway first')
    .option('--keepalive <s>', 'MQTT keepalive in seconds', wholeNumber('keepalive'), 30)
    .option('--ramp <n>', 'devices started per second', wholeNumber('ramp'), 200)
    .option('--write-csv <file>', 'write the fleet\'s factory identities to this CSV file')
    .option('--faults <profile>', `simulated faults, e.g. health-fail=10%,power-loss@updating=5% (${Object.keys(FAULTS).join(', ')}; see below)`)
    .option('--flash-write-kbps <n>', 'simulated flash write speed in KiB/s (default: unlimited)', wholeNumber('flash-write-kbps'))
    .option('--download-kbps <n>', 'radio link speed of firmware downloads in KiB/s (default: unlimited; slow-link devices are slower)', wholeNumber('download-kbps'))
    .option('--self-test-ms <ms>', 'how long the self test of a trial boot takes', wholeNumber('self-test-ms'))
    .option('--power-off-ms <ms>', 'how long a power-loss fault keeps a device off', wholeNumber('power-off-ms'), 1000)
    .option('--link-down-ms <ms>', 'how long a drop-link fault keeps the link down', wholeNumber('link-down-ms'), 1000)
    .option('--profiles <plan>', 'device profiles, e.g. sleeping@60s=20%,flaky@45s=10%,slow@2s=5% (the rest always-on; see below)')
    .option('--awake-ms <ms>', 'how long a sleeping device stays awake after it registered', wholeNumber('awake-ms'), 5000)
    .option('--workers <n>', `worker processes (default: one per ${DEVICES_PER_WORKER} devices; a fleet that fits one process runs in this one)`, wholeNumber('workers'))
    .option('--no-drift', 'keep battery, memory, signal and link quality where they start (default: they drift, per device, reproducibly)')
    .option('--drift-speed <x>', 'simulated time per real time of the drift, e.g. 60: an hour of battery discharge in a minute', driftSpeed, 1)
    .option('--log-level <level>', 'log level', 'warn')
    .addHelpText('after', `\n${faultHelp()}\n\n${profileHelp()}`)
    .action(async (o: SimFlags, cmd: Command) => {
      const log = createLogger({ level: o.logLevel });
      const faults = parseFaults(o.faults);
      const profiles = parseProfileFlag(o.profiles);
      const stateDir = resolve(o.state);
      const identities = simulatedIdentities({ count: o.count, prefix: o.prefix, fleetSecret: loadFleetSecret(stateDir) });
      const csv = formatFactoryCsv(identities);
      if (o.writeCsv) writeFileSync(o.writeCsv, csv, { mode: 0o600 });
      const api = apiFrom(cmd);
      if (o.import) {
        const result = await api.post<{ created: number; updated: number }>('/api/v1/devices/import', csv, 'text/csv');
        log.info(result, 'factory identities registered with the gateway');
      }
      const kinds = parseTransportFlag(o.transport ?? (/^coaps?:\/\//.test(o.server) ? 'lwm2m' : 'mqtt'));
      const firmwareTrustAnchor = kinds.includes('coap') ? await trustAnchorFrom(api) : undefined;
      // A coaps:// --server is the LwM2M bootstrap server over DTLS (the devices derive its key from their factory secrets).
      const servers = { mqtt: o.server, coap: o.server.startsWith('coap://') ? o.server : o.coapServer, ...(o.server.startsWith('coaps://') ? { lwm2m: o.server } : {}) };
      const fleet = startSimFleet({
        identities,
        transports: { kinds, servers },
        ...(firmwareTrustAnchor ? { firmwareTrustAnchor } : {}),
        ...(o.tlsCa ? { tlsCa: readCaFile(o.tlsCa) } : {}),
        stateDir,
        keepaliveSeconds: o.keepalive,
        rampPerSecond: o.ramp,
        ...(faults ? { faults } : {}),
        ...(profiles ? { profiles } : {}),
        awakeMs: o.awakeMs,
        ...(o.flashWriteKbps ? { flashWriteBytesPerSecond: o.flashWriteKbps * 1024 } : {}),
        ...(o.downloadKbps ? { downloadBytesPerSecond: o.downloadKbps * 1024 } : {}),
        ...(o.selfTestMs !== undefined ? { selfTestMs: o.selfTestMs } : {}),
        powerOffMs: o.powerOffMs,
        linkDownMs: o.linkDownMs,
        ...(o.drift ? { drift: { speed: o.driftSpeed } } : {}),
      }, { ...(o.workers !== undefined ? { workers: o.workers } : {}), logLevel: o.logLevel, log });
      const where = [...new Set(kinds.map((k) => (k === 'mqtt' ? servers.mqtt : servers.coap)))].join(' and ');
      const procs = fleet.workers > 0 ? `, in ${fleet.workers} worker processes` : '';
      process.stdout.write(`simulating ${o.count} device(s) (${describeTransports(kinds, o.count)}) against ${where} (state in ${stateDir}${procs})\n`);
      if (faults && faults.length > 0) process.stdout.write(`faults: ${describeFaults(faults, o.count)}\n`);
      if (profiles && profiles.length > 0) process.stdout.write(`profiles: ${describeProfiles(profiles, o.count)}\n`);
      const stopProgress = reportProgress(fleet, (line) => process.stdout.write(line), (reason) => {
        log.error({ reason }, 'the simulated fleet failed');
        void fleet.stop().finally(() => process.exit(1));
      });
      onShutdown(log, async () => {
        stopProgress();
        await fleet.stop();
      });
    });

  addGatewayFlags(program.command('demo').description('gateway plus a simulated fleet in one process, on embedded defaults'))
    .option('-n, --count <n>', 'number of simulated devices', wholeNumber('count'), 20)
    .option('--faults <profile>', `simulated faults, e.g. health-fail=10%,defer=5% (${Object.keys(FAULTS).join(', ')}; see edgedm sim --help)`)
    .option('--transport <kinds>', 'the fleet\'s transports, dealt out in turn: mqtt, lwm2m, coap, a list, or mixed', 'mixed')
    .option('--no-drift', 'keep the devices\' battery, memory, signal and link quality where they start')
    .option('--drift-speed <x>', 'simulated time per real time of the drift (default 10: an hour of it in 6 minutes, so the charts move)', driftSpeed, 10)
    .option('--secure', 'secure transports: MQTT devices over TLS (mqtt.tls.port, 8883), trusting the gateway\'s local CA; LwM2M devices bootstrap over DTLS (coap.dtls.bootstrapPort, 5784) and register over DTLS with the PSK it gives them (coap.dtls.port, 5684); plain CoAP devices register over DTLS with a PSK set for each')
    .action(async (flags: GatewayFlags & { count: number; faults?: string; transport: string; drift: boolean; driftSpeed: number; secure?: boolean }) => {
      const config = withDemoMonitoring(loadGateway({ ...flags, ...(flags.secure ? { mqttTls: true } : {}), logLevel: flags.logLevel ?? 'warn' }), DEFAULT_GATEWAY_CONFIG);
      // --secure: LwM2M devices bootstrap over DTLS, get a PSK there and register over DTLS (coaps://).
      if (flags.secure && config.coap.enabled && config.lwm2m.enabled) Object.assign(config, { coap: { ...config.coap, dtls: { ...config.coap.dtls, enabled: true } }, lwm2m: { ...config.lwm2m, security: 'psk' } });
      const log = createLogger({ level: config.logLevel });
      const gateway = await Gateway.start(config, log);
      const stateDir = join(resolve(config.dataDir), 'simulated-fleet');
      mkdirSync(stateDir, { recursive: true, mode: 0o700 });
      const identities = simulatedIdentities({ count: flags.count, prefix: 'sim', fleetSecret: loadFleetSecret(stateDir) });
      gateway.devices.importFactoryIdentities(identities);
      const faults = parseFaults(flags.faults);
      const coapUrl = gateway.coapUrl;
      // Without the CoAP endpoint (--no-coap) the whole fleet speaks MQTT.
      const kinds = coapUrl ? parseTransportFlag(flags.transport) : (['mqtt'] as TransportKind[]);
      const cert = gateway.northbound.caFile;
      const firmwareTrustAnchor = kinds.includes('coap') ? await trustAnchorFrom(new ApiClient(gateway.apiUrl, cert ? { ca: cert } : {})) : undefined;
      const mqttsUrl = gateway.mqttsUrl;
      const coapsUrl = flags.secure ? gateway.coapsUrl : undefined;
      // --secure: plain CoAP devices have no bootstrap; the operator's PSK is set here as `edgedm devices psk` would.
      const coapPsks = coapsUrl ? demoCoapPsks(gateway, identities.filter((_, i) => kinds[i % kinds.length] === 'coap').map((i) => i.endpoint)) : undefined;
      const fleet = SimulatedFleet.start({
        identities,
        transports: {
          kinds,
          servers: {
            mqtt: mqttsUrl ?? gateway.mqttUrl,
            coap: coapUrl ?? '',
            ...(flags.secure && gateway.coapsBootstrapUrl ? { lwm2m: gateway.coapsBootstrapUrl } : {}),
            ...(coapsUrl ? { rd: coapsUrl } : {}),
          },
        },
        ...(coapPsks ? { coapPsks } : {}),
        ...(firmwareTrustAnchor ? { firmwareTrustAnchor } : {}),
        ...(mqttsUrl && gateway.localCaFile ? { tlsCa: readFileSync(gateway.localCaFile, 'utf8') } : {}),
        stateDir,
        log,
        ...(faults ? { faults } : {}),
        ...(flags.drift ? { drift: { speed: flags.driftSpeed } } : {}),
      });
      const started = Date.now();
      await fleet.whenAllRegistered(60_000).catch(() => undefined);
      const demoFirmware = await ensureDemoFirmware(gateway);
      const example = identities[0]!.endpoint;
      // One device of each transport, to show that they answer alike.
      const examples = kinds.slice(0, identities.length).map((kind, i) => ({ kind, endpoint: identities[i]!.endpoint }));
      const api = gateway.apiUrl;
      const apiFlag = api === DEFAULT_API ? '' : ` --api ${api}`;
      const admin = demoAdmin(gateway);
      const cliLogin = logDemoCliIn(gateway);
      process.stdout.write(
        [
          '',
          `edgedm ${EDGEDM_VERSION} demo: gateway with ${fleet.registeredCount}/${flags.count} simulated devices online (${((Date.now() - started) / 1000).toFixed(1)} s)`,
          `  fleet        ${describeTransports(kinds, flags.count)}`,
          `  MQTT broker  ${gateway.mqttUrl}${mqttsUrl ? `, over TLS ${mqttsUrl} (CA ${gateway.localCaFile})` : ''}`,
          ...(coapUrl ? [`  CoAP/LwM2M   ${coapUrl}   (LwM2M /bs and /rd, CoAP Resource Directory, firmware /fw)`] : []),
          ...(gateway.coapsUrl ? [`  CoAP/DTLS    ${gateway.coapsUrl}   (LwM2M /rd, Resource Directory /rd-core, firmware /fw; LwM2M devices get a PSK at bootstrap)`] : []),
          ...(gateway.coapsBootstrapUrl ? [`  LwM2M BS     ${gateway.coapsBootstrapUrl}   (LwM2M bootstrap over DTLS, /bs: PSK identity = endpoint, key derived from the factory secret)`] : []),
          `  web portal   ${api}/   log in as ${admin}`,
          `  REST API     ${api}/api/v1   (OpenAPI: ${api}/api/docs, health: ${api}/healthz)`,
          `  data         ${resolve(config.dataDir)}`,
          `  CLI          logged in as admin (token in ${cliLogin})`,
          '',
          'Try, in another terminal:',
          `  npx edgedm devices${apiFlag}`,
          ...examples.map(({ kind, endpoint }) => `  npx edgedm read ${endpoint} /3/0${apiFlag}          # over ${kind}`),
          `  npx edgedm devices --target transport:lwm2m${apiFlag}`,
          `  npx edgedm read ${example} /3/0/0${apiFlag}`,
          `  npx edgedm write ${example} /1/0/1 600${apiFlag}`,
          `  npx edgedm exec ${example} /3/0/4${apiFlag}          # reboot`,
          `  npx edgedm devices --target "group:north status:online"${apiFlag}`,
          `  curl -s ${cert ? `--cacert ${cert} ` : ''}-H "Authorization: Bearer $(npx edgedm token current${apiFlag})" ${api}/api/v1/devices | head -c 600`,
          '',
          `Firmware update (a demo image ${demoFirmware} is in the repository):`,
          `  npx edgedm firmware list${apiFlag}`,
          `  npx edgedm rollout create --firmware ${demoFirmware} --target all --canary 2${apiFlag}`,
          `  npx edgedm rollout status <id>${apiFlag}`,
          `  npx edgedm read ${example} /3/0/3${apiFlag}          # the firmware version it runs`,
          '',
          'Ctrl-C stops the gateway and the fleet; the registry stays in the data directory.',
          '',
        ].join('\n'),
      );
      onShutdown(log, async () => {
        await fleet.stop();
        await gateway.close();
      });
    });
}

const DEMO_ADMIN_FILE = 'demo-admin-password';
const DEMO_CLI_TOKEN = 'edgedm demo CLI';

/**
 * The demo's admin login, kept (0600) in the demo's data directory so that a restarted demo can
 * show it again. Only the demo does this: `edgedm gateway` shows the first password once and keeps it nowhere.
 */
function demoAdmin(gateway: Gateway): string {
  const file = join(resolve(gateway.config.dataDir), DEMO_ADMIN_FILE);
  const created = gateway.northbound.initialAdmin;
  if (created) writeFileSync(file, `${created.username}\n${created.password}\n`, { mode: 0o600 });
  try {
    const [username, password] = readFileSync(file, 'utf8').split('\n');
    return `${username} / ${password}`;
  } catch {
    return 'admin (its password was shown when this data directory was first used)';
  }
}

/** The demo's plain CoAP devices' PSKs: kept from an earlier run of the same data directory, else made now. */
function demoCoapPsks(gateway: Gateway, endpoints: string[]): Record<string, { identity: string; keyHex: string }> {
  const psks: Record<string, { identity: string; keyHex: string }> = {};
  for (const endpoint of endpoints) {
    const psk = gateway.psks.get(endpoint) ?? gateway.psks.provision(endpoint);
    psks[endpoint] = { identity: psk.identity, keyHex: psk.key.toString('hex') };
  }
  return psks;
}

/** Logs the user's CLI in to the demo as its admin, replacing the token a previous demo run gave it. */
function logDemoCliIn(gateway: Gateway): string {
  const operators = gateway.northbound.operators;
  operators.revokeTokensNamed('admin', DEMO_CLI_TOKEN);
  const { token, info } = operators.issueToken('admin', DEMO_CLI_TOKEN, 'api', null);
  return saveLogin(gateway.apiUrl, {
    token,
    tokenId: info.id,
    username: 'admin',
    role: 'admin',
    ...(gateway.northbound.caFile ? { ca: gateway.northbound.caFile } : {}),
    savedAt: new Date().toISOString(),
  });
}

/** The demo's firmware image: deterministic bytes for every simulated model, added once. */
async function ensureDemoFirmware(gateway: Gateway): Promise<string> {
  const name = 'edgedm-sim';
  const version = '1.1.0';
  const id = `${name}@${version}`;
  if (gateway.firmware.get(id)) return id;
  const image = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < image.length; i++) image[i] = (i * 31 + (i >> 8)) & 0xff;
  await gateway.firmware.add(Readable.from([image]), { name, version, models: [...SIMULATED_MODELS], vendor: gateway.config.firmware.vendor }, gateway.config.firmware.maxImageBytes);
  return id;
}

/**
 * The operator's firmware-signing key as the gateway publishes it, for plain CoAP devices (which
 * have no bootstrap to get it). Without it they still run, but take no firmware: say so.
 */
async function trustAnchorFrom(api: ApiClient): Promise<Uint8Array | undefined> {
  try {
    const { spkiDer } = await api.get<{ spkiDer: string }>('/api/v1/firmware/trust-anchor');
    return new Uint8Array(Buffer.from(spkiDer, 'base64'));
  } catch (err) {
    process.stderr.write(`warning: no firmware trust anchor from the gateway (${(err as Error).message}); CoAP devices will refuse firmware\n`);
    return undefined;
  }
}

function readCaFile(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    throw new CliError(`cannot read the CA certificate ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** The fleet's transports from the command line; a bad list is a usage error. */
function parseTransportFlag(text: string): TransportKind[] {
  try {
    return parseTransports(text);
  } catch (err) {
    if (err instanceof TransportPlanError) throw new CliError(`--transport: ${err.message}`);
    throw err;
  }
}

/** Device profiles from the command line; a bad plan is a usage error. */
function parseProfileFlag(text: string | undefined): ProfilePlan | undefined {
  if (text === undefined) return undefined;
  try {
    return parseProfiles(text);
  } catch (err) {
    if (err instanceof ProfilePlanError) throw new CliError(`--profiles: ${err.message}`);
    throw err;
  }
}

/** A fault profile from the command line; a bad one is a usage error. */
function parseFaults(text: string | undefined): FaultProfile | undefined {
  if (text === undefined) return undefined;
  try {
    return parseFaultProfile(text);
  } catch (err) {
    if (err instanceof FaultProfileError) throw new CliError(`--faults: ${err.message}`);
    throw err;
  }
}

interface SimFlags {
  tlsCa?: string;
  drift: boolean;
  driftSpeed: number;
  faults?: string;
  profiles?: string;
  awakeMs: number;
  workers?: number;
  flashWriteKbps?: number;
  downloadKbps?: number;
  selfTestMs?: number;
  powerOffMs: number;
  linkDownMs: number;
  count: number;
  prefix: string;
  transport?: string;
  server: string;
  coapServer: string;
  state: string;
  import: boolean;
  keepalive: number;
  ramp: number;
  writeCsv?: string;
  logLevel: string;
}

function driftSpeed(value: string): number {
  const speed = decimal(value);
  if (!(speed > 0)) throw new CliError(`--drift-speed takes a number above 0, got "${value}"`);
  return speed;
}
