import { useState } from 'preact/hooks';
import { ApiError, errorText } from '../api';
import { login, type Session } from '../session';

/** POST /api/v1/auth/login; the gateway answers with the session cookie. */
export function LoginView({ onLogin, notice }: { onLogin: (s: Session) => void; notice?: string | undefined }) {
  const [username, setUsername] = useState('');
  const [password, setPassword] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      onLogin(await login(username.trim(), password));
    } catch (err) {
      if (err instanceof ApiError && err.code === 'invalid_credentials') setError('Wrong username or password.');
      else if (err instanceof ApiError && err.status === 429) setError(err.message);
      else setError(errorText(err));
      setPassword('');
    } finally {
      setBusy(false);
    }
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
        {error && (
          <div class="error" role="alert">
            {error}
          </div>
        )}
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Logging in…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
