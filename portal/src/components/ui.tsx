import type { ButtonHTMLAttributes, ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { errorText } from '../api';

/** Small shared pieces: panels, badges, buttons that show their own progress and failure. */

export function Panel(props: { title?: ComponentChildren; actions?: ComponentChildren; children: ComponentChildren; class?: string; id?: string }) {
  return (
    <section class={`panel ${props.class ?? ''}`} id={props.id} aria-label={typeof props.title === 'string' ? props.title : undefined}>
      {(props.title || props.actions) && (
        <header class="panel-head">
          <h2>{props.title}</h2>
          {props.actions && <div class="panel-actions">{props.actions}</div>}
        </header>
      )}
      <div class="panel-body">{props.children}</div>
    </section>
  );
}

/** A state word with its colour: device status, rollout / command / alarm states, severities. */
export function Badge({ value, title }: { value: string | null | undefined; title?: string }) {
  const v = value ?? 'unknown';
  return (
    <span class={`badge badge-${v.replace(/[^a-z0-9-]/gi, '')}`} title={title}>
      {v}
    </span>
  );
}

export function ErrorBox({ error, children }: { error: unknown; children?: ComponentChildren }) {
  if (!error && !children) return null;
  return (
    <div class="error" role="alert">
      {children ?? errorText(error)}
    </div>
  );
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <div class="empty">{children}</div>;
}

export function Loading() {
  return <div class="loading">Loading…</div>;
}

type ButtonProps = Omit<ButtonHTMLAttributes<HTMLButtonElement>, 'onClick' | 'disabled'> & {
  onClick: () => Promise<unknown> | unknown;
  kind?: 'primary' | 'danger' | 'plain';
  disabled?: boolean;
  /** Asked before running (destructive actions). */
  confirm?: string;
  children: ComponentChildren;
};

/** A button whose action may take a while: disabled while it runs, its error shown beside it. */
export function ActionButton({ onClick, kind = 'plain', confirm, children, disabled, ...rest }: ButtonProps) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(undefined);
  const run = async () => {
    if (confirm && !window.confirm(confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await onClick();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button type="button" class={`btn btn-${kind}`} disabled={busy || disabled} aria-busy={busy} onClick={run} {...rest}>
        {children}
      </button>
      {error !== undefined && (
        <span class="action-error" role="alert" title={errorText(error)}>
          {errorText(error)}
        </span>
      )}
    </span>
  );
}

export function Tabs<T extends string>({ value, options, onChange, label }: { value: T; options: readonly (readonly [T, string])[]; onChange: (v: T) => void; label: string }) {
  return (
    <div class="tabs" role="tablist" aria-label={label}>
      {options.map(([v, text]) => (
        <button type="button" role="tab" aria-selected={v === value} class={v === value ? 'tab active' : 'tab'} onClick={() => onChange(v)}>
          {text}
        </button>
      ))}
    </div>
  );
}

export function Pager({ offset, limit, total, onChange }: { offset: number; limit: number; total: number | undefined; onChange: (offset: number) => void }) {
  const last = total === undefined ? offset + limit : Math.min(offset + limit, total);
  return (
    <div class="pager">
      <span>
        {total === 0 ? 'none' : `${offset + 1}–${last}`}
        {total !== undefined && ` of ${total.toLocaleString('en-US')}`}
      </span>
      <button type="button" class="btn" disabled={offset === 0} onClick={() => onChange(Math.max(0, offset - limit))}>
        ‹ Prev
      </button>
      <button type="button" class="btn" disabled={total !== undefined && offset + limit >= total} onClick={() => onChange(offset + limit)}>
        Next ›
      </button>
    </div>
  );
}

/** Shares of a whole as one bar: rollout and fleet-command progress, fleet status. */
export function StackedBar({ parts, total, label }: { parts: readonly (readonly [string, number])[]; total: number; label: string }) {
  const shown = parts.filter(([, n]) => n > 0);
  return (
    <div class="stacked" role="img" aria-label={`${label}: ${shown.map(([k, n]) => `${k} ${n}`).join(', ') || 'none'}`}>
      {shown.map(([k, n]) => (
        <span class={`seg seg-${k}`} style={{ width: `${(n / Math.max(total, 1)) * 100}%` }} title={`${k}: ${n}`} />
      ))}
    </div>
  );
}

export function KeyValues({ rows, columns = 1 }: { rows: readonly (readonly [string, ComponentChildren])[]; columns?: 1 | 2 }) {
  return (
    <dl class={columns === 2 ? 'kv kv-2' : 'kv'}>
      {rows.map(([k, v]) => (
        <>
          <dt>{k}</dt>
          <dd>{v === null || v === undefined || v === '' ? '—' : v}</dd>
        </>
      ))}
    </dl>
  );
}

export function Labels({ values, kind }: { values: readonly string[]; kind: 'tag' | 'group' }) {
  if (values.length === 0) return <span class="muted">—</span>;
  return (
    <span class="labels">
      {values.map((v) => (
        <span class={`label label-${kind}`}>{v}</span>
      ))}
    </span>
  );
}
