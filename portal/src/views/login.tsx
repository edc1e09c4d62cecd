import { useState } from 'preact/hooks';
import { ApiError, errorText } from '../api';
import { ErrorBox, useAction } from '../components/ui';
import { login, type Session } from '../session';

function loginErrorText(err: unknown): string {
  if (err instanceof ApiError && err.code === 'invalid_credentials') return 'Wrong username or password.';
  if (err instanceof ApiError && err.status === 429) return err.message;
  return errorText(err);
}

/** POST /api/v1/auth/login; the gateway answers with the session cookie. */
export function LoginView({ onLogin, notice }: { onLogin: (s: Session) => void; notice?: string | undefined }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction(loginErrorText);

  const submit = async (e: Event) => {
    e.preventDefault();
    if (!(await run(async () => onLogin(await login(username.trim(), password))))) setPassword('');
  };

  return (
    <div class="login-page">
      <form class="login" onSubmit={submit} aria-label="log in">
        <h1>edgedm</h1>
        <p class="muted">Device management gateway · log in to continue</p>
        {notice && <div class="notice">{notice}</div>}
        <label>
          Username
          <input name="username" autocomplete="username" required autoFocus value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
        </label>
        <label>
          Password
          <input name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        </label>
        <ErrorBox error={error} />
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
