import { join } from 'node:path';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { defaultPackageSources } from '../agent/firmware/sources.js';
import { SimulatedDevice } from './device.js';
import { faultsFor, type FaultProfile } from './faults.js';
import type { Logger } from '../common/logger.js';
import type { DriftOptions } from './hardware/drift.js';
import { SimulatedHost } from './hardware/simulated-host.js';
import type { SimulatedIdentity } from './identities.js';
import { transportOf, type TransportPlan } from './transports.js';
import { resolveAgentTransport } from '../agent/config.js';
import { profileBehaviour } from './profile-behaviour.js';
import { dealProfiles, type DeviceProfile, type ProfilePlan } from './profiles.js';

const ALWAYS_ON: DeviceProfile = { profile: 'always-on' };

export interface FleetOptions {
  identities: SimulatedIdentity[];
  /**
   * Every device's bootstrap server when the fleet speaks one transport: mqtt://… for DM over
   * MQTT, coap://… for LwM2M. Ignored when `transports` deals transports out.
   */
  bootstrapServerUri?: string;
  /** A fleet over several transports (simulators/transports.ts). */
  transports?: TransportPlan;
  /**
   * The operator's firmware-signing key (SPKI DER) for plain CoAP devices, which have no
   * bootstrap to learn it from; without it they accept no firmware.
   */
  firmwareTrustAnchor?: Uint8Array;
  /** CA certificates (PEM) the devices trust for mqtts:// servers: the gateway's local CA. */
  tlsCa?: string;
  /** Plain CoAP devices' DTLS pre-shared keys by endpoint (as the operator set them: `edgedm devices psk`), for a `coaps://` directory. */
  coapPsks?: Record<string, { identity: string; keyHex: string }>;
  /** Each device keeps its own state directory below this one. */
  stateDir: string;
  keepaliveSeconds?: number;
  reconnect?: { minDelayMs: number; maxDelayMs: number };
  /** Devices started per second, as a real fleet ramps up after a power cut. */
  rampPerSecond?: number;
  firmwareVersion?: string;
  /** Which devices misbehave (simulators/faults.ts). */
  faults?: FaultProfile;
  /** Simulated flash write speed of every device, in bytes per second; unlimited when absent. */
  flashWriteBytesPerSecond?: number;
  /** Download speed of every device's radio for firmware images, bytes per second (slow-link devices are slower still). */
  downloadBytesPerSecond?: number;
  /** How long the self test of a trial boot takes on every device. */
  selfTestMs?: number;
  /** How long a power-loss fault keeps a device off (default 1 s). */
  powerOffMs?: number;
  /** How long a drop-link fault keeps the link down (default 1 s). */
  linkDownMs?: number;
  /** How each device lives on its network (simulators/profiles.ts); always-on when absent. */
  profiles?: ProfilePlan;
  /**
   * Where this fleet's devices stand in the whole fleet the profiles are dealt over (a worker
   * process runs a slice): device i of this fleet is device `firstIndex + i` of `fleetSize`.
   */
  slice?: { firstIndex: number; fleetSize: number };
  /** How long a sleeping device stays awake after it registered (default 5 s). */
  awakeMs?: number;
  /** Firmware update timing of the agents. */
  firmware?: AgentOptions['firmware'];
  /**
   * Battery, memory, signal and link quality wander (simulators/hardware/drift.ts), each device
   * from its own seed. Absent: they stay where they start (tests that set values rely on it).
   */
  drift?: DriftOptions;
  log: Logger;
}

/**
 * Many simulated devices in one process: each is the real agent on simulated hardware (A/B
 * flash in files, a radio its connections and downloads go through), with its own state
 * directory on disk and the faults its place in the fleet gives it (simulators/faults.ts).
 */
export class SimulatedFleet {
  readonly agents: Agent[];
  readonly hosts: SimulatedHost[];

  private constructor(
    readonly devices: SimulatedDevice[],
    private readonly started: Promise<void>,
  ) {
    this.agents = devices.map((d) => d.agent);
    this.hosts = devices.map((d) => d.host);
    for (const agent of this.agents) agent.once('registered', () => this.everRegistered.add(agent.endpoint));
  }

  private readonly everRegistered = new Set<string>();

  static start(opts: FleetOptions): SimulatedFleet {
    const first = opts.slice?.firstIndex ?? 0;
    const profiles = dealProfiles(opts.profiles ?? [], opts.slice?.fleetSize ?? opts.identities.length).slice(first);
    const devices = opts.identities.map((identity, local) => {
      const index = first + local;
      const faults = faultsFor(opts.faults ?? [], index);
      const profile = profiles[local] ?? ALWAYS_ON;
      const stateDir = join(opts.stateDir, identity.endpoint);
      const downloadSpeed = Math.min(opts.downloadBytesPerSecond ?? Infinity, faults.slowLinkBytesPerSecond ?? Infinity);
      const host = new SimulatedHost({
        flashDir: join(stateDir, 'flash'),
        // A failing image fails every trial boot; the factory image keeps running.
        ...(faults.healthFail ? { failingSelfTest: () => true } : {}),
        defersUpdates: faults.defer,
        ...(opts.flashWriteBytesPerSecond !== undefined ? { flashWriteBytesPerSecond: opts.flashWriteBytesPerSecond } : {}),
        ...(Number.isFinite(downloadSpeed) ? { downloadBytesPerSecond: downloadSpeed } : {}),
        ...(opts.selfTestMs !== undefined ? { selfTestMs: opts.selfTestMs } : {}),
        serialNumber: identity.serialNumber,
        model: identity.model,
        manufacturer: 'edgedm simulated devices',
        firmwareVersion: opts.firmwareVersion ?? '1.0.0',
        seed: index + 1,
        ...(opts.drift ? { drift: opts.drift } : {}),
        ...(profile.profile === 'slow' ? { uplinkDelayMs: profile.periodMs } : {}),
      });
      const log = opts.log.child({ endpoint: identity.endpoint });
      const server = serverOf(opts, index, identity.endpoint);
      const awakeMs = opts.awakeMs ?? 5000;
      const agent = new Agent({
        endpoint: identity.endpoint,
        factorySecret: identity.secret,
        ...server,
        // A sleeping LwM2M device is a queue-mode client that wakes (sends an Update) every period.
        ...(profile.profile === 'sleeping' ? { lwm2m: { queueMode: true, updateIntervalMs: profile.periodMs, queueAwakeMs: awakeMs } } : {}),
        stateDir: join(stateDir, 'agent'),
        keepaliveSeconds: opts.keepaliveSeconds ?? 30,
        reconnect: opts.reconnect ?? { minDelayMs: 500, maxDelayMs: 30_000 },
        host,
        log,
        ...(opts.tlsCa ? { tlsCa: opts.tlsCa } : {}),
        // Firmware downloads go over the device's radio, like its MQTT connection.
        firmware: { ...opts.firmware, sources: host.radio.packageSources(opts.firmware?.sources ?? defaultPackageSources) },
      });
      const linkDownMs = opts.linkDownMs ?? 1000;
      const transport = opts.transports ? transportOf(opts.transports, index) : resolveAgentTransport('auto', server.bootstrapServerUri);
      const behaviour = profileBehaviour(profile, transport, { agent, host }, { awakeMs, linkDownMs, seed: index + 1 }, log);
      return new SimulatedDevice(agent, host, faults, { powerOffMs: opts.powerOffMs ?? 1000, linkDownMs }, log, behaviour);
    });
    const started = rampUp(devices, opts.rampPerSecond ?? 200);
    return new SimulatedFleet(devices, started);
  }

  get registeredCount(): number {
    return this.agents.filter((a) => a.registered).length;
  }

  /** Devices registered at least once since the fleet started (a sleeping one counts while it sleeps). */
  get everRegisteredCount(): number {
    return this.everRegistered.size;
  }

  async whenAllRegistered(timeoutMs: number): Promise<void> {
    await this.started;
    await Promise.all(this.agents.map((a) => a.whenRegistered(timeoutMs)));
  }

  agent(endpoint: string): Agent | undefined {
    return this.agents.find((a) => a.endpoint === endpoint);
  }

  device(endpoint: string): SimulatedDevice | undefined {
    return this.devices.find((d) => d.endpoint === endpoint);
  }

  async stop(): Promise<void> {
    await this.started;
    await Promise.all(this.devices.map((d) => d.stop()));
  }
}

/** The server a device's agent talks to, and over which transport. */
function serverOf(opts: FleetOptions, index: number, endpoint: string): Pick<AgentOptions, 'bootstrapServerUri' | 'transport' | 'firmwareTrustAnchor' | 'coap'> {
  if (!opts.transports) {
    if (!opts.bootstrapServerUri) throw new Error('a simulated fleet needs a bootstrap server or a transport plan');
    return { bootstrapServerUri: opts.bootstrapServerUri };
  }
  const { servers } = opts.transports;
  switch (transportOf(opts.transports, index)) {
    case 'mqtt':
      return { bootstrapServerUri: servers.mqtt };
    case 'lwm2m':
      return { bootstrapServerUri: servers.lwm2m ?? servers.coap };
    case 'coap': {
      // The agent finds the Resource Directory on the gateway's CoAP endpoint (rt=core.rd).
      const psk = opts.coapPsks?.[endpoint];
      return {
        transport: 'coap',
        bootstrapServerUri: servers.rd ?? servers.coap,
        ...(psk ? { coap: { psk: { identity: Buffer.from(psk.identity, 'utf8'), key: Buffer.from(psk.keyHex, 'hex') } } } : {}),
        ...(opts.firmwareTrustAnchor ? { firmwareTrustAnchor: opts.firmwareTrustAnchor } : {}),
      };
    }
  }
}

async function rampUp(devices: SimulatedDevice[], perSecond: number): Promise<void> {
  const batch = Math.max(1, Math.ceil(perSecond / 10));
  for (let i = 0; i < devices.length; i += batch) {
    for (const device of devices.slice(i, i + batch)) device.start();
    if (i + batch < devices.length) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
