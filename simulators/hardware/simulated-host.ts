import { EDGEDM_VERSION } from '../../common/version.js';
import {
  BatteryStatus,
  DeviceErrorCode,
  NetworkBearer,
  PowerSourceKind,
  type DeviceIdentity,
  type HostAdapter,
  type MemoryState,
  type NetworkState,
  type PowerState,
} from '../../agent/host/host-adapter.js';
import { FileSlots } from '../../agent/host/file-slots.js';
import { Drift, type DriftOptions, type DriftReading } from './drift.js';
import { SimulatedRadio } from './radio.js';
import { prng } from './random.js';

export interface SimulatedHostOptions {
  serialNumber: string;
  model?: string;
  manufacturer?: string;
  firmwareVersion?: string;
  hardwareVersion?: string;
  /** Makes per-device variation (memory, signal, addresses) reproducible. */
  seed?: number;
  /** How long a reboot keeps the device away. */
  bootDelayMs?: number;
  /** Battery drain in percent per hour; 0 for mains-powered devices. Without `drift` only. */
  drainPerHour?: number;
  /**
   * Readings that wander (simulators/hardware/drift.ts): battery discharging and recharged,
   * memory with leaks, signal and link quality as random walks, all from `seed`. Absent: the
   * battery drains linearly by `drainPerHour` and the other figures stay as they are set.
   */
  drift?: DriftOptions;
  now?: () => Date;
  /** Simulated A/B flash, persisted in this directory; without it the device cannot update firmware. */
  flashDir?: string;
  flashCapacityBytes?: number;
  /** Flash write speed in bytes per second; unlimited when absent. */
  flashWriteBytesPerSecond?: number;
  /** Trial boots of these firmware versions fail their self test (a bad image). */
  failingSelfTest?: (version: string) => boolean;
  /** The device's user defers every update (Maximum Defer Period then decides). */
  defersUpdates?: boolean;
  /** How long the self test of a trial boot takes. */
  selfTestMs?: number;
  /** Download speed of the radio link for pulled firmware, bytes per second; unlimited when absent. */
  downloadBytesPerSecond?: number;
  /** What the device sends over its radio leaves this much later (the `slow` profile). */
  uplinkDelayMs?: number;
}

/** Progress of a write into the inactive flash slot. */
export type FlashWriteListener = (written: number, total: number) => void;

// The same seed gives the same device.
export { prng };

/**
 * Simulated hardware for the real agent: a battery-powered NB-IoT device whose battery drains
 * with time, with memory and radio figures varied by seed. Tests and fault injection change
 * its state through the setters.
 */
export class SimulatedHost implements HostAdapter {
  readonly kind = 'simulated';
  /** The radio every connection and download of the agent goes through. */
  readonly radio: SimulatedRadio;
  private flash: FileSlots | undefined;
  private readonly flashWriteListeners = new Set<FlashWriteListener>();
  private powered = true;
  /** Changes at each power cut: a reboot under way when the power failed never finishes. */
  private powerEpoch = 0;
  private firmwareVersion: string;
  private battery: number;
  private batteryAt: number;
  private signal: number;
  private readonly memoryTotalKiB: number;
  private memoryFreeKiB: number;
  private readonly address: string;
  private readonly errors = new Set<number>();
  private readonly drift: Drift | undefined;
  private linkUp = true;
  /** Counts reboots, so tests can tell a reboot happened. */
  reboots = 0;
  factoryResets = 0;
  /** Counts power cuts. */
  powerCuts = 0;

  constructor(private readonly opts: SimulatedHostOptions) {
    const seed = opts.seed ?? hash(opts.serialNumber);
    const random = prng(seed);
    this.firmwareVersion = opts.firmwareVersion ?? '1.0.0';
    this.radio = new SimulatedRadio({
      ...(opts.downloadBytesPerSecond !== undefined ? { downloadBytesPerSecond: opts.downloadBytesPerSecond } : {}),
      ...(opts.uplinkDelayMs ? { uplinkDelayMs: opts.uplinkDelayMs } : {}),
    });
    this.flash = this.powerOnFlash();
    this.battery = 60 + Math.floor(random() * 40);
    this.batteryAt = this.clock();
    this.signal = -70 - Math.floor(random() * 40);
    this.memoryTotalKiB = [256, 512, 1024][Math.floor(random() * 3)]!;
    this.memoryFreeKiB = Math.floor(this.memoryTotalKiB * (0.3 + random() * 0.5));
    this.address = `10.${Math.floor(random() * 256)}.${Math.floor(random() * 256)}.${1 + Math.floor(random() * 253)}`;
    if (opts.drift) {
      const start = { batteryPercent: this.battery, memoryTotalKiB: this.memoryTotalKiB, memoryFreeKiB: this.memoryFreeKiB, signalDbm: this.signal };
      this.drift = new Drift(seed, start, opts.drift, this.clock());
    }
  }

  identity(): DeviceIdentity {
    return {
      manufacturer: this.opts.manufacturer ?? 'edgedm simulated devices',
      model: this.opts.model ?? 'EDM-SIM',
      serialNumber: this.opts.serialNumber,
      firmwareVersion: this.firmware?.running().version ?? this.firmwareVersion,
      hardwareVersion: this.opts.hardwareVersion ?? 'rev-B',
      softwareVersion: `edgedm-agent ${EDGEDM_VERSION}`,
      deviceType: 'sensor',
    };
  }

  memory(): MemoryState {
    return { totalKiB: this.memoryTotalKiB, freeKiB: this.memoryFree() };
  }

  power(): PowerState {
    const level = this.batteryLevel();
    const battery = { kind: PowerSourceKind.INTERNAL_BATTERY, voltageMv: Math.round(3000 + level * 12), currentMa: 12 };
    const drift = this.reading();
    if (!drift) return { sources: [battery], batteryLevel: level, batteryStatus: level < 15 ? BatteryStatus.LOW : BatteryStatus.NORMAL };
    const status = drift.charging
      ? BatteryStatus.CHARGING
      : drift.onMains && level >= 100
        ? BatteryStatus.CHARGE_COMPLETE
        : level < 15
          ? BatteryStatus.LOW
          : BatteryStatus.NORMAL;
    const mains = { kind: PowerSourceKind.AC_MAINS, voltageMv: drift.onMains ? 230_000 : 0, currentMa: drift.onMains ? 20 : 0 };
    return {
      sources: this.drift!.mainsPowered ? [mains, { ...battery, currentMa: drift.charging ? -150 : drift.onMains ? 0 : 12 }] : [{ ...battery, currentMa: drift.charging ? -150 : 12 }],
      batteryLevel: level,
      batteryStatus: status,
    };
  }

  network(): NetworkState {
    const drift = this.reading();
    const signal = drift?.signalDbm ?? this.signal;
    return {
      bearer: NetworkBearer.NB_IOT,
      availableBearers: [NetworkBearer.NB_IOT, NetworkBearer.LTE_FDD],
      signalStrength: signal,
      linkQuality: drift?.linkQuality ?? Math.max(0, Math.min(100, Math.round((signal + 120) * 2))),
      ipAddresses: this.linkUp && this.radio.linkUp ? [this.address] : [],
      routerAddresses: this.linkUp && this.radio.linkUp ? ['10.0.0.1'] : [],
      cellId: hash(this.opts.serialNumber) % 268435456,
    };
  }

  errorCodes(): number[] {
    const codes = new Set(this.errors);
    const drift = this.reading();
    if (this.batteryLevel() < 15) codes.add(DeviceErrorCode.LOW_BATTERY);
    if ((drift?.signalDbm ?? this.signal) < -115) codes.add(DeviceErrorCode.LOW_SIGNAL);
    if (this.memoryFree() < this.memoryTotalKiB * 0.02) codes.add(DeviceErrorCode.OUT_OF_MEMORY);
    // A mains device in an outage runs on its battery.
    if (drift && this.drift?.mainsPowered && !drift.onMains) codes.add(DeviceErrorCode.EXTERNAL_POWER_OFF);
    return [...codes].sort((a, b) => a - b);
  }

  now(): Date {
    return this.opts.now?.() ?? new Date();
  }

  /** The simulated A/B flash, as the bootloader found it at the last power-on. */
  get firmware(): FileSlots | undefined {
    return this.flash;
  }

  get poweredOn(): boolean {
    return this.powered;
  }

  async reboot(): Promise<void> {
    this.reboots++;
    const epoch = this.powerEpoch;
    await new Promise((resolve) => setTimeout(resolve, this.opts.bootDelayMs ?? 200));
    // The power failed while the device was restarting: the next power-on is its boot.
    if (epoch !== this.powerEpoch) return;
    this.flash?.boot();
  }

  /**
   * The power fails: a flash write under way stops where it is, the radio goes dead with its
   * connections, and nothing more reaches the flash files. The agent must be stopped abruptly
   * too (Agent.powerOff); `powerOn` then boots from what is on disk.
   */
  powerCut(): void {
    if (!this.powered) return;
    this.powered = false;
    this.powerEpoch++;
    this.powerCuts++;
    this.flash?.powerCut();
    this.radio.powerCut();
  }

  /** Power comes back: the bootloader reads the flash files afresh (a trial slot consumes its attempt). */
  powerOn(): void {
    if (this.powered) return;
    this.powered = true;
    this.flash = this.powerOnFlash();
    this.radio.powerOn();
  }

  /** Listens to writes into the inactive slot; returns an unsubscribe. */
  onFlashWrite(listener: FlashWriteListener): () => void {
    this.flashWriteListeners.add(listener);
    return () => this.flashWriteListeners.delete(listener);
  }

  async factoryReset(): Promise<void> {
    this.factoryResets++;
    this.errors.clear();
    await new Promise((resolve) => setTimeout(resolve, this.opts.bootDelayMs ?? 200));
  }

  close(): void {
    this.radio.close();
  }

  // ---- fault injection and scenario control ----------------------------------------------

  /** With drift on, the level drifts on from here. */
  setBatteryLevel(percent: number): void {
    this.battery = Math.max(0, Math.min(100, percent));
    this.batteryAt = this.clock();
    this.drift?.setBattery(percent, this.batteryAt);
  }

  setSignalStrength(dbm: number): void {
    this.signal = dbm;
    this.drift?.setSignal(dbm, this.clock());
  }

  setMemoryFree(kib: number): void {
    this.memoryFreeKiB = Math.max(0, Math.min(this.memoryTotalKiB, kib));
    this.drift?.setMemoryFree(kib, this.clock());
  }

  setFirmwareVersion(version: string): void {
    this.firmwareVersion = version;
  }

  setLinkUp(up: boolean): void {
    this.linkUp = up;
  }

  raiseHardwareError(code: number): void {
    this.errors.add(code);
  }

  private powerOnFlash(): FileSlots | undefined {
    const opts = this.opts;
    if (!opts.flashDir) return undefined;
    return new FileSlots({
      dir: opts.flashDir,
      factoryVersion: opts.firmwareVersion ?? '1.0.0',
      ...(opts.flashCapacityBytes !== undefined ? { capacityBytes: opts.flashCapacityBytes } : {}),
      ...(opts.flashWriteBytesPerSecond !== undefined ? { writeBytesPerSecond: opts.flashWriteBytesPerSecond } : {}),
      ...(opts.failingSelfTest ? { failingSelfTest: opts.failingSelfTest } : {}),
      ...(opts.selfTestMs ? { selfTestMs: opts.selfTestMs } : {}),
      acceptUpdate: () => (opts.defersUpdates ? 'defer' : 'accept'),
      onWriteProgress: (written, total) => {
        for (const listener of this.flashWriteListeners) listener(written, total);
      },
    });
  }

  private batteryLevel(): number {
    const drift = this.reading();
    if (drift) return Math.round(drift.batteryPercent);
    const hours = (this.clock() - this.batteryAt) / 3_600_000;
    return Math.max(0, Math.round(this.battery - hours * (this.opts.drainPerHour ?? 0.5)));
  }

  private memoryFree(): number {
    return this.reading()?.memoryFreeKiB ?? this.memoryFreeKiB;
  }

  /** The drifting readings now, when drift is on. */
  private reading(): DriftReading | undefined {
    return this.drift?.at(this.clock());
  }

  private clock(): number {
    return this.now().getTime();
  }
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619);
  return h >>> 0;
}
