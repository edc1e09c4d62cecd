import { useEffect, useRef, useState } from 'preact/hooks';
import { EVENT_TYPES, type GatewayEvent } from './types';

/**
 * The gateway's event stream (GET /api/v1/events, Server-Sent Events), opened once for the
 * whole portal and shared by every view. EventSource sends the session cookie and reconnects by
 * itself after a network error; when the gateway refuses the stream (401 after a restart, a
 * proxy's 5xx) it gives up, and the hub opens a new one with a growing delay. After any
 * reconnection the views reload what they show: events sent while the stream was down are lost.
 */

export type StreamState = 'connecting' | 'live' | 'down';
type Listener = (event: GatewayEvent) => void;

class EventHub {
  private source: EventSource | null = null;
  private readonly listeners = new Set<Listener>();
  private readonly stateListeners = new Set<(s: StreamState) => void>();
  private readonly resyncListeners = new Set<() => void>();
  private retryTimer: number | undefined;
  private retryDelay = 1000;
  private everOpen = false;
  state: StreamState = 'connecting';

  start(): void {
    if (this.source) return;
    const source = new EventSource('/api/v1/events', { withCredentials: true });
    this.source = source;
    this.setState('connecting');
    source.onopen = () => {
      this.retryDelay = 1000;
      this.setState('live');
      if (this.everOpen) for (const l of this.resyncListeners) l();
      this.everOpen = true;
    };
    source.onerror = () => {
      if (source.readyState === EventSource.CLOSED) {
        this.source = null;
        this.setState('down');
        this.retryTimer = window.setTimeout(() => this.start(), this.retryDelay);
        this.retryDelay = Math.min(this.retryDelay * 2, 30_000);
      } else {
        this.setState('connecting');
      }
    };
    const dispatch = (message: MessageEvent<string>) => {
      let event: GatewayEvent;
      try {
        event = JSON.parse(message.data) as GatewayEvent;
      } catch {
        return;
      }
      for (const l of this.listeners) l(event);
    };
    for (const type of EVENT_TYPES) source.addEventListener(type, dispatch as EventListener);
  }

  stop(): void {
    window.clearTimeout(this.retryTimer);
    this.source?.close();
    this.source = null;
    this.everOpen = false;
    this.setState('down');
  }

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    return () => void this.listeners.delete(listener);
  }

  onState(listener: (s: StreamState) => void): () => void {
    this.stateListeners.add(listener);
    return () => void this.stateListeners.delete(listener);
  }

  onResync(listener: () => void): () => void {
    this.resyncListeners.add(listener);
    return () => void this.resyncListeners.delete(listener);
  }

  private setState(state: StreamState): void {
    if (state === this.state) return;
    this.state = state;
    for (const l of this.stateListeners) l(state);
  }
}

export const events = new EventHub();

/** Calls `handler` for every gateway event while the component is mounted (the latest handler, no resubscription). */
export function useGatewayEvents(handler: Listener): void {
  const ref = useRef(handler);
  ref.current = handler;
  useEffect(() => events.subscribe((e) => ref.current(e)), []);
}

export function useStreamState(): StreamState {
  const [state, setState] = useState(events.state);
  useEffect(() => events.onState(setState), []);
  return state;
}

export interface Live<T> {
  data: T | undefined;
  error: unknown;
  loading: boolean;
  reload: () => void;
  /** Changes the data in place (an event's patch), without a request. */
  mutate: (f: (data: T) => T) => void;
}

/**
 * Data from the API that stays current: loaded when `deps` change, changed in place by `patch`
 * for what an event carries, reloaded when an event `affects` it (at most once per
 * `minIntervalMs`: a fleet reconnecting at once sends thousands of events a second, the view
 * reloads once or twice) and after the stream reconnects.
 */
export function useLive<T>(
  load: (signal: AbortSignal) => Promise<T>,
  deps: unknown[],
  opts: { affects?: (e: GatewayEvent) => boolean; patch?: (data: T, e: GatewayEvent) => T | undefined; minIntervalMs?: number } = {},
): Live<T> {
  const [data, setDataState] = useState<T | undefined>(undefined);
  // The latest data outside React's batching, so an event's patch always applies to what the last one left.
  const dataRef = useRef<T | undefined>(undefined);
  const setData = (value: T) => {
    dataRef.current = value;
    setDataState(value);
  };
  const [error, setError] = useState<unknown>(undefined);
  const [loading, setLoading] = useState(true);
  const loadRef = useRef(load);
  loadRef.current = load;
  const optsRef = useRef(opts);
  optsRef.current = opts;
  const control = useRef({ inFlight: false, again: false, last: 0, timer: 0 as number | undefined, abort: null as AbortController | null, generation: 0 });

  const run = () => {
    const c = control.current;
    if (c.inFlight) {
      c.again = true;
      return;
    }
    c.inFlight = true;
    c.last = Date.now();
    const generation = c.generation;
    const abort = new AbortController();
    c.abort = abort;
    loadRef
      .current(abort.signal)
      .then(
        (value) => {
          if (generation !== c.generation) return;
          setData(value);
          setError(undefined);
        },
        (err: unknown) => {
          if (generation !== c.generation || (err as Error)?.name === 'AbortError') return;
          setError(err);
        },
      )
      .finally(() => {
        if (generation !== c.generation) return;
        c.inFlight = false;
        setLoading(false);
        if (c.again) {
          c.again = false;
          schedule();
        }
      });
  };

  const schedule = () => {
    const c = control.current;
    if (c.timer !== undefined) return;
    const wait = Math.max(0, (optsRef.current.minIntervalMs ?? 1000) - (Date.now() - c.last));
    c.timer = window.setTimeout(() => {
      c.timer = undefined;
      run();
    }, wait);
  };

  useEffect(() => {
    const c = control.current;
    c.generation++;
    c.abort?.abort();
    c.inFlight = false;
    c.again = false;
    window.clearTimeout(c.timer);
    c.timer = undefined;
    setLoading(true);
    run();
    return () => {
      c.generation++;
      c.abort?.abort();
      window.clearTimeout(c.timer);
      c.timer = undefined;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, deps);

  useEffect(() => {
    const offEvents = events.subscribe((e) => {
      const o = optsRef.current;
      // The patch shows the change at once; a reload (throttled) brings what the event does not carry.
      if (o.patch && dataRef.current !== undefined) {
        const patched = o.patch(dataRef.current, e);
        if (patched !== undefined) setData(patched);
      }
      if (o.affects?.(e)) schedule();
    });
    const offResync = events.onResync(() => schedule());
    return () => {
      offEvents();
      offResync();
    };
  }, []);

  return {
    data,
    error,
    loading,
    reload: () => {
      window.clearTimeout(control.current.timer);
      control.current.timer = undefined;
      run();
    },
    mutate: (f) => {
      if (dataRef.current !== undefined) setData(f(dataRef.current));
    },
  };
}

/** A value that re-renders every `ms` (relative times such as "12 s ago"). */
export function useNow(ms = 5000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const t = window.setInterval(() => setNow(Date.now()), ms);
    return () => window.clearInterval(t);
  }, [ms]);
  return now;
}
