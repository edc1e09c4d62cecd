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

/**
 * The machinery of a form's submit or a button's action: `run(fn)` marks it busy, clears the last
 * error, runs `fn` and keeps what it threw as text (`describe`, errorText by default); it answers
 * whether `fn` succeeded. What to do on success goes in `fn`, so it happens before busy ends.
 */
export function useAction(describe: (err: unknown) => string = errorText) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | undefined>(undefined);
  const run = async (fn: () => Promise<unknown> | unknown): Promise<boolean> => {
    setBusy(true);
    setError(undefined);
    try {
      await fn();
      return true;
    } catch (err) {
      setError(describe(err));
      return false;
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run, setError };
}

/** A form's error beside its buttons; nothing when there is none. */
export function ErrorText({ error, small }: { error: string | undefined; small?: boolean }) {
  return error ? (
    <span class={small ? 'error-text small' : 'error-text'} role="alert">
      {error}
    </span>
  ) : null;
}

/** A control's error beside it, cut to one line (the whole text is its title); nothing when there is none. */
export function ActionError({ error }: { error: string | undefined }) {
  return error ? (
    <span class="action-error" role="alert" title={error}>
      {error}
    </span>
  ) : null;
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
  const { busy, error, run } = useAction();
  return (
    <span class="action">
      <button type="button" class={`btn btn-${kind}`} disabled={busy || disabled} aria-busy={busy} onClick={() => (!confirm || window.confirm(confirm)) && run(onClick)} {...rest}>
        {children}
      </button>
      <ActionError error={error} />
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

/**
 * A list row's progress cell (rollouts, fleet commands): the devices' states as one bar (in the
 * order of `states`, else of `counts`), succeeded of all, and how many ended in a `bad` state.
 */
export function ProgressCell({ counts, total, label, states, bad }: { counts: Record<string, number>; total: number; label: string; states?: readonly string[]; bad: readonly string[] }) {
  const failed = bad.reduce((n, s) => n + (counts[s] ?? 0), 0);
  return (
    <td class="progress-cell">
      <StackedBar parts={states ? states.map((s) => [s, counts[s] ?? 0] as const) : Object.entries(counts)} total={total} label={label} />
      <span class="small">
        {counts.succeeded ?? 0}/{total}
        {failed > 0 && <span class="error-text"> · {failed} {bad.join(' or ')}</span>}
      </span>
    </td>
  );
}

/** A table's header row: its columns' names ('' for one without), [name, class] for a styled one (`num`: right-aligned); false leaves a column out. */
export function TableHead({ columns }: { columns: readonly (string | false | readonly [string, string])[] }) {
  return (
    <thead>
      <tr>{columns.map((c) => c !== false && (typeof c === 'string' ? <th>{c}</th> : <th class={c[1]}>{c[0]}</th>))}</tr>
    </thead>
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
