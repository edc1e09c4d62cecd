/** Display helpers: times, sizes, numbers. */

export function time(iso: string | number | null | undefined): string {
  if (iso === null || iso === undefined) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return '—';
  const now = new Date();
  const sameDay = d.toDateString() === now.toDateString();
  const hms = d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', second: '2-digit', hour12: false });
  return sameDay ? hms : `${d.toLocaleDateString([], { year: 'numeric', month: '2-digit', day: '2-digit' })} ${hms}`;
}

export function ago(iso: string | number | null | undefined, now = Date.now()): string {
  if (iso === null || iso === undefined) return '—';
  const t = new Date(iso).getTime();
  if (Number.isNaN(t)) return '—';
  const s = Math.round((now - t) / 1000);
  if (s < 5) return 'just now';
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.floor(s / 60)} min ago`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ago`;
  return `${Math.floor(s / 86_400)} d ago`;
}

export function bytes(n: number | null | undefined): string {
  if (n === null || n === undefined) return '—';
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function num(n: number | null | undefined): string {
  return n === null || n === undefined ? '—' : n.toLocaleString('en-US');
}

export function pct(part: number, whole: number): string {
  return whole > 0 ? `${Math.round((part / whole) * 100)} %` : '—';
}

/** A value as an operator reads it: opaque shown as text when it is printable, else as its size. */
export function value(v: unknown, type?: string): string {
  if (v === null || v === undefined) return '—';
  if (type === 'opaque' && typeof v === 'string') {
    const text = base64Text(v);
    return text !== undefined ? text : `<${Math.floor((v.length * 3) / 4)} bytes>`;
  }
  if (type === 'objlnk' && typeof v === 'object') {
    const l = v as { objectId: number; instanceId: number };
    return `${l.objectId}:${l.instanceId}`;
  }
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

/** UTF-8 text of a base64 value, or undefined when it is not printable text. */
export function base64Text(b64: string): string | undefined {
  try {
    const raw = atob(b64);
    const bytes = Uint8Array.from(raw, (c) => c.charCodeAt(0));
    const text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
    // eslint-disable-next-line no-control-regex
    return /[\u0000-\u0008\u000e-\u001f]/.test(text) ? undefined : text;
  } catch {
    return undefined;
  }
}

export function shortId(id: string, keep = 12): string {
  return id.length > keep ? `${id.slice(0, keep)}…` : id;
}
