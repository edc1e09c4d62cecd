import { useEffect, useState } from 'preact/hooks';
import { api, errorText } from '../api';
import { Empty, TableHead } from '../components/ui';
import { useGatewayEvents } from '../events';
import { time, value as showValue } from '../format';
import { objectDefinition, type ResourceDefinition } from '../objects';
import { useCan } from '../session';
import type { JsonRecord, Link as LinkFormat, OperationResult } from '../types';

/**
 * A device's object tree as Leshan's demo shows it: the objects it registered, their instances
 * and resources named from the OMA registry; discover, then read, write, execute and observe,
 * with values arriving live as the device notifies (device.notification on the event stream).
 */

interface Value {
  value: JsonRecord['value'];
  type: string;
  at: number;
}
interface Outcome {
  text: string;
  ok: boolean;
  at: number;
}

const DANGEROUS = new Set(['/3/0/4', '/3/0/5', '/5/0/2']);

function parse(path: string): number[] {
  return path.split('/').filter(Boolean).map(Number);
}

/** The object ids and instances a device announced, from its registration's object links. */
function registeredObjects(objects: string[]): Map<number, number[]> {
  const out = new Map<number, number[]>();
  for (const target of objects) {
    const m = /^\/(\d+)(?:\/(\d+))?$/.exec(target);
    if (!m) continue;
    const o = Number(m[1]);
    const list = out.get(o) ?? [];
    if (m[2] !== undefined) list.push(Number(m[2]));
    out.set(o, list);
  }
  return new Map([...out.entries()].sort((a, b) => a[0] - b[0]));
}

function outcomeOf(r: OperationResult): Outcome {
  // codeText already leads with the code: "2.05 Content".
  return { text: `${r.codeText}${r.message ? `: ${r.message}` : ''}`, ok: r.success, at: Date.now() };
}

export function ObjectTree({ endpoint, objects, online }: { endpoint: string; objects: string[]; online: boolean }) {
  const canOperate = useCan('operator');
  const registered = registeredObjects(objects);
  const ids = [...registered.keys()];
  const [selected, setSelected] = useState<number | undefined>(ids.includes(3) ? 3 : ids[0]);
  const [discovered, setDiscovered] = useState(new Map<number, LinkFormat[]>());
  const [values, setValues] = useState(new Map<string, Value>());
  const [outcomes, setOutcomes] = useState(new Map<string, Outcome>());
  const [observed, setObserved] = useState(new Set<string>());
  const [busy, setBusy] = useState(new Set<string>());
  const [editing, setEditing] = useState<{ path: string; text: string } | undefined>(undefined);

  const store = (records: JsonRecord[] | undefined) => {
    if (!records?.length) return;
    const at = Date.now();
    setValues((m) => {
      const next = new Map(m);
      for (const r of records) next.set(r.path, { value: r.value, type: r.type, at });
      return next;
    });
  };
  const note = (path: string, o: Outcome) => setOutcomes((m) => new Map(m).set(path, o));
  const track = async (key: string, path: string, run: () => Promise<OperationResult>) => {
    setBusy((s) => new Set(s).add(key));
    try {
      const r = await run();
      note(path, outcomeOf(r));
      store(r.content);
      return r;
    } catch (err) {
      note(path, { text: errorText(err), ok: false, at: Date.now() });
      return undefined;
    } finally {
      setBusy((s) => {
        const next = new Set(s);
        next.delete(key);
        return next;
      });
    }
  };

  const discover = async (objectId: number) => {
    const r = await track(`discover /${objectId}`, `/${objectId}`, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/discover`, { path: `/${objectId}` }));
    if (r?.success && r.links) setDiscovered((m) => new Map(m).set(objectId, r.links!));
    return r?.success === true;
  };
  const read = (path: string) => track(`read ${path}`, path, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/read`, { path }));
  const observe = async (path: string) => {
    const r = await track(`observe ${path}`, path, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/observe`, { path }));
    if (r?.success) setObserved((s) => new Set(s).add(path));
  };
  const cancelObserve = async (path: string) => {
    const r = await track(`observe ${path}`, path, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/cancel-observe`, { path }));
    if (r) {
      setObserved((s) => {
        const next = new Set(s);
        next.delete(path);
        return next;
      });
    }
  };
  const execute = (path: string, name: string) => {
    if (DANGEROUS.has(path) && !window.confirm(`Execute ${name} (${path}) on ${endpoint}?`)) return;
    void track(`execute ${path}`, path, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/execute`, { path }));
  };
  const write = async (path: string, text: string, def: ResourceDefinition | undefined) => {
    const r = await track(`write ${path}`, path, () => api.post<OperationResult>(`/api/v1/devices/${encodeURIComponent(endpoint)}/write`, { path, value: text }));
    if (r?.success) {
      setEditing(undefined);
      if (def && def.operations === 'RW') void read(path);
    }
  };

  // Discover the selected object once (which instances and resources it really has), then read
  // it, as an operator opening it would; a device that is not online is left alone until asked.
  useEffect(() => {
    if (selected === undefined || discovered.has(selected) || !online) return;
    void discover(selected).then((ok) => {
      if (ok) void read(`/${selected}`);
    });
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [selected, online]);

  useGatewayEvents((e) => {
    if (e.type === 'device.notification' && e.endpoint === endpoint) store(e.content);
  });

  if (ids.length === 0) return <Empty>The device has not announced any object yet.</Empty>;

  const isBusy = (key: string) => busy.has(key);
  const def = selected !== undefined ? objectDefinition(selected) : undefined;
  const links = selected !== undefined ? discovered.get(selected) : undefined;
  const instances = (() => {
    if (selected === undefined) return [];
    const set = new Set<number>(registered.get(selected) ?? []);
    for (const l of links ?? []) {
      const p = parse(l.target);
      if (p.length >= 2) set.add(p[1]!);
    }
    for (const path of values.keys()) {
      const p = parse(path);
      if (p[0] === selected && p.length >= 2) set.add(p[1]!);
    }
    if (set.size === 0) set.add(0);
    return [...set].sort((a, b) => a - b);
  })();

  /** Resources of one instance: those discovered, else every one the model defines. */
  const resourcesOf = (instance: number): { id: number; def: ResourceDefinition | undefined; dim: string | null | undefined }[] => {
    if (links) {
      return links
        .map((l) => ({ l, p: parse(l.target) }))
        .filter(({ p }) => p.length === 3 && p[1] === instance)
        .map(({ l, p }) => ({ id: p[2]!, def: def?.resources.find((r) => r.id === p[2]), dim: l.attributes.dim }));
    }
    return (def?.resources ?? []).map((r) => ({ id: r.id, def: r, dim: undefined }));
  };

  const valueOf = (path: string): { text: string; at: number } | undefined => {
    const single = values.get(path);
    if (single) return { text: showValue(single.value, single.type), at: single.at };
    const prefix = `${path}/`;
    const parts = [...values.entries()].filter(([p]) => p.startsWith(prefix));
    if (parts.length === 0) return undefined;
    return {
      text: parts
        .sort((a, b) => parse(a[0])[3]! - parse(b[0])[3]!)
        .map(([p, v]) => `[${parse(p)[3]}] ${showValue(v.value, v.type)}`)
        .join('  '),
      at: Math.max(...parts.map(([, v]) => v.at)),
    };
  };

  return (
    <div class="tree">
      <nav class="tree-objects" aria-label="objects">
        {ids.map((id) => (
          <button type="button" class={id === selected ? 'tree-object active' : 'tree-object'} onClick={() => setSelected(id)} data-object={id}>
            <span class="oid">/{id}</span>
            <span>{objectDefinition(id)?.name ?? 'unknown object'}</span>
          </button>
        ))}
      </nav>
      {selected !== undefined && (
        <div class="tree-detail" data-testid="object-detail">
          <div class="tree-head">
            <h3>
              /{selected} {def?.name ?? 'Unknown object'}{' '}
              {def && (
                <span class="muted">
                  v{def.objectVersion} · {def.multiple ? 'multiple instances' : 'single instance'}
                </span>
              )}
            </h3>
            <div class="btn-row">
              <button type="button" class="btn" disabled={isBusy(`discover /${selected}`)} onClick={() => void discover(selected)}>
                Discover
              </button>
              <button type="button" class="btn" disabled={isBusy(`read /${selected}`)} onClick={() => void read(`/${selected}`)}>
                Read all
              </button>
            </div>
          </div>
          {outcomes.get(`/${selected}`) && !outcomes.get(`/${selected}`)!.ok && <div class="error">{outcomes.get(`/${selected}`)!.text}</div>}
          {!links && <p class="muted small">Not discovered yet: the resources the model defines are listed.</p>}
          {instances.map((instance) => {
            const ipath = `/${selected}/${instance}`;
            const iOutcome = outcomes.get(ipath);
            return (
              <div class="instance" data-instance={ipath}>
                <div class="instance-head">
                  <strong>Instance {ipath}</strong>
                  <button type="button" class="btn small" disabled={isBusy(`read ${ipath}`)} onClick={() => void read(ipath)}>
                    Read
                  </button>
                  {canOperate &&
                    (observed.has(ipath) ? (
                      <button type="button" class="btn small on" onClick={() => void cancelObserve(ipath)}>
                        Stop observing
                      </button>
                    ) : (
                      <button type="button" class="btn small" disabled={isBusy(`observe ${ipath}`)} onClick={() => void observe(ipath)}>
                        Observe
                      </button>
                    ))}
                  {iOutcome && <span class={iOutcome.ok ? 'muted small' : 'error-text small'}>{iOutcome.text}</span>}
                </div>
                <table class="table compact resources" aria-label={`resources of ${ipath}`}>
                  <TableHead columns={[['ID', 'num'], 'Resource', 'Value', 'Ops', '']} />
                  <tbody>
                    {resourcesOf(instance).map(({ id, def: r, dim }) => {
                      const path = `${ipath}/${id}`;
                      const ops = r?.operations ?? (links ? 'R' : '');
                      const readable = ops === 'R' || ops === 'RW';
                      const writable = ops === 'W' || ops === 'RW';
                      const executable = ops === 'E';
                      const v = valueOf(path);
                      const o = outcomes.get(path);
                      const name = r?.name.trim() ?? `Resource ${id}`;
                      return (
                        <tr data-path={path}>
                          <td class="num mono">{id}</td>
                          <td title={`${path}${r ? ` · ${r.type}${r.units ? ` (${r.units})` : ''}${r.multiple ? ' · multiple' : ''}` : ''}${dim ? ` · ${dim} instances` : ''}`}>
                            {name}
                            {r?.units && <span class="muted small"> {r.units === '/100' ? '%' : r.units}</span>}
                          </td>
                          <td class="value-cell">
                            {editing?.path === path ? (
                              <form
                                class="inline-edit"
                                onSubmit={(e) => {
                                  e.preventDefault();
                                  void write(path, editing.text, r);
                                }}
                              >
                                {r?.type === 'boolean' ? (
                                  <select value={editing.text} onChange={(e) => setEditing({ path, text: e.currentTarget.value })} aria-label={`new value of ${path}`}>
                                    <option value="true">true</option>
                                    <option value="false">false</option>
                                  </select>
                                ) : (
                                  <input autoFocus value={editing.text} onInput={(e) => setEditing({ path, text: e.currentTarget.value })} aria-label={`new value of ${path}`} placeholder={r?.type} />
                                )}
                                <button type="submit" class="btn small btn-primary" disabled={isBusy(`write ${path}`)}>
                                  Write
                                </button>
                                <button type="button" class="btn small" onClick={() => setEditing(undefined)}>
                                  Cancel
                                </button>
                              </form>
                            ) : (
                              <>
                                {v && (
                                  <span class="value fresh" key={v.at} title={`at ${time(v.at)}`} data-testid="value">
                                    {v.text}
                                  </span>
                                )}
                                {observed.has(path) && <span class="observing" title="observed: values arrive as the device notifies">●</span>}
                                {o && <span class={o.ok ? 'muted small outcome' : 'error-text small outcome'}>{o.text}</span>}
                              </>
                            )}
                          </td>
                          <td class="mono muted">{ops || '–'}</td>
                          <td class="actions">
                            {readable && (
                              <button type="button" class="btn small" disabled={isBusy(`read ${path}`)} onClick={() => void read(path)} aria-label={`read ${path}`}>
                                Read
                              </button>
                            )}
                            {readable &&
                              canOperate &&
                              (observed.has(path) ? (
                                <button type="button" class="btn small on" onClick={() => void cancelObserve(path)} aria-label={`stop observing ${path}`}>
                                  Stop
                                </button>
                              ) : (
                                <button type="button" class="btn small" disabled={isBusy(`observe ${path}`)} onClick={() => void observe(path)} aria-label={`observe ${path}`}>
                                  Observe
                                </button>
                              ))}
                            {writable && canOperate && editing?.path !== path && (
                              <button
                                type="button"
                                class="btn small"
                                onClick={() => setEditing({ path, text: v?.text ?? (r?.type === 'boolean' ? 'true' : '') })}
                                aria-label={`write ${path}`}
                              >
                                Write
                              </button>
                            )}
                            {executable && canOperate && (
                              <button type="button" class="btn small btn-warn" disabled={isBusy(`execute ${path}`)} onClick={() => execute(path, name)} aria-label={`execute ${path}`}>
                                Execute
                              </button>
                            )}
                          </td>
                        </tr>
                      );
                    })}
                  </tbody>
                </table>
              </div>
            );
          })}
        </div>
      )}
    </div>
  );
}
