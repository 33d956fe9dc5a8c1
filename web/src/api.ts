/**
 * The dashboard's one way to the API: JSON in and out, the "view as" role and the CSRF header sent on
 * every call, and failures thrown as ApiError carrying the server's `error` and `hint` so pages can show
 * them as they are. A 401 saying `auth: 'token'` (authentication on, no valid session) is a SignInNeeded
 * error and tells the listeners (me.ts), so the app shows its sign-in form instead of the page.
 */
export const ROLE_HEADER = 'x-promote-role';
/**
 * Writes authenticated by the session cookie must carry it (a cross-site form cannot send a custom
 * header); sent on every call, it is harmless without authentication.
 */
export const CSRF_HEADER = 'x-promote-csrf';
export const SESSION_PATH = '/api/session';
const VIEW_AS_KEY = 'promote.viewAs';

export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly hint?: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The server wants an API token (authentication on, and no session or an expired one). */
export class SignInNeeded extends ApiError {
  constructor(message: string, hint?: string) {
    super(message, 401, hint);
    this.name = 'SignInNeeded';
  }
}

const signInListeners = new Set<(error: SignInNeeded) => void>();

/** Calls `listener` whenever a call is refused for want of a session; returns the unsubscribe function. */
export function onSignInNeeded(listener: (error: SignInNeeded) => void): () => void {
  signInListeners.add(listener);
  return () => void signInListeners.delete(listener);
}

/** The role the user chose to view the dashboard as ('' = the server's role). */
export function viewAs(): string {
  try {
    return window.localStorage.getItem(VIEW_AS_KEY) ?? '';
  } catch {
    return '';
  }
}

export function setViewAs(role: string): void {
  try {
    if (role === '') window.localStorage.removeItem(VIEW_AS_KEY);
    else window.localStorage.setItem(VIEW_AS_KEY, role);
  } catch {
    // storage refused (private mode): the choice lasts until reload only, through the header below
  }
  current = role;
}

let current = viewAs();

export interface RequestOptions {
  method?: 'GET' | 'POST' | 'PUT' | 'DELETE';
  body?: unknown;
  signal?: AbortSignal;
}

export async function api<T>(path: string, options: RequestOptions = {}): Promise<T> {
  const headers: Record<string, string> = { accept: 'application/json', [CSRF_HEADER]: '1' };
  if (current !== '') headers[ROLE_HEADER] = current;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
      // same-origin only: the session cookie goes to the server the dashboard came from, never elsewhere
      credentials: 'same-origin',
      ...(options.body !== undefined ? { body: JSON.stringify(options.body) } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } catch (problem) {
    if ((problem as Error).name === 'AbortError') throw problem;
    throw new ApiError(`could not reach the Promote server (${(problem as Error).message})`, 0, 'is `promote server` still running?');
  }
  const text = await response.text();
  let data: unknown = undefined;
  if (text !== '') {
    try {
      data = JSON.parse(text);
    } catch {
      data = undefined;
    }
  }
  if (!response.ok) {
    const body = (data ?? {}) as { error?: unknown; hint?: unknown; auth?: unknown };
    const message = typeof body.error === 'string' ? body.error : `${options.method ?? 'GET'} ${path} answered ${response.status}${text && data === undefined ? `: ${text.slice(0, 200)}` : ''}`;
    if (response.status === 401 && body.auth === 'token') {
      const needed = new SignInNeeded(message, typeof body.hint === 'string' ? body.hint : undefined);
      // a refused sign-in is the form's own error to show, not a reason to show the form
      if (path !== SESSION_PATH) for (const listener of [...signInListeners]) listener(needed);
      throw needed;
    }
    throw new ApiError(message, response.status, typeof body.hint === 'string' ? body.hint : retryHint(response, message));
  }
  return data as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body });

export const remove = <T>(path: string) => api<T>(path, { method: 'DELETE' });

/** "retry in N s" from a 429's Retry-After (seconds), when the API's answer did not already say when. */
function retryHint(response: Response, message: string): string | undefined {
  const seconds = Number(response.headers.get('retry-after'));
  if (response.status !== 429 || /retry/i.test(message) || !Number.isFinite(seconds) || seconds <= 0) return undefined;
  return `retry in ${Math.ceil(seconds)} s`;
}
