import { createContext, type ComponentChildren } from 'preact';
import { useContext } from 'preact/hooks';
import { api, ApiError } from './api';
import { ROLES, type Operator, type Role } from './types';

/**
 * Who is logged in. The session itself is the gateway's HttpOnly cookie `edgedm_session`
 * (set by POST /api/v1/auth/login): the portal never holds the token, it only asks
 * GET /api/v1/auth/me who the cookie belongs to.
 */
export type Session = Operator;

export function roleAllows(role: Role, needed: Role): boolean {
  return ROLES.indexOf(role) >= ROLES.indexOf(needed);
}

/** The current session, or null when nobody is logged in. */
export async function fetchSession(): Promise<Session | null> {
  try {
    const me = await api.get<Operator>('/api/v1/auth/me');
    return me;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) return null;
    throw err;
  }
}

export async function login(username: string, password: string): Promise<Session> {
  const answer = await api.post<{ operator: Operator }>('/api/v1/auth/login', { username, password });
  return answer.operator;
}

/** POST /api/v1/auth/password: the operator's own password; this browser's session stays, the operator's others end. */
export async function changePassword(currentPassword: string, newPassword: string): Promise<void> {
  await api.post('/api/v1/auth/password', { currentPassword, newPassword });
}

export async function logout(): Promise<void> {
  try {
    await api.post('/api/v1/auth/logout');
  } catch (err) {
    // Already logged out (401) is what we want anyway.
    if (!(err instanceof ApiError) || err.status !== 401) throw err;
  }
}

export const SessionContext = createContext<Session>({ username: '', role: 'viewer' });

export function useSession(): Session {
  return useContext(SessionContext);
}

export function useCan(needed: Role): boolean {
  return roleAllows(useSession().role, needed);
}

/** Its children only for a role at least `role`: what a viewer may not do is not shown. */
export function Allowed({ role, children }: { role: Role; children: ComponentChildren }) {
  return useCan(role) ? <>{children}</> : null;
}
