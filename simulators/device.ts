import type { Agent } from '../agent/agent.js';
import type { Logger } from '../common/logger.js';
import { FirmwareState } from '../protocol/firmware/index.js';
import type { DeviceFaults, PowerLossStep } from './faults.js';
import type { SimulatedHost } from './hardware/simulated-host.js';
import type { ProfileBehaviour } from './profile-behaviour.js';

export interface SimulatedDeviceTiming {
  /** How long a power cut keeps the device off. */
  powerOffMs: number;
  /** How long a dropped link stays down. */
  linkDownMs: number;
}

const STATE = '/5/0/3';

/**
 * One simulated device: the real agent on simulated hardware, with its faults wired to the
 * hardware. A power cut is real: the flash stops mid-write, the radio dies with its connections,
 * the agent is stopped without a word to its server, and after the off time the device boots
 * from its state directory and flash files, the bootloader first.
 */
export class SimulatedDevice {
  /** The steps at which a power-loss fault struck, in order. */
  readonly powerLosses: PowerLossStep[] = [];
  private readonly pending: Set<PowerLossStep>;
  private cycle: Promise<void> = Promise.resolve();
  private dropTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    readonly agent: Agent,
    readonly host: SimulatedHost,
    readonly faults: DeviceFaults,
    private readonly timing: SimulatedDeviceTiming,
    private readonly log: Logger,
    /** What the device's profile (simulators/profiles.ts) does besides: naps, link drops. */
    private readonly behaviour?: ProfileBehaviour,
  ) {
    this.pending = new Set(faults.powerLoss);
    // Steps the hardware sees itself cut at once, in the middle of the work.
    if (this.pending.has('downloading')) host.radio.on('downloaded', () => this.strike('downloading'));
    if (this.pending.has('updating')) host.onFlashWrite((written, total) => written * 2 >= total && this.strike('updating'));
    // Steps only the agent's state tells: looked at from each boot on.
    if (this.pending.has('downloaded') || this.pending.has('trial')) agent.on('booted', () => this.watchBoot());
  }

  get endpoint(): string {
    return this.agent.endpoint;
  }

  start(): void {
    this.agent.start();
    this.behaviour?.start();
    const every = this.faults.dropLinkEveryMs;
    if (every !== undefined) this.dropTimer = setInterval(() => this.host.radio.drop(this.timing.linkDownMs), every);
  }

  /**
   * The power fails now; it comes back after `offMs` and the device boots from what is on disk.
   * Resolves when the device is powered again (and booting).
   */
  powerCut(offMs = this.timing.powerOffMs): Promise<void> {
    if (!this.host.poweredOn || this.stopped) return this.cycle;
    this.host.powerCut();
    const off = this.agent.powerOff();
    this.cycle = (async () => {
      await off;
      await new Promise((resolve) => setTimeout(resolve, offMs));
      if (this.stopped) return;
      this.host.powerOn();
      this.agent.start();
    })();
    return this.cycle;
  }

  /** Waits for a power cycle under way to end. */
  settled(): Promise<void> {
    return this.cycle;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.dropTimer) clearInterval(this.dropTimer);
    await this.behaviour?.stop();
    await this.cycle;
    await this.agent.stop();
    this.host.close();
  }

  private watchBoot(): void {
    const objects = this.agent.objects;
    if (!objects) return;
    // Booted on trial: the power fails before the health check can confirm the new image.
    if (this.pending.has('trial') && this.host.firmware?.running().trial) queueMicrotask(() => this.strike('trial'));
    if (this.pending.has('downloaded')) {
      objects.tree.onChange((path) => {
        if (path.toString() === STATE && objects.firmware?.state === FirmwareState.DOWNLOADED) queueMicrotask(() => this.strike('downloaded'));
      });
    }
  }

  /**
   * A power-loss fault strikes, once per step. Called from inside the work (a download piece,
   * a flash write) it stops that work where it is; the agent's own state changes call it a
   * moment later, once the change is on disk and the code that made it has returned.
   */
  private strike(step: PowerLossStep): void {
    if (this.stopped || !this.host.poweredOn || !this.pending.delete(step)) return;
    this.powerLosses.push(step);
    this.log.info({ step, offMs: this.timing.powerOffMs }, 'simulated power loss');
    void this.powerCut();
  }
}
