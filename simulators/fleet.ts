import { join } from 'node:path';
import { Agent, type AgentOptions } from '../agent/agent.js';
import { faultsFor, type FaultProfile } from './faults.js';
import type { Logger } from '../common/logger.js';
import { SimulatedHost } from './hardware/simulated-host.js';
import type { SimulatedIdentity } from './identities.js';

export interface FleetOptions {
  identities: SimulatedIdentity[];
  bootstrapServerUri: string;
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
  /** Firmware update timing of the agents. */
  firmware?: AgentOptions['firmware'];
  log: Logger;
}

/**
 * Many simulated devices in one process: each is the real agent on simulated hardware, with
 * its own state directory on disk.
 */
export class SimulatedFleet {
  private constructor(
    readonly agents: Agent[],
    readonly hosts: SimulatedHost[],
    private readonly started: Promise<void>,
  ) {}

  static start(opts: FleetOptions): SimulatedFleet {
    const agents: Agent[] = [];
    const hosts: SimulatedHost[] = [];
    opts.identities.forEach((identity, index) => {
      const faults = faultsFor(opts.faults ?? {}, index);
      const stateDir = join(opts.stateDir, identity.endpoint);
      const host = new SimulatedHost({
        flashDir: join(stateDir, 'flash'),
        // A failing image fails every trial boot; the factory image keeps running.
        ...(faults.healthFail ? { failingSelfTest: () => true } : {}),
        defersUpdates: faults.defer,
        ...(opts.flashWriteBytesPerSecond !== undefined ? { flashWriteBytesPerSecond: opts.flashWriteBytesPerSecond } : {}),
        serialNumber: identity.serialNumber,
        model: identity.model,
        manufacturer: 'edgedm simulated devices',
        firmwareVersion: opts.firmwareVersion ?? '1.0.0',
        seed: index + 1,
      });
      hosts.push(host);
      agents.push(
        new Agent({
          endpoint: identity.endpoint,
          factorySecret: identity.secret,
          bootstrapServerUri: opts.bootstrapServerUri,
          stateDir: join(stateDir, 'agent'),
          keepaliveSeconds: opts.keepaliveSeconds ?? 30,
          reconnect: opts.reconnect ?? { minDelayMs: 500, maxDelayMs: 30_000 },
          host,
          log: opts.log.child({ endpoint: identity.endpoint }),
          ...(opts.firmware ? { firmware: opts.firmware } : {}),
        }),
      );
    });
    const started = rampUp(agents, opts.rampPerSecond ?? 200);
    return new SimulatedFleet(agents, hosts, started);
  }

  get registeredCount(): number {
    return this.agents.filter((a) => a.registered).length;
  }

  async whenAllRegistered(timeoutMs: number): Promise<void> {
    await this.started;
    await Promise.all(this.agents.map((a) => a.whenRegistered(timeoutMs)));
  }

  agent(endpoint: string): Agent | undefined {
    return this.agents.find((a) => a.endpoint === endpoint);
  }

  async stop(): Promise<void> {
    await this.started;
    await Promise.all(this.agents.map((a) => a.stop()));
    for (const host of this.hosts) host.close();
  }
}

async function rampUp(agents: Agent[], perSecond: number): Promise<void> {
  const batch = Math.max(1, Math.ceil(perSecond / 10));
  for (let i = 0; i < agents.length; i += batch) {
    for (const agent of agents.slice(i, i + batch)) agent.start();
    if (i + batch < agents.length) await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
