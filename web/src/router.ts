import { useEffect, useState } from 'preact/hooks';

/** Hash routes (the server serves one page): #/, #/rollouts/:id, #/flags/:environment, #/migrations/:environment, #/report. */
export type Params = Record<string, string>;
export interface Route {
  page: 'overview' | 'rollout' | 'flags' | 'migrations' | 'report' | 'unknown';
  params: Params;
}

export function parseHash(hash: string): Route {
  const path = hash.replace(/^#/, '').replace(/\/+$/, '') || '/';
  const parts = path.split('/').filter(Boolean).map((part) => decodeURIComponent(part));
  const [first, second] = parts;
  if (parts.length === 0) return { page: 'overview', params: {} };
  if (first === 'rollouts' && second && parts.length === 2) return { page: 'rollout', params: { id: second } };
  if ((first === 'flags' || first === 'migrations') && parts.length <= 2) return { page: first, params: second ? { environment: second } : {} };
  if (first === 'report' && parts.length === 1) return { page: 'report', params: {} };
  return { page: 'unknown', params: { path } };
}

export function useRoute(): Route {
  const [route, setRoute] = useState(() => parseHash(window.location.hash));
  useEffect(() => {
    const changed = () => setRoute(parseHash(window.location.hash));
    window.addEventListener('hashchange', changed);
    return () => window.removeEventListener('hashchange', changed);
  }, []);
  return route;
}

export const href = {
  overview: () => '#/',
  rollout: (id: number | string) => `#/rollouts/${id}`,
  flags: (environment?: string) => (environment ? `#/flags/${encodeURIComponent(environment)}` : '#/flags'),
  migrations: (environment?: string) => (environment ? `#/migrations/${encodeURIComponent(environment)}` : '#/migrations'),
  report: () => '#/report',
};
