import type { ComponentChildren } from 'preact';
import { api, query } from '../api';
import { useLive, useStreamState } from '../events';
import { Link, useLocation } from '../router';
import { roleAllows, useSession } from '../session';
import type { Alarm, Page, Role } from '../types';
import { ActionButton } from './ui';

/** The main navigation, each entry for a role at least: a viewer is not offered what it may not do. */
const NAV: readonly (readonly [string, string, Role])[] = [
  ['/', 'Overview', 'viewer'],
  ['/devices', 'Devices', 'viewer'],
  ['/fleet', 'Fleet commands', 'operator'],
  ['/firmware', 'Firmware & rollouts', 'viewer'],
  ['/alarms', 'Alarms', 'viewer'],
  ['/audit', 'Audit log', 'viewer'],
  ['/accounting', 'Accounting', 'viewer'],
  ['/operators', 'Operators', 'admin'],
];

function active(href: string, path: string): boolean {
  if (href === '/') return path === '/';
  return path === href || path.startsWith(`${href}/`) || (href === '/firmware' && path.startsWith('/rollouts'));
}

function LiveIndicator() {
  const state = useStreamState();
  const text = { live: 'live', connecting: 'connecting…', down: 'offline' }[state];
  return (
    <span class={`live live-${state}`} title="the gateway's event stream" data-testid="live">
      <span class="dot" /> {text}
    </span>
  );
}

function OpenAlarmCount() {
  const open = useLive(
    () => api.get<Page<Alarm>>(`/api/v1/alarms${query({ state: 'active', limit: 1 })}`),
    [],
    { affects: (e) => e.type.startsWith('alarm.'), minIntervalMs: 2000 },
  );
  const n = open.data?.total ?? 0;
  return n > 0 ? <span class="count" title={`${n} active alarms`}>{n}</span> : null;
}

export function Layout({ children, onLogout }: { children: ComponentChildren; onLogout: () => Promise<void> }) {
  const { path } = useLocation();
  const session = useSession();
  return (
    <div class="shell">
      <header class="topbar">
        <Link href="/" class="brand">
          edgedm
        </Link>
        <nav class="nav" aria-label="main">
          {NAV.filter(([, , role]) => roleAllows(session.role, role)).map(([href, text]) => (
            <Link href={href} class={active(href, path) ? 'active' : undefined} aria-current={active(href, path) ? 'page' : undefined}>
              {text}
              {href === '/alarms' && <OpenAlarmCount />}
            </Link>
          ))}
        </nav>
        <div class="user">
          <LiveIndicator />
          <Link href="/account" class={`who${path === '/account' ? ' active' : ''}`} data-testid="who" title="My account: password and API tokens">
            <strong>{session.username}</strong> <span class={`role role-${session.role}`}>{session.role}</span>
          </Link>
          <ActionButton onClick={onLogout} kind="plain">
            Log out
          </ActionButton>
        </div>
      </header>
      <main class="content">{children}</main>
    </div>
  );
}
