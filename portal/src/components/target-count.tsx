import { useEffect, useState } from 'preact/hooks';
import { api, errorText, query } from '../api';
import type { Page } from '../types';

/**
 * How many devices a target selects now (GET /api/v1/devices?target=…&limit=1 → total), asked
 * 300 ms after the last keystroke. Rollouts and fleet commands resolve their target once, at
 * creation: this is what they would get.
 */
export function useTargetCount(target: string): { count?: number; error?: string } {
  const [state, setState] = useState<{ count?: number; error?: string }>({});
  useEffect(() => {
    if (!target.trim()) {
      setState({});
      return;
    }
    const abort = new AbortController();
    const t = window.setTimeout(() => {
      api
        .get<Page<unknown>>(`/api/v1/devices${query({ target: target.trim(), limit: 1 })}`, abort.signal)
        .then((p) => setState({ count: p.total ?? p.items.length }), (err: unknown) => (err as Error).name !== 'AbortError' && setState({ error: errorText(err) }));
    }, 300);
    return () => {
      window.clearTimeout(t);
      abort.abort();
    };
  }, [target]);
  return state;
}

/** The count under a target field. */
export function TargetCount({ target }: { target: string }) {
  const matched = useTargetCount(target);
  return (
    <span class={matched.error ? 'error-text small' : 'muted small'} data-testid="target-count">
      {matched.error ?? (matched.count !== undefined ? `${matched.count.toLocaleString('en-US')} devices now` : '')}
    </span>
  );
}
