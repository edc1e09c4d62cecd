/**
 * Behaviour profiles of a simulated fleet: how each device lives on its network, in the grammar
 * of the fault profiles (simulators/faults.ts): `profile[@period][=share%]`, e.g.
 * `sleeping@60s=20%,flaky@45s=10%,slow@2s=5%`; the devices no term takes are always-on.
 *
 * Unlike faults, profiles exclude each other (a device sleeps or is flaky, not both), so they
 * are dealt out as a partition: smooth weighted round-robin over the terms and always-on, by
 * device index. The deal is deterministic, spreads each profile evenly over the fleet (every
 * 5th device for 20 %), and gives exactly the shares on any multiple of 100 devices.
 *
 * - sleeping@N: the device sleeps N between wakes. Over MQTT (and plain CoAP) it deregisters and
 *   stops, then boots and registers again after N, awake for the fleet's awake time; queued fleet
 *   commands reach it while it is awake. Over LwM2M it registers in queue mode and wakes (sends
 *   an Update) every N, listening for the awake time after it spoke.
 * - flaky@N: the radio link drops at random intervals averaging N (uniform in [N/2, 3N/2]),
 *   down for the fleet's link-down time each time; the agent reconnects on its own.
 * - slow@N: everything the device sends over its radio (MQTT) reaches the server N later, so it
 *   answers every request late (a slow, high-latency link or a busy microcontroller: the same
 *   from the server's side). LwM2M and plain CoAP devices do not take their UDP through the
 *   simulated radio, so slow changes nothing for them.
 */

export const PROFILES = {
  'always-on': 'connected all the time (the devices no other term takes)',
  sleeping: 'sleeps between wakes: MQTT/CoAP disconnect and reconnect every <n>s, LwM2M uses queue mode and wakes every <n>s (default 60 s)',
  flaky: 'the radio link drops at random intervals around <n>s and comes back (default 45 s)',
  slow: 'answers every request <n>s or <n>ms late: what it sends over its radio lags (MQTT; default 2 s)',
} as const;

export type ProfileName = keyof typeof PROFILES;

const DEFAULT_PERIOD_MS: Record<ProfileName, number> = { 'always-on': 0, sleeping: 60_000, flaky: 45_000, slow: 2000 };

export interface ProfileTerm {
  profile: Exclude<ProfileName, 'always-on'>;
  /** sleeping: time asleep between wakes; flaky: mean time between drops; slow: the delay. */
  periodMs: number;
  /** Share of the fleet, 0..1. */
  share: number;
}

export type ProfilePlan = readonly ProfileTerm[];

/** What one device of the fleet is. */
export type DeviceProfile = { profile: 'always-on' } | { profile: ProfileTerm['profile']; periodMs: number };

export class ProfilePlanError extends Error {}

const TERM = /^([a-z-]+)(?:@(\d+(?:\.\d+)?)(ms|s))?(?:=(\d+(?:\.\d+)?)%)?$/;

export function parseProfiles(text: string): ProfilePlan {
  const terms: ProfileTerm[] = [];
  for (const term of text.split(',').map((t) => t.trim()).filter(Boolean)) {
    const match = TERM.exec(term);
    if (!match) throw new ProfilePlanError(`bad profile term "${term}": expected name[@<n>s|ms][=P%], e.g. sleeping@60s=20%`);
    const name = match[1]!;
    if (!(name in PROFILES)) throw new ProfilePlanError(`unknown profile "${name}"; known: ${Object.keys(PROFILES).join(', ')}`);
    if (name === 'always-on') throw new ProfilePlanError('always-on is what the devices no other term takes: give only sleeping, flaky and slow');
    const profile = name as ProfileTerm['profile'];
    if (terms.some((t) => t.profile === profile)) throw new ProfilePlanError(`"${term}": ${profile} is given twice`);
    const periodMs = match[2] === undefined ? DEFAULT_PERIOD_MS[profile] : Math.round(Number(match[2]) * (match[3] === 's' ? 1000 : 1));
    if (!(periodMs >= 1)) throw new ProfilePlanError(`"${term}": the period must be at least 1 ms`);
    const share = match[4] === undefined ? 100 : Number(match[4]);
    terms.push({ profile, periodMs, share: share / 100 });
  }
  const total = terms.reduce((sum, t) => sum + t.share, 0);
  if (total > 1 + 1e-9) throw new ProfilePlanError(`profile shares add up to ${Math.round(total * 1000) / 10} %, more than 100 %`);
  return terms;
}

/**
 * Every device's profile, by index: smooth weighted round-robin (as nginx balances upstreams)
 * over the terms and always-on, with weights in millionths. Each device goes to the class most
 * behind its share so far, ties to the earlier term; always-on is last.
 */
export function dealProfiles(plan: ProfilePlan, count: number): DeviceProfile[] {
  const weights = plan.map((t) => Math.round(t.share * 1_000_000));
  const alwaysOn = Math.max(0, 1_000_000 - weights.reduce((a, b) => a + b, 0));
  const all = [...weights, alwaysOn];
  const total = all.reduce((a, b) => a + b, 0);
  const current = all.map(() => 0);
  const dealt: DeviceProfile[] = [];
  for (let i = 0; i < count; i++) {
    let best = 0;
    for (let k = 0; k < all.length; k++) {
      current[k]! += all[k]!;
      if (current[k]! > current[best]!) best = k;
    }
    current[best]! -= total;
    const term = plan[best];
    dealt.push(term ? { profile: term.profile, periodMs: term.periodMs } : { profile: 'always-on' });
  }
  return dealt;
}

/** How many devices of the fleet each profile has, e.g. `sleeping@60000ms 20, flaky@45000ms 10, always-on 70`. */
export function describeProfiles(plan: ProfilePlan, count: number): string {
  const dealt = dealProfiles(plan, count);
  const counted = (name: ProfileName) => dealt.filter((d) => d.profile === name).length;
  return [...plan.map((t) => `${t.profile}@${t.periodMs}ms on ${counted(t.profile)}`), `always-on on ${counted('always-on')}`].join(', ') + ` of ${count}`;
}

/** The grammar and every profile, for `--help`. */
export function profileHelp(): string {
  const width = Math.max(...Object.keys(PROFILES).map((n) => n.length));
  return [
    'Device profiles (--profiles): comma-separated profile[@<n>s|ms][=share%]; the rest are always-on, e.g.',
    '  --profiles sleeping@60s=20%,flaky@45s=10%,slow@2s=5%',
    'Each device has one profile, dealt out evenly by index.',
    ...Object.entries(PROFILES).map(([name, text]) => `  ${name.padEnd(width)}  ${text}`),
  ].join('\n');
}
