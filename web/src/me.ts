import { useEffect, useState } from 'preact/hooks';
import { api, setViewAs, viewAs } from './api';

export type Role = 'viewer' | 'operator' | 'approver' | 'admin';
export type Action = 'deploy' | 'pause' | 'resume' | 'abort' | 'retry' | 'promote' | 'rollback' | 'approve' | 'flag.write';

/** GET /api/me: the caller's role and what it may do per environment. */
export interface Me {
  actor: string;
  role: Role;
  serverRole: Role;
  roles: Role[];
  can: Record<string, Action[]>;
}

type State = { me?: Me; error?: unknown };
let state: State = {};
const listeners = new Set<(next: State) => void>();
let loading: Promise<void> | undefined;

function publish(next: State): void {
  state = next;
  for (const listener of listeners) listener(next);
}

export function reloadMe(): Promise<void> {
  loading = api<Me>('/api/me').then(
    (me) => publish({ me }),
    (error: unknown) => publish({ error }),
  );
  return loading;
}

/** Changes the "view as" role (sent as x-promote-role, which can only lower the server's role). */
export function viewDashboardAs(role: string): Promise<void> {
  setViewAs(role);
  return reloadMe();
}

export const chosenRole = viewAs;

export function useMe(): State {
  const [current, setCurrent] = useState<State>(state);
  useEffect(() => {
    listeners.add(setCurrent);
    if (!state.me && !state.error && !loading) void reloadMe();
    setCurrent(state);
    return () => void listeners.delete(setCurrent);
  }, []);
  return current;
}

/** Whether the current role may do `action` in `environment` (false while /api/me is unknown). */
export function can(me: Me | undefined, action: Action, environment: string): boolean {
  return me?.can[environment]?.includes(action) ?? false;
}

/** The app's environments in promotion order (the order /api/me lists them). */
export function environmentsOf(me: Me | undefined): string[] {
  return me ? Object.keys(me.can) : [];
}
