import type { Agent } from '../agent/agent.js';
import { sleep } from '../common/backoff.js';
import type { Logger } from '../common/logger.js';
import type { TransportKind } from '../protocol/states.js';
import { prng, type SimulatedHost } from './hardware/simulated-host.js';
import type { DeviceProfile } from './profiles.js';

/** What a profile does to a running device, over and above the agent's own life cycle. */
export interface ProfileBehaviour {
  start(): void;
  /** Ends the profile's timers; resolves once a sleep or wake under way has finished. */
  stop(): Promise<void>;
}

export interface ProfileTiming {
  /** How long a sleeping device stays awake after it registered. */
  awakeMs: number;
  /** How long a flaky device's link stays down at each drop. */
  linkDownMs: number;
  /** Makes a flaky device's drop times reproducible. */
  seed: number;
}

const NOTHING: ProfileBehaviour = { start() {}, stop: () => Promise.resolve() };

/**
 * The timers a profile needs. Always-on and slow need none (slow is in the radio, from the
 * start); sleeping LwM2M devices need none either (queue mode is the agent's own, set up by the
 * fleet). Sleeping MQTT and CoAP devices nap: the agent stops (deregisters) and starts again.
 */
export function profileBehaviour(
  profile: DeviceProfile,
  transport: TransportKind,
  device: { agent: Agent; host: SimulatedHost },
  timing: ProfileTiming,
  log: Logger,
): ProfileBehaviour {
  if (profile.profile === 'flaky') return new FlakyLink(device.host, profile.periodMs, timing);
  if (profile.profile === 'sleeping' && transport !== 'lwm2m') return new Napping(device.agent, device.host, profile.periodMs, timing.awakeMs, log);
  return NOTHING;
}

/** The radio link drops at random times, uniform in [period/2, 3·period/2] apart. */
class FlakyLink implements ProfileBehaviour {
  private timer: NodeJS.Timeout | undefined;
  private readonly random: () => number;

  constructor(
    private readonly host: SimulatedHost,
    private readonly periodMs: number,
    private readonly timing: ProfileTiming,
  ) {
    this.random = prng(timing.seed);
  }

  start(): void {
    const next = () => {
      this.timer = setTimeout(() => {
        this.host.radio.drop(this.timing.linkDownMs);
        next();
      }, this.periodMs * (0.5 + this.random()));
    };
    next();
  }

  stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    return Promise.resolve();
  }
}

/**
 * Awake for `awakeMs` after each registration, then asleep for `sleepMs`: the agent deregisters
 * and stops, as firmware going into deep sleep would, and boots again from its state on waking.
 * What the gateway queued for the device meanwhile reaches it when it registers.
 */
class Napping implements ProfileBehaviour {
  private timer: NodeJS.Timeout | undefined;
  private transition: Promise<void> = Promise.resolve();
  private stopped = false;
  private readonly stopping = new AbortController();
  private readonly onRegistered = () => this.scheduleSleep();

  constructor(
    private readonly agent: Agent,
    private readonly host: SimulatedHost,
    private readonly sleepMs: number,
    private readonly awakeMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.agent.on('registered', this.onRegistered);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    this.agent.off('registered', this.onRegistered);
    if (this.timer) clearTimeout(this.timer);
    await this.transition;
  }

  private scheduleSleep(): void {
    if (this.stopped || this.timer) return;
    this.timer = setTimeout(() => {
      this.transition = this.nap().finally(() => (this.timer = undefined));
    }, this.awakeMs);
  }

  private async nap(): Promise<void> {
    // A power cut under way owns the agent; the next registration schedules the next nap.
    if (this.stopped || !this.host.poweredOn) return;
    this.log.debug({ sleepMs: this.sleepMs }, 'going to sleep');
    await this.agent.stop();
    // Stopped while asleep: the device stays off.
    await sleep(this.sleepMs, this.stopping.signal);
    if (this.stopped || !this.host.poweredOn) return;
    this.log.debug('woke up');
    this.agent.start();
  }
}
