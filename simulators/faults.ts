/**
 * Fault profiles for simulated fleets: which devices misbehave, and how. A profile is a
 * comma-separated list of `fault=share`, e.g. `health-fail=10%,defer=5%`; devices are chosen
 * evenly by index (every 10th for 10 %), so a run is reproducible and a canary of ten devices
 * holds exactly its share.
 */
export const FAULTS = {
  /** A trial boot of any new firmware fails its self test: the device rolls back. */
  'health-fail': 'trial boots of new firmware fail their self test',
  /** The device's user defers updates until Maximum Defer Period forces them. */
  defer: 'the user defers firmware updates',
} as const;

export type FaultName = keyof typeof FAULTS;

export interface DeviceFaults {
  healthFail: boolean;
  defer: boolean;
}

export type FaultProfile = Partial<Record<FaultName, number>>;

export class FaultProfileError extends Error {}

export function parseFaultProfile(text: string): FaultProfile {
  const profile: FaultProfile = {};
  for (const term of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const match = /^([a-z-]+)(?:=(\d+(?:\.\d+)?)%)?$/.exec(term);
    if (!match) throw new FaultProfileError(`bad fault term "${term}": expected name=P%, e.g. health-fail=10%`);
    const name = match[1] as FaultName;
    if (!(name in FAULTS)) throw new FaultProfileError(`unknown fault "${name}"; known: ${Object.keys(FAULTS).join(', ')}`);
    const share = match[2] === undefined ? 100 : Number(match[2]);
    if (share > 100) throw new FaultProfileError(`fault share above 100 % in "${term}"`);
    profile[name] = share / 100;
  }
  return profile;
}

/** Whether device number `index` (0-based) of the fleet has a fault of the given share. */
function chosen(index: number, share: number | undefined): boolean {
  if (!share) return false;
  // Device i is faulty when the running count floor((i+1)·share) steps up at i.
  return Math.floor((index + 1) * share) > Math.floor(index * share);
}

export function faultsFor(profile: FaultProfile, index: number): DeviceFaults {
  return { healthFail: chosen(index, profile['health-fail']), defer: chosen(index, profile.defer) };
}
