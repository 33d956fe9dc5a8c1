import { useCallback, useEffect, useState } from 'preact/hooks';
import { api } from './api';
import { onReconnect } from './stream';

export interface Loaded<T> {
  data?: T;
  error?: unknown;
  loading: boolean;
  reload: () => void;
}

/** GETs `path` (again when it changes, on reload() and when the event stream reconnects); the last answer stays shown while reloading. */
export function useApi<T>(path: string | undefined): Loaded<T> {
  const [state, setState] = useState<{ data?: T; error?: unknown; loading: boolean }>({ loading: path !== undefined });
  const [tick, setTick] = useState(0);
  useEffect(() => {
    if (path === undefined) return;
    const controller = new AbortController();
    setState((previous) => ({ ...previous, loading: true }));
    api<T>(path, { signal: controller.signal }).then(
      (data) => setState({ data, loading: false }),
      (error: unknown) => {
        if (!controller.signal.aborted) setState((previous) => ({ ...previous, error, loading: false }));
      },
    );
    return () => controller.abort();
  }, [path, tick]);
  const reload = useCallback(() => setTick((value) => value + 1), []);
  // changes made while the event stream was down were never sent: read again once it is back
  useEffect(() => (path === undefined ? undefined : onReconnect(reload)), [path, reload]);
  return { ...state, reload };
}
