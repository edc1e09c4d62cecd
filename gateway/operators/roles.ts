/**
 * Operator roles, each including the one before it:
 * - viewer: reads the fleet (devices, values, alarms, rollouts, audit, accounting);
 * - operator: also acts on devices (writes, executes, observations, fleet commands, rollouts, firmware, labels, alarms);
 * - admin: also manages operators and their tokens, alarm rules and the device registry's credentials.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** What a route needs: a role, or nothing at all (health, device-facing downloads, login). */
export type Access = Role | 'public';

export function isRole(value: unknown): value is Role {
  return typeof value === 'string' && (ROLES as readonly string[]).includes(value);
}

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}
