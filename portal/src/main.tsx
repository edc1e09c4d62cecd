import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { setUnauthorizedHandler } from './api';
import { Layout } from './components/layout';
import { lazyView } from './components/lazy';
import { ErrorBox, Loading } from './components/ui';
import { events } from './events';
import { match, useLocation } from './router';
import { fetchSession, logout, SessionContext, type Session } from './session';
import './styles.css';
import { AccountingView } from './views/accounting';
import { AlarmsView } from './views/alarms';
import { AuditView } from './views/audit';
import { DeviceView } from './views/device';
import { DevicesView } from './views/devices';
import { FirmwareView } from './views/firmware';
import { LoginView } from './views/login';
import { OverviewView } from './views/overview';
import { RolloutView } from './views/rollout';

// Views an operator or admin opens now and then come as chunks of their own, loaded on first use:
// the bundle every login loads stays the size of what everyone uses.
const FleetCommandsView = lazyView(() => import('./views/fleet-commands').then((m) => m.FleetCommandsView));
const FleetCommandView = lazyView(() => import('./views/fleet-command').then((m) => m.FleetCommandView));
const OperatorsView = lazyView(() => import('./views/operators').then((m) => m.OperatorsView));
const AccountView = lazyView(() => import('./views/account').then((m) => m.AccountView));

function Routes() {
  const { path } = useLocation();
  let params: Record<string, string> | undefined;
  if (path === '/' || path === '/login') return <OverviewView />;
  if (path === '/devices') return <DevicesView />;
  if ((params = match('/devices/:endpoint', path))) return <DeviceView key={params.endpoint} endpoint={params.endpoint!} />;
  if (path === '/firmware' || path === '/rollouts') return <FirmwareView />;
  if ((params = match('/rollouts/:id', path))) return <RolloutView key={params.id} id={params.id!} />;
  if (path === '/alarms') return <AlarmsView />;
  if (path === '/audit') return <AuditView />;
  if (path === '/accounting') return <AccountingView />;
  if (path === '/fleet') return <FleetCommandsView />;
  if ((params = match('/fleet/:id', path))) return <FleetCommandView key={params.id} id={params.id!} />;
  if (path === '/operators') return <OperatorsView />;
  if (path === '/account') return <AccountView />;
  return (
    <div class="panel">
      <div class="panel-body">
        <h2>Not found</h2>
        <p>There is no view at {path}.</p>
      </div>
    </div>
  );
}

function App() {
  // undefined: asking the gateway; null: nobody logged in.
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const [notice, setNotice] = useState<string | undefined>(undefined);
  const [fatal, setFatal] = useState<unknown>(undefined);

  const check = () => {
    setFatal(undefined);
    fetchSession().then(setSession, setFatal);
  };

  useEffect(() => {
    check();
    setUnauthorizedHandler(() => {
      setSession((s) => {
        if (s) setNotice('Your session has ended; log in again.');
        return null;
      });
    });
  }, []);

  useEffect(() => {
    if (session) events.start();
    else events.stop();
  }, [session]);

  if (fatal !== undefined) {
    return (
      <div class="login-page">
        <div class="login">
          <h1>edgedm</h1>
          <ErrorBox error={fatal} />
          <button type="button" class="btn btn-primary" onClick={check}>
            Retry
          </button>
        </div>
      </div>
    );
  }
  if (session === undefined) return <Loading />;
  if (session === null)
    return (
      <LoginView
        notice={notice}
        onLogin={(s) => {
          setNotice(undefined);
          setSession(s);
        }}
      />
    );
  return (
    <SessionContext.Provider value={session}>
      <Layout
        onLogout={async () => {
          await logout();
          setNotice(undefined);
          setSession(null);
        }}
      >
        <Routes />
      </Layout>
    </SessionContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
