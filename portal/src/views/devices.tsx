import { useEffect, useState } from 'preact/hooks';
import { api, getAll, query } from '../api';
import { Badge, Empty, ErrorBox, Labels, Loading, Pager, Panel, TableHead } from '../components/ui';
import { useLive, useNow } from '../events';
import { ago } from '../format';
import { devicePath, Link, setQueryOffset, setQuery, useLocation } from '../router';
import { DEVICE_STATUSES, TRANSPORTS, type Device, type Page } from '../types';

const PAGE = 50;

/** A value as the target grammar takes it (docs/targets.md): quoted when it holds a space, a comma or a quote. */
export function targetValue(v: string): string {
  return /[\s,"]/.test(v) ? `"${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"` : v;
}

export interface DeviceFilter {
  q: string;
  status: string;
  transport: string;
  tag: string;
  group: string;
  fw: string;
  model: string;
  expr: string;
}

/** The filters as target terms, ANDed; the search is added by the caller (it matches endpoint or serial). */
export function filterTerms(f: DeviceFilter): string[] {
  const terms: string[] = [];
  if (f.status) terms.push(`status:${f.status}`);
  if (f.transport) terms.push(`transport:${f.transport}`);
  if (f.tag) terms.push(`tag:${targetValue(f.tag)}`);
  if (f.group) terms.push(`group:${targetValue(f.group)}`);
  if (f.fw) terms.push(`fw:${targetValue(f.fw)}`);
  if (f.model) terms.push(`model:${targetValue(f.model)}`);
  if (f.expr.trim()) terms.push(f.expr.trim());
  return terms;
}

/** `sim-00` → `*sim-00*`: a search matches anywhere, unless it has its own `*`. */
function searchGlob(q: string): string {
  return targetValue(q.includes('*') ? q : `*${q}*`);
}

/**
 * The search matches an endpoint or a serial number. The target grammar ANDs its terms, so the
 * two are asked separately (`id:*q* …` and `serial:*q* …`) and the pages merged in endpoint order.
 */
async function searchDevices(f: DeviceFilter, offset: number, signal: AbortSignal): Promise<Page<Device> & { target: string }> {
  const rest = filterTerms(f);
  const q = f.q.trim();
  if (!q) {
    const target = rest.join(' ') || 'all';
    const page = await api.get<Page<Device>>(`/api/v1/devices${query({ target, offset, limit: PAGE })}`, signal);
    return { ...page, target };
  }
  const targets = [`id:${searchGlob(q)}`, `serial:${searchGlob(q)}`].map((t) => [t, ...rest].join(' '));
  const pages = await Promise.all(targets.map((target) => api.get<Page<Device>>(`/api/v1/devices${query({ target, offset: 0, limit: Math.min(offset + PAGE, 10_000) })}`, signal)));
  const merged = new Map<string, Device>();
  for (const p of pages) for (const d of p.items) merged.set(d.endpoint, d);
  const sorted = [...merged.values()].sort((a, b) => (a.endpoint < b.endpoint ? -1 : a.endpoint > b.endpoint ? 1 : 0));
  const overlap = pages[0]!.items.length + pages[1]!.items.length - merged.size;
  const total = (pages[0]!.total ?? pages[0]!.items.length) + (pages[1]!.total ?? pages[1]!.items.length) - overlap;
  return { items: sorted.slice(offset, offset + PAGE), total, offset, limit: PAGE, target: `${targets[0]}  |  ${targets[1]}` };
}

function useOptions(path: string): string[] {
  const [names, setNames] = useState<string[]>([]);
  useEffect(() => {
    getAll<{ name: string }>(path).then((items) => setNames(items.map((i) => i.name).sort()), () => setNames([]));
  }, [path]);
  return names;
}

export function DevicesView() {
  const { query: q } = useLocation();
  const filter: DeviceFilter = {
    q: q.get('q') ?? '',
    status: q.get('status') ?? '',
    transport: q.get('transport') ?? '',
    tag: q.get('tag') ?? '',
    group: q.get('group') ?? '',
    fw: q.get('fw') ?? '',
    model: q.get('model') ?? '',
    expr: q.get('expr') ?? '',
  };
  const offset = Number(q.get('offset') ?? 0) || 0;
  const [search, setSearch] = useState(filter.q);
  const [expr, setExpr] = useState(filter.expr);
  const tags = useOptions('/api/v1/tags');
  const groups = useOptions('/api/v1/groups');
  const now = useNow(10_000);

  useEffect(() => setSearch(filter.q), [filter.q]);

  const key = JSON.stringify(filter);
  const list = useLive((signal) => searchDevices(filter, offset, signal), [key, offset], {
    // Statuses, registrations and identities change under the filter: reload the page, at most every 2 s.
    affects: (e) => e.type === 'device.status' || e.type === 'device.registered' || e.type === 'device.info',
    minIntervalMs: 2000,
  });

  const set = (k: keyof DeviceFilter, v: string) => setQuery({ [k]: v, offset: undefined });
  const select = (k: keyof DeviceFilter, label: string, options: readonly string[]) => (
    <label class="field">
      {label}
      <select name={k} value={filter[k]} onChange={(e) => set(k, e.currentTarget.value)}>
        <option value="">any</option>
        {options.map((o) => (
          <option value={o}>{o}</option>
        ))}
      </select>
    </label>
  );

  return (
    <Panel title="Devices" actions={list.data && <span class="muted">{list.data.total?.toLocaleString('en-US')} matching</span>}>
      <form
        class="filters"
        role="search"
        onSubmit={(e) => {
          e.preventDefault();
          setQuery({ q: search.trim() || undefined, expr: expr.trim() || undefined, offset: undefined });
        }}
      >
        <label class="field grow">
          Search
          <input type="search" name="q" placeholder="endpoint or serial number" value={search} onInput={(e) => setSearch(e.currentTarget.value)} />
        </label>
        {select('status', 'Status', DEVICE_STATUSES)}
        {select('transport', 'Transport', TRANSPORTS)}
        {select('tag', 'Tag', tags)}
        {select('group', 'Group', groups)}
        <label class="field">
          Firmware
          <input name="fw" placeholder="1.2.*" value={filter.fw} onChange={(e) => set('fw', e.currentTarget.value.trim())} />
        </label>
        <label class="field">
          Model
          <input name="model" placeholder="EDM-TH1" value={filter.model} onChange={(e) => set('model', e.currentTarget.value.trim())} />
        </label>
        <label class="field grow">
          More terms
          <input name="expr" placeholder='e.g. !tag:rooftop id:th1-*' value={expr} onInput={(e) => setExpr(e.currentTarget.value)} />
        </label>
        <button type="submit" class="btn btn-primary">
          Search
        </button>
      </form>
      {list.data && (
        <p class="target-line">
          target <code data-testid="target">{list.data.target}</code>
        </p>
      )}
      <ErrorBox error={list.error} />
      {list.loading && !list.data ? (
        <Loading />
      ) : list.data && list.data.items.length === 0 ? (
        <Empty>No device matches.</Empty>
      ) : (
        list.data && (
          <>
            <div class="table-wrap">
              <table class="table" aria-label="devices">
                <TableHead columns={['Endpoint', 'Status', 'Transport', 'Model', 'Serial number', 'Firmware', 'Tags', 'Groups', 'Last seen']} />
                <tbody>
                  {list.data.items.map((d) => (
                    <tr data-endpoint={d.endpoint}>
                      <td>
                        <Link href={devicePath(d.endpoint)}>{d.endpoint}</Link>
                      </td>
                      <td>
                        <Badge value={d.status} />
                      </td>
                      <td>{d.transport ?? '—'}</td>
                      <td>{d.model ?? '—'}</td>
                      <td class="mono">{d.serialNumber ?? '—'}</td>
                      <td>{d.firmwareVersion ?? '—'}</td>
                      <td>
                        <Labels values={d.tags} kind="tag" />
                      </td>
                      <td>
                        <Labels values={d.groups} kind="group" />
                      </td>
                      <td title={d.lastSeen ?? ''}>{ago(d.lastSeen, now)}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager offset={offset} limit={PAGE} total={list.data.total} onChange={setQueryOffset} />
          </>
        )
      )}
    </Panel>
  );
}
