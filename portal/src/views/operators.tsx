import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { ActionButton, ActionError, ErrorBox, ErrorText, Loading, Pager, Panel, TableHead, useAction } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago, time } from '../format';
import { useCan, useSession } from '../session';
import { ROLES, type ApiToken, type OperatorAccount, type Page, type Role } from '../types';
import { TokenTable } from './account';

/** Operator accounts (admin): create, change role, set a password, delete; and everyone's tokens. */

const MIN_PASSWORD = 10;
const PAGE = 100;

/** 16 random characters an admin hands over with the account (the operator changes it in "My account"). */
function randomPassword(): string {
  const alphabet = 'abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789';
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => alphabet[b % alphabet.length]).join('');
}

function RoleSelect({ operator, onChange }: { operator: OperatorAccount; onChange: (o: OperatorAccount) => void }) {
  const { busy, error, run } = useAction();
  const change = async (e: Event) => {
    const select = e.currentTarget as HTMLSelectElement;
    const role = select.value as Role;
    const changed = await run(async () => onChange(await api.put<OperatorAccount>(`/api/v1/operators/${encodeURIComponent(operator.username)}`, { role })));
    if (!changed) select.value = operator.role; // refused (the last admin): show the role it still has
  };
  return (
    <span class="action">
      <select name="role" aria-label={`role of ${operator.username}`} value={operator.role} disabled={busy} onChange={change}>
        {ROLES.map((r) => (
          <option value={r}>{r}</option>
        ))}
      </select>
      <ActionError error={error} />
    </span>
  );
}

function SetPassword({ username, onDone }: { username: string; onDone: (set: boolean) => void }) {
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      await api.put(`/api/v1/operators/${encodeURIComponent(username)}`, { password });
      onDone(true);
    });
  };
  return (
    <form class="inline-edit" onSubmit={submit} aria-label={`new password for ${username}`}>
      <input name="password" type="text" autocomplete="off" required minLength={MIN_PASSWORD} placeholder="new password" value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <button type="button" class="btn small" onClick={() => setPassword(randomPassword())}>
        Generate
      </button>
      <button type="submit" class="btn small btn-primary" disabled={busy}>
        Set
      </button>
      <button type="button" class="btn small" onClick={() => onDone(false)}>
        Cancel
      </button>
      <ErrorText error={error} small />
    </form>
  );
}

function OperatorTable({
  operators,
  onChange,
  onPasswordSet,
  onDeleted,
}: {
  operators: OperatorAccount[];
  onChange: (o: OperatorAccount) => void;
  onPasswordSet: () => void;
  onDeleted: (username: string) => void;
}) {
  const me = useSession();
  const now = useNow(30_000);
  const [editing, setEditing] = useState<string | undefined>(undefined);
  const [done, setDone] = useState<string | undefined>(undefined);
  return (
    <div class="table-wrap">
      <table class="table middle" aria-label="operators">
        <TableHead columns={['Username', 'Role', 'Created', 'Changed', '']} />
        <tbody>
          {operators.map((o) => (
            <tr data-operator={o.username}>
              <td>
                <strong>{o.username}</strong>
                {o.username === me.username && <span class="muted"> (you)</span>}
              </td>
              <td>
                <RoleSelect operator={o} onChange={onChange} />
              </td>
              <td title={time(o.createdAt)}>{ago(o.createdAt, now)}</td>
              <td title={time(o.updatedAt)}>
                {ago(o.updatedAt, now)}
                {done === o.username && <span class="ok-text small"> · password set, sessions ended</span>}
              </td>
              <td class="actions">
                {editing === o.username ? (
                  <SetPassword
                    username={o.username}
                    onDone={(set) => {
                      setEditing(undefined);
                      if (!set) return;
                      setDone(o.username);
                      onPasswordSet();
                    }}
                  />
                ) : (
                  <>
                    <button type="button" class="btn" onClick={() => (setEditing(o.username), setDone(undefined))}>
                      Set password
                    </button>
                    <ActionButton
                      kind="danger"
                      aria-label={`delete ${o.username}`}
                      confirm={`Delete the operator ${o.username}? Its tokens and sessions end at once; the audit log keeps what it did.`}
                      onClick={async () => {
                        await api.del(`/api/v1/operators/${encodeURIComponent(o.username)}`);
                        onDeleted(o.username);
                      }}
                    >
                      Delete
                    </ActionButton>
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

function CreateOperator({ onCreated }: { onCreated: (o: OperatorAccount) => void }) {
  const [username, setUsername] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [password, setPassword] = useState('');
  const { busy, error, run } = useAction();
  const submit = (e: Event) => {
    e.preventDefault();
    void run(async () => {
      onCreated(await api.post<OperatorAccount>('/api/v1/operators', { username: username.trim(), role, password }));
      setUsername('');
      setPassword('');
    });
  };
  return (
    <form class="form-grid" onSubmit={submit} aria-label="create operator">
      <label class="field">
        Username
        <input name="username" required maxLength={64} autocomplete="off" value={username} onInput={(e) => setUsername(e.currentTarget.value)} />
      </label>
      <label class="field">
        Role
        <select name="role" value={role} onChange={(e) => setRole(e.currentTarget.value as Role)}>
          {ROLES.map((r) => (
            <option value={r}>{r}</option>
          ))}
        </select>
      </label>
      <label class="field span-2">
        Initial password
        <span class="input-with-button">
          <input name="password" type="text" autocomplete="off" required minLength={MIN_PASSWORD} placeholder={`at least ${MIN_PASSWORD} characters`} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
          <button type="button" class="btn" onClick={() => setPassword(randomPassword())}>
            Generate
          </button>
        </span>
      </label>
      <div class="form-actions span-all">
        <button type="submit" class="btn btn-primary" disabled={busy}>
          {busy ? 'Creating…' : 'Create operator'}
        </button>
        <span class="muted small">Hand the password over yourself; the operator changes it under “My account”.</span>
        <ErrorText error={error} />
      </div>
    </form>
  );
}

/** Everyone's tokens and sessions; `version` changes when an account did (a new password or a deletion ends some). */
function AllTokens({ version }: { version: number }) {
  const [offset, setOffset] = useState(0);
  const tokens = useLive(() => api.get<Page<ApiToken>>(`/api/v1/tokens${query({ all: true, offset, limit: PAGE })}`), [offset, version]);
  return (
    <Panel title={`Tokens and sessions of every operator${tokens.data?.total !== undefined ? ` · ${tokens.data.total}` : ''}`} class="span-2" id="all-tokens">
      <ErrorBox error={tokens.error} />
      {tokens.data ? (
        <>
          <TokenTable tokens={tokens.data.items} showOwner onRevoked={() => tokens.reload()} />
          {(tokens.data.total ?? 0) > PAGE && <Pager offset={offset} limit={PAGE} total={tokens.data.total} onChange={setOffset} />}
        </>
      ) : (
        !tokens.error && <Loading />
      )}
    </Panel>
  );
}

export function OperatorsView() {
  const isAdmin = useCan('admin');
  const [offset, setOffset] = useState(0);
  const operators = useLive(() => (isAdmin ? api.get<Page<OperatorAccount>>(`/api/v1/operators${query({ offset, limit: PAGE })}`) : Promise.resolve(undefined)), [offset, isAdmin]);
  if (!isAdmin) {
    return (
      <Panel title="Operators">
        <p>Operator accounts are managed by admins. Your own password and tokens are under “My account”.</p>
      </Panel>
    );
  }
  const [version, setVersion] = useState(0);
  const changed = () => setVersion((v) => v + 1);
  const list = operators.data;
  const replace = (o: OperatorAccount) => operators.mutate((d) => d && { ...d, items: d.items.map((x) => (x.username === o.username ? o : x)) });
  return (
    <div class="grid">
      <Panel title={`Operators${list?.total !== undefined ? ` · ${list.total}` : ''}`} class="span-2">
        <ErrorBox error={operators.error} />
        {list ? (
          <>
            <OperatorTable operators={list.items} onChange={replace} onPasswordSet={changed} onDeleted={() => (operators.reload(), changed())} />
            {(list.total ?? 0) > PAGE && <Pager offset={offset} limit={PAGE} total={list.total} onChange={setOffset} />}
          </>
        ) : (
          !operators.error && <Loading />
        )}
        <p class="muted small">An admin may not remove or demote the last admin. A new password or a deletion ends the operator's sessions at once.</p>
      </Panel>
      <Panel title="New operator" class="span-2" id="new-operator">
        <CreateOperator onCreated={() => operators.reload()} />
      </Panel>
      <AllTokens version={version} />
    </div>
  );
}
