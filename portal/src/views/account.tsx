import { useRef, useState } from 'preact/hooks';
import { api, query } from '../api';
import { ActionButton, Badge, Empty, ErrorBox, ErrorText, KeyValues, Loading, Pager, Panel, TableHead, useAction } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago, time } from '../format';
import { changePassword, useSession } from '../session';
import type { ApiToken, Page } from '../types';

/** "My account": the operator's own password and API tokens (any role). */

const MIN_PASSWORD = 10;

/** A secret shown once: selectable text, a copy button, and what happens when the page is left. */
function SecretOnce({ secret, name, onDone }: { secret: string; name: string; onDone: () => void }) {
  const input = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<'yes' | 'select' | undefined>(undefined);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(secret);
      setCopied('yes');
    } catch {
      // No clipboard API (plain HTTP to another host): select it for Ctrl+C.
      input.current?.select();
      setCopied(document.execCommand?.('copy') ? 'yes' : 'select');
    }
  };
  return (
    <div class="secret" role="status" data-testid="new-token">
      <p>
        <strong>Token “{name}” created.</strong> Copy it now: the gateway keeps only its hash and cannot show it again. Send it as{' '}
        <code>Authorization: Bearer …</code>; it acts with your role.
      </p>
      <div class="secret-row">
        <input ref={input} class="mono" readOnly value={secret} aria-label="new token secret" onFocus={(e) => e.currentTarget.select()} />
        <button type="button" class="btn btn-primary" onClick={copy}>
          Copy
        </button>
        <button type="button" class="btn" onClick={onDone}>
          Done
        </button>
        {copied === 'yes' && <span class="muted small">copied</span>}
        {copied === 'select' && <span class="muted small">selected: press Ctrl+C</span>}
      </div>
    </div>
  );
}

/** Tokens with their revoke button: the operator's own, or (for an admin) everyone's. */
export function TokenTable({ tokens, showOwner = false, onRevoked }: { tokens: ApiToken[]; showOwner?: boolean; onRevoked: (id: string) => void }) {
  const now = useNow(30_000);
  if (tokens.length === 0) return <Empty>No token.</Empty>;
  return (
    <div class="table-wrap">
      <table class="table compact" aria-label={showOwner ? 'all tokens' : 'my tokens'}>
        <TableHead columns={[showOwner && 'Operator', 'Name', 'Kind', 'Created', 'Expires', 'Last used', '']} />
        <tbody>
          {tokens.map((t) => (
            <tr data-token={t.id} data-name={t.name}>
              {showOwner && <td>{t.username}</td>}
              <td class="wrap">
                {t.name} <span class="muted mono small">{t.id}</span>
              </td>
              <td>
                <Badge value={t.kind} />
              </td>
              <td title={time(t.createdAt)}>{ago(t.createdAt, now)}</td>
              <td>{t.expiresAt ? time(t.expiresAt) : 'never'}</td>
              <td>{t.lastUsedAt ? ago(t.lastUsedAt, now) : 'never'}</td>
              <td class="actions">
                <ActionButton
                  kind="danger"
                  aria-label={`revoke ${t.name}`}
                  confirm={
                    t.kind === 'session'
                      ? `End the login session "${t.name}"${showOwner ? ` of ${t.username}` : ''}? If it is this browser's, you are logged out.`
                      : `Revoke the token "${t.name}"${showOwner ? ` of ${t.username}` : ''}? Scripts using it stop working at once.`
                  }
                  onClick={async () => {
                    await api.del(`/api/v1/tokens/${encodeURIComponent(t.id)}`);
                    onRevoked(t.id);
                  }}
                >
                  {t.kind === 'session' ? 'End' : 'Revoke'}
                </ActionButton>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function ChangePassword() {
  const session = useSession();
  const [current, setCurrent] = useState('');
  const [next, setNext] = useState('');
  const [again, setAgain] = useState('');
  const [changed, setChanged] = useState(false);
  const { busy, error, run, setError } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    setChanged(false);
    if (next !== again) {
      setError('The new passwords differ.');
      return;
    }
    void run(async () => {
      await changePassword(current, next);
      setCurrent('');
      setNext('');
      setAgain('');
      setChanged(true);
    });
  };
  const message = error !== undefined ? { ok: false, text: error } : changed ? { ok: true, text: 'Password changed. Your other login sessions have ended; API tokens still work.' } : undefined;
  return (
    <form class="form-grid form-narrow" onSubmit={submit} aria-label="change password">
      <input type="text" name="username" autocomplete="username" value={session.username} readOnly hidden />
      <label class="field span-all">
        Current password
        <input name="currentPassword" type="password" autocomplete="current-password" required value={current} onInput={(e) => setCurrent(e.currentTarget.value)} />
      </label>
      <label class="field span-2">
        New password
        <input name="newPassword" type="password" autocomplete="new-password" required minLength={MIN_PASSWORD} value={next} onInput={(e) => setNext(e.currentTarget.value)} />
      </label>
      <label class="field span-2">
        New password again
        <input name="newPasswordAgain" type="password" autocomplete="new-password" required minLength={MIN_PASSWORD} value={again} onInput={(e) => setAgain(e.currentTarget.value)} />
      </label>
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Changing…' : 'Change password'}
        </button>
        <span class="muted small">at least {MIN_PASSWORD} characters</span>
      </div>
      {message && (
        <div class={`span-all ${message.ok ? 'ok-text' : 'error-text'}`} role={message.ok ? 'status' : 'alert'} data-testid="password-result">
          {message.text}
        </div>
      )}
    </form>
  );
}

function MyTokens() {
  const [offset, setOffset] = useState(0);
  const tokens = useLive(() => api.get<Page<ApiToken>>(`/api/v1/tokens${query({ offset, limit: 50 })}`), [offset]);
  const [name, setName] = useState('');
  const [days, setDays] = useState('90');
  const { busy, error, run } = useAction();
  const [created, setCreated] = useState<{ token: string; name: string } | undefined>(undefined);
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      const answer = await api.post<{ token: string; info: ApiToken }>('/api/v1/tokens', { name: name.trim(), ...(days.trim() ? { expiresInDays: Number(days) } : {}) });
      setCreated({ token: answer.token, name: answer.info.name });
      setName('');
      tokens.reload();
    });
  };
  return (
    <Panel title="My API tokens" class="span-2" id="tokens">
      <p class="muted small">For scripts and the CLI. Login sessions (this browser's among them) are listed too; ending one logs that browser out.</p>
      {created && <SecretOnce secret={created.token} name={created.name} onDone={() => setCreated(undefined)} />}
      <form class="filters" onSubmit={submit} aria-label="create token">
        <label class="field grow">
          Name
          <input name="tokenName" required maxLength={100} placeholder="e.g. nightly export" value={name} onInput={(e) => setName(e.currentTarget.value)} />
        </label>
        <label class="field">
          Expires in days
          <input name="expiresInDays" type="number" min="1" max="3650" placeholder="never" value={days} onInput={(e) => setDays(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn btn-primary" disabled={busy || !name.trim()}>
          Create token
        </button>
        <ErrorText error={error} />
      </form>
      <ErrorBox error={tokens.error} />
      {tokens.data ? (
        <>
          <TokenTable tokens={tokens.data.items} onRevoked={() => tokens.reload()} />
          {(tokens.data.total ?? 0) > 50 && <Pager offset={offset} limit={50} total={tokens.data.total} onChange={setOffset} />}
        </>
      ) : (
        !tokens.error && <Loading />
      )}
    </Panel>
  );
}

export function AccountView() {
  const session = useSession();
  return (
    <div class="grid">
      <Panel title="My account">
        <KeyValues
          rows={[
            ['Username', <strong>{session.username}</strong>],
            ['Role', <span class={`role role-${session.role}`}>{session.role}</span>],
            [
              'May',
              session.role === 'admin'
                ? 'everything: also operators, alarm rules, device identities'
                : session.role === 'operator'
                  ? 'read, write, execute, observe; fleet commands, rollouts, firmware; acknowledge alarms'
                  : 'read everything, read and discover on devices',
            ],
          ]}
        />
      </Panel>
      <Panel title="Change password">
        <ChangePassword />
      </Panel>
      <MyTokens />
    </div>
  );
}
