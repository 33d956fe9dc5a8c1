import { useEffect, useState } from 'preact/hooks';
import { api, onSignInNeeded, post, remove, SESSION_PATH, setViewAs, SignInNeeded, viewAs } from './api';
import { closeStream, reopenStream } from './stream';

export type Role = 'viewer' | 'operator' | 'approver' | 'admin';
export type Action = 'deploy' | 'pause' | 'resume' | 'abort' | 'retry' | 'promote' | 'rollback' | 'approve' | 'flag.write';

/** GET /api/me: the caller's role and what it may do per environment. */
export interface Me {
  /** the token's name with authentication; without, who the caller says it is ("api" when unnamed) */
  actor: string;
  /** how the caller proved who it is (servers before authentication do not say) */
  via?: 'token' | 'session' | 'none';
  /** the role bindings held, as role[:app[/environment]] */
  grants?: string[];
  role: Role;
  serverRole: Role;
  roles: Role[];
  can: Record<string, Action[]>;
}

/** `signIn`: the server wants a token (the app shows its sign-in form, with no page and no data) */
type State = { me?: Me; error?: unknown; signIn?: SignInNeeded };
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
    // a SignInNeeded has already published the sign-in state (below)
    (error: unknown) => (error instanceof SignInNeeded ? undefined : publish({ error })),
  );
  return loading;
}

// any call refused for want of a session (the first /api/me, a page's read, the stream's check, a
// session that expired while the page was open) shows the sign-in form; the data shown goes with it
onSignInNeeded((signIn) => {
  closeStream();
  publish({ signIn });
});

/**
 * POST /api/session with the token: the server answers with the caller (as /api/me does) and sets the
 * HttpOnly session cookie. The token goes in the request body only: not kept, not in the URL.
 * Throws the API's refusal (bad or expired token, too many failures) for the form to show.
 */
export async function signIn(token: string): Promise<void> {
  await post<Me>(SESSION_PATH, { token });
  // /api/me again rather than the session's answer: it applies the "view as" role like every other read
  await reloadMe();
  if (state.me) reopenStream();
}

/** DELETE /api/session (the server clears the cookie), then the sign-in form. */
export async function signOut(): Promise<void> {
  await remove<void>(SESSION_PATH);
  closeStream();
  // whoever signs in next starts from their own role, not the "view as" chosen before
  setViewAs('');
  // with the cookie gone, /api/me answers 401 and the sign-in form replaces the page
  await reloadMe();
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
    if (!state.me && !state.error && !state.signIn && !loading) void reloadMe();
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
