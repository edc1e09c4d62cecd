import { useState } from 'preact/hooks';
import { api, query } from '../api';
import { Badge, Empty, ErrorBox, Loading, Pager, Panel, TableHead } from '../components/ui';
import { useLive } from '../events';
import { time } from '../format';
import { setQueryOffset, setQuery, useLocation } from '../router';
import type { AuditEntry, Page } from '../types';

const PAGE = 100;

/** Who did what (GET /api/v1/audit): every state-changing request, allowed or refused. */
export function AuditView() {
  const { query: q } = useLocation();
  const actor = q.get('actor') ?? '';
  const action = q.get('action') ?? '';
  const offset = Number(q.get('offset') ?? 0) || 0;
  const [actorInput, setActor] = useState(actor);
  const [actionInput, setAction] = useState(action);
  // The audit log has no event of its own: any change an operator makes shows as one, so reload on them, calmly.
  const log = useLive(() => api.get<Page<AuditEntry>>(`/api/v1/audit${query({ actor, action, offset, limit: PAGE })}`), [actor, action, offset], {
    affects: (e) => e.type.startsWith('alarm.') || e.type === 'rollout.progress' || e.type === 'fleet.command.progress',
    minIntervalMs: 5000,
  });
  const csv = `/api/v1/audit${query({ actor, action, format: 'csv' })}`;
  return (
    <Panel
      title="Audit log"
      actions={
        <a class="btn" href={csv} download="edgedm-audit.csv">
          Download CSV
        </a>
      }
    >
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ actor: actorInput.trim(), action: actionInput.trim(), offset: undefined });
        }}
      >
        <label class="field">
          Actor
          <input name="actor" placeholder="username" value={actorInput} onInput={(e) => setActor(e.currentTarget.value)} />
        </label>
        <label class="field">
          Action
          <input name="action" placeholder="e.g. rollouts.create" value={actionInput} onInput={(e) => setAction(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn btn-primary">
          Filter
        </button>
      </form>
      <ErrorBox error={log.error} />
      {!log.data ? (
        log.error ? null : <Loading />
      ) : log.data.items.length === 0 ? (
        <Empty>No entry.</Empty>
      ) : (
        <>
          <div class="table-wrap">
            <table class="table compact" aria-label="audit log">
              <TableHead columns={['Time', 'Actor', 'Role', 'Action', 'Request', 'Target', ['Status', 'num'], 'Outcome']} />
              <tbody>
                {log.data.items.map((a) => (
                  <tr>
                    <td>{time(a.at)}</td>
                    <td>{a.actor ?? '—'}</td>
                    <td>{a.role ?? '—'}</td>
                    <td class="mono">{a.action}</td>
                    <td class="mono small">
                      {a.method} {a.path}
                    </td>
                    <td class="mono">{a.target ?? '—'}</td>
                    <td class="num">{a.status}</td>
                    <td>
                      <Badge value={a.outcome} />
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <Pager offset={offset} limit={PAGE} total={log.data.total} onChange={setQueryOffset} />
        </>
      )}
    </Panel>
  );
}
