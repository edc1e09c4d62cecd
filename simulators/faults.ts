/**
 * Fault profiles for simulated fleets: which devices misbehave, and how. A profile is a
 * comma-separated list of terms `fault[@parameter][=share%]`, e.g.
 * `health-fail=10%,power-loss@updating=5%,slow-link@2kbps=20%,drop-link=10%`; a term without a
 * share applies to every device. Each term picks its devices evenly by index (every 10th for
 * 10 %), so a run is reproducible and a canary of ten devices holds exactly its share; term
 * number k of the profile starts k devices further on, so terms of the same share pick different
 * devices where they can (with `power-loss@downloading=10%,power-loss@updating=10%`, devices
 * 10, 20, … lose power while downloading and devices 9, 19, … while installing).
 */
const DEFAULT_SLOW_LINK_BYTES_PER_SECOND = 4 * 1024;
const DEFAULT_DROP_EVERY_MS = 10_000;

export const FAULTS = {
  /** A trial boot of any new firmware fails its self test: the device rolls back. */
  'health-fail': 'trial boots of new firmware fail their self test (the device rolls back)',
  /** The device's user defers updates until Maximum Defer Period (/5/0/13) forces them. */
  defer: 'the user defers firmware updates until Maximum Defer Period (/5/0/13) forces them',
  /** The device loses power once, when its firmware update reaches the step given. */
  'power-loss': 'the power fails once when the firmware update reaches a step: power-loss@downloading|downloaded|updating|trial',
  /** Pulled firmware downloads crawl: the radio's speed, in KiB/s. */
  'slow-link': `pulled firmware downloads (http, coap) crawl over a slow radio link: slow-link@<n>kbps (KiB/s, default ${DEFAULT_SLOW_LINK_BYTES_PER_SECOND / 1024})`,
  /** The radio link drops now and then (MQTT cut, downloads interrupted) and comes back. */
  'drop-link': `the radio link drops every so often (MQTT cut, downloads interrupted) and comes back: drop-link@<n>s or @<n>ms (default ${DEFAULT_DROP_EVERY_MS / 1000} s)`,
} as const;

export type FaultName = keyof typeof FAULTS;

/** The steps of a firmware update at which a `power-loss` fault can strike. */
export const POWER_LOSS_STEPS = {
  downloading: 'once the first bytes of a pulled image are on disk (mid-download)',
  downloaded: 'as the verified image is staged (Downloaded), before the server asks to install it',
  updating: 'half way through writing the inactive slot (mid-install)',
  trial: 'after the switch: the new image boots on trial, before its health check confirms it',
} as const;

export type PowerLossStep = keyof typeof POWER_LOSS_STEPS;

/** One term of a profile. */
export interface FaultTerm {
  fault: FaultName;
  /** power-loss: the step it strikes at. */
  step?: PowerLossStep;
  /** slow-link: the link's speed. */
  bytesPerSecond?: number;
  /** drop-link: the time between drops. */
  everyMs?: number;
  /** Share of the fleet, 0..1. */
  share: number;
}

export type FaultProfile = readonly FaultTerm[];

/** What one device of the fleet suffers. */
export interface DeviceFaults {
  healthFail: boolean;
  defer: boolean;
  /** Steps at which the device loses power, once each. */
  powerLoss: PowerLossStep[];
  /** Download speed of its slow link, bytes per second. */
  slowLinkBytesPerSecond?: number;
  /** Time between drops of its link. */
  dropLinkEveryMs?: number;
}

export class FaultProfileError extends Error {}

const TERM = /^([a-z-]+)(?:@([a-z0-9.]+))?(?:=(\d+(?:\.\d+)?)%)?$/;

export function parseFaultProfile(text: string): FaultProfile {
  const terms: FaultTerm[] = [];
  const seen = new Set<string>();
  for (const term of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const match = TERM.exec(term);
    if (!match) throw new FaultProfileError(`bad fault term "${term}": expected name[@parameter][=P%], e.g. health-fail=10% or power-loss@updating=5%`);
    const name = match[1] as FaultName;
    if (!(name in FAULTS)) throw new FaultProfileError(`unknown fault "${name}"; known: ${Object.keys(FAULTS).join(', ')}`);
    const share = match[3] === undefined ? 100 : Number(match[3]);
    if (share > 100) throw new FaultProfileError(`fault share above 100 % in "${term}"`);
    const parsed: FaultTerm = { fault: name, share: share / 100, ...parameter(name, match[2], term) };
    const key = `${name}@${parsed.step ?? ''}`;
    if (seen.has(key)) throw new FaultProfileError(`"${term}": ${name}${parsed.step ? `@${parsed.step}` : ''} is given twice`);
    seen.add(key);
    terms.push(parsed);
  }
  return terms;
}

function parameter(name: FaultName, value: string | undefined, term: string): Pick<FaultTerm, 'step' | 'bytesPerSecond' | 'everyMs'> {
  switch (name) {
    case 'health-fail':
    case 'defer':
      if (value !== undefined) throw new FaultProfileError(`"${term}": ${name} takes no @parameter`);
      return {};
    case 'power-loss':
      if (value === undefined || !(value in POWER_LOSS_STEPS)) {
        throw new FaultProfileError(`"${term}": power-loss needs the step it strikes at: power-loss@${Object.keys(POWER_LOSS_STEPS).join('|')}`);
      }
      return { step: value as PowerLossStep };
    case 'slow-link': {
      if (value === undefined) return { bytesPerSecond: DEFAULT_SLOW_LINK_BYTES_PER_SECOND };
      const m = /^(\d+(?:\.\d+)?)kbps$/.exec(value);
      const kbps = m ? Number(m[1]) : 0;
      if (!(kbps > 0)) throw new FaultProfileError(`"${term}": slow-link takes a speed in KiB/s, e.g. slow-link@2kbps`);
      return { bytesPerSecond: Math.round(kbps * 1024) };
    }
    case 'drop-link': {
      if (value === undefined) return { everyMs: DEFAULT_DROP_EVERY_MS };
      const m = /^(\d+(?:\.\d+)?)(ms|s)$/.exec(value);
      const ms = m ? Number(m[1]) * (m[2] === 's' ? 1000 : 1) : 0;
      if (!(ms >= 1)) throw new FaultProfileError(`"${term}": drop-link takes the time between drops, e.g. drop-link@10s or drop-link@500ms`);
      return { everyMs: Math.round(ms) };
    }
  }
}

/**
 * Whether device number `index` (0-based) is picked by a term of the given share, starting
 * `offset` devices on: device i is picked when the running count floor((i+1+offset)·share)
 * steps up at i. Integer arithmetic (shares in millionths), so 29 % of 100 devices is 29.
 */
export function chosen(index: number, share: number, offset = 0): boolean {
  const ppm = Math.round(share * 1_000_000);
  if (ppm <= 0) return false;
  const count = (n: number) => Math.floor((n * ppm) / 1_000_000);
  return count(index + 1 + offset) > count(index + offset);
}

export function faultsFor(profile: FaultProfile, index: number): DeviceFaults {
  const faults: DeviceFaults = { healthFail: false, defer: false, powerLoss: [] };
  profile.forEach((term, k) => {
    if (!chosen(index, term.share, k)) return;
    switch (term.fault) {
      case 'health-fail':
        faults.healthFail = true;
        break;
      case 'defer':
        faults.defer = true;
        break;
      case 'power-loss':
        faults.powerLoss.push(term.step!);
        break;
      case 'slow-link':
        faults.slowLinkBytesPerSecond = Math.min(term.bytesPerSecond!, faults.slowLinkBytesPerSecond ?? Infinity);
        break;
      case 'drop-link':
        faults.dropLinkEveryMs = Math.min(term.everyMs!, faults.dropLinkEveryMs ?? Infinity);
        break;
    }
  });
  return faults;
}

/** How many devices of a fleet of `count` each term picks, e.g. `power-loss@updating on 5 of 100`. */
export function describeFaults(profile: FaultProfile, count: number): string {
  return profile
    .map((term, k) => {
      const picked = Array.from({ length: count }, (_, i) => chosen(i, term.share, k)).filter(Boolean).length;
      const param = term.step ?? (term.bytesPerSecond !== undefined ? `${term.bytesPerSecond / 1024}kbps` : term.everyMs !== undefined ? `${term.everyMs}ms` : undefined);
      return `${term.fault}${param ? `@${param}` : ''} on ${picked} of ${count}`;
    })
    .join(', ');
}

/** The profile grammar and every fault, for `--help`. */
export function faultHelp(): string {
  const width = Math.max(...Object.keys(FAULTS).map((n) => n.length));
  const steps = Math.max(...Object.keys(POWER_LOSS_STEPS).map((n) => n.length));
  return [
    'Fault profiles (--faults): comma-separated fault[@parameter][=share%], e.g.',
    '  --faults health-fail=10%,defer=5%,power-loss@updating=5%,slow-link@2kbps=20%,drop-link@30s=10%',
    'Devices are picked evenly by index; a term without a share applies to every device.',
    ...Object.entries(FAULTS).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
    'power-loss steps (the device is off for --power-off-ms, then boots from its state and flash files):',
    ...Object.entries(POWER_LOSS_STEPS).map(([name, text]) => `  ${name.padEnd(steps)}  ${text}`),
  ].join('\n');
}
