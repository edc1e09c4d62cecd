/**
 * How a simulated device's readings wander over time, so that monitoring charts and alarm rules
 * have something to show: the battery discharges (and is recharged: a battery device is put on
 * charge when it runs low, a mains device charges after each outage), free memory wanders with
 * occasional leaks and recoveries, and the radio's signal strength and link quality follow
 * bounded random walks with occasional fades.
 *
 * Deterministic: the state is advanced in fixed steps of simulated time, each step drawing from
 * the device's own seeded generator, so the values depend only on the seed and the time elapsed,
 * never on when or how often they are read. Nothing runs between reads: a fleet of 10,000
 * devices costs no timer, and a device read after a long sleep catches up at once.
 */
import { gaussian, prng } from './random.js';

export interface DriftOptions {
  /** Simulated time per real time: 60 makes an hour of drift pass in a minute (demos). Default 1. */
  speed?: number;
  /** Simulated time between two steps of the random walks (default 10 s). */
  stepMs?: number;
  /** Share of the devices on mains power with a backup battery (default 0.2). */
  mainsShare?: number;
}

/** Where a device's readings start (the host's seeded figures). */
export interface DriftStart {
  batteryPercent: number;
  memoryTotalKiB: number;
  memoryFreeKiB: number;
  signalDbm: number;
}

export interface DriftReading {
  /** 0–100, fractional; hosts report it rounded. */
  batteryPercent: number;
  /** The battery is being charged now. */
  charging: boolean;
  /** The device has mains power now (a mains device outside an outage). */
  onMains: boolean;
  memoryFreeKiB: number;
  /** dBm, whole. */
  signalDbm: number;
  /** 0–100 (LwM2M /4/0/3), whole. */
  linkQuality: number;
}

/** Realistic ranges the walks stay in (NB-IoT/LTE-M RSSI-like figures). */
export const SIGNAL_RANGE_DBM = { min: -125, max: -50 } as const;

const HOUR_MS = 3_600_000;
const DEFAULT_STEP_MS = 10_000;

/** Per-device character, drawn once from the seed. */
interface Character {
  mains: boolean;
  dischargePerStep: number;
  chargePerStep: number;
  /** A battery device is put on charge when it falls to this level. */
  rechargeAt: number;
  /** Probability per step that a mains outage starts / ends. */
  outageStart: number;
  outageEnd: number;
  memoryBaseline: number;
  memorySigma: number;
  leakStart: number;
  leakPerStep: number;
  leakRecovery: number;
  signalBaseline: number;
  fadeStart: number;
  fadeEnd: number;
  fadeDepth: number;
}

/**
 * One device's drift. `at(now)` advances the walks to `now` and returns the readings; the setters
 * (fault injection, tests) move a value and the walks go on from there.
 */
export class Drift {
  private readonly random: () => number;
  private readonly c: Character;
  private readonly speed: number;
  private readonly stepMs: number;
  private step = 0;
  private battery: number;
  private charging = false;
  private outage = false;
  private memoryFree: number;
  private leaking = false;
  /** What the leak under way holds: free memory reverts to the baseline less this. */
  private leaked = 0;
  private signal: number;
  private fading = false;
  private linkNoise = 0;

  constructor(
    seed: number,
    private readonly start: DriftStart,
    options: DriftOptions,
    private readonly startedAt: number,
  ) {
    // Its own stream, apart from the host's: drift on or off, a device starts from the same figures.
    this.random = prng((seed ^ 0x5eed_d21f) >>> 0);
    this.speed = options.speed ?? 1;
    this.stepMs = options.stepMs ?? DEFAULT_STEP_MS;
    if (!(this.speed > 0) || !(this.stepMs > 0)) throw new RangeError('drift speed and step must be positive');
    const r = this.random;
    const perStep = (perHour: number) => (perHour * this.stepMs) / HOUR_MS;
    const total = start.memoryTotalKiB;
    this.c = {
      mains: r() < (options.mainsShare ?? 0.2),
      dischargePerStep: perStep(0.3 + r() * 1.7),
      chargePerStep: perStep(15 + r() * 25),
      rechargeAt: 8 + r() * 17,
      // An outage about every 12 h, lasting about an hour.
      outageStart: perStep(1 / 12),
      outageEnd: perStep(1),
      memoryBaseline: start.memoryFreeKiB,
      memorySigma: total * 0.004,
      // A leak about every 6 h; it eats 0.2–0.6 % of the memory a step until the process recovers (~10 min).
      leakStart: perStep(1 / 6),
      leakPerStep: total * (0.002 + r() * 0.004),
      leakRecovery: perStep(6),
      signalBaseline: start.signalDbm,
      // A fade about every hour, lasting about 3 minutes, 8–20 dB deep.
      fadeStart: perStep(1),
      fadeEnd: perStep(20),
      fadeDepth: 8 + r() * 12,
    };
    this.battery = this.c.mains ? Math.max(start.batteryPercent, 95) : start.batteryPercent;
    this.charging = this.c.mains && this.battery < 100;
    this.memoryFree = start.memoryFreeKiB;
    this.signal = start.signalDbm;
  }

  /** Whether the device is mains-powered (with a backup battery). */
  get mainsPowered(): boolean {
    return this.c.mains;
  }

  at(now: number): DriftReading {
    this.advance(now);
    const total = this.start.memoryTotalKiB;
    const signalDbm = Math.round(this.signal);
    const fromSignal = (signalDbm + 120) * 2;
    return {
      batteryPercent: this.battery,
      charging: this.charging,
      onMains: this.c.mains && !this.outage,
      memoryFreeKiB: Math.round(clamp(this.memoryFree, 0, total)),
      signalDbm,
      linkQuality: Math.round(clamp(fromSignal + this.linkNoise, 0, 100)),
    };
  }

  setBattery(percent: number, now: number): void {
    this.advance(now);
    this.battery = clamp(percent, 0, 100);
  }

  setMemoryFree(kib: number, now: number): void {
    this.advance(now);
    this.memoryFree = clamp(kib, 0, this.start.memoryTotalKiB);
    this.leaking = false;
    this.leaked = 0;
  }

  setSignal(dbm: number, now: number): void {
    this.advance(now);
    this.signal = dbm;
    this.fading = false;
  }

  private advance(now: number): void {
    const target = Math.floor(((now - this.startedAt) * this.speed) / this.stepMs);
    while (this.step < target) {
      this.step++;
      this.stepBattery();
      this.stepMemory();
      this.stepRadio();
    }
  }

  private stepBattery(): void {
    const c = this.c;
    if (c.mains) {
      if (!this.outage && this.random() < c.outageStart) this.outage = true;
      else if (this.outage && this.random() < c.outageEnd) this.outage = false;
      // On mains it charges to full and stays there; in an outage the battery carries the device.
      this.charging = !this.outage && this.battery < 100;
      this.battery = this.outage ? this.battery - c.dischargePerStep * 4 : this.battery + c.chargePerStep;
    } else {
      if (!this.charging && this.battery <= c.rechargeAt) this.charging = true;
      else if (this.charging && this.battery >= 100) this.charging = false;
      this.battery += this.charging ? c.chargePerStep : -c.dischargePerStep;
    }
    this.battery = clamp(this.battery, 0, 100);
  }

  private stepMemory(): void {
    const c = this.c;
    const total = this.start.memoryTotalKiB;
    if (!this.leaking && this.random() < c.leakStart) this.leaking = true;
    // Out of memory is where a leak ends at the latest: the leaking process is restarted.
    if (this.leaking && (this.random() < c.leakRecovery || this.memoryFree < total * 0.02)) {
      this.leaking = false;
      this.memoryFree += this.leaked;
      this.leaked = 0;
    }
    if (this.leaking) {
      this.leaked += c.leakPerStep;
      this.memoryFree -= c.leakPerStep;
    }
    // Mean-reverting noise (Ornstein-Uhlenbeck) around the baseline less what the leak holds.
    const centre = c.memoryBaseline - this.leaked;
    this.memoryFree = clamp(this.memoryFree + (centre - this.memoryFree) * 0.05 + gaussian(this.random) * c.memorySigma, 0, total);
  }

  private stepRadio(): void {
    const c = this.c;
    if (!this.fading && this.random() < c.fadeStart) this.fading = true;
    else if (this.fading && this.random() < c.fadeEnd) this.fading = false;
    const centre = c.signalBaseline - (this.fading ? c.fadeDepth : 0);
    this.signal = clamp(this.signal + (centre - this.signal) * 0.05 + gaussian(this.random) * 1.5, SIGNAL_RANGE_DBM.min, SIGNAL_RANGE_DBM.max);
    // Link quality follows the signal, with interference of its own.
    this.linkNoise = clamp(this.linkNoise * 0.9 + gaussian(this.random) * 2, -15, 15);
  }
}

function clamp(v: number, min: number, max: number): number {
  return v < min ? min : v > max ? max : v;
}
