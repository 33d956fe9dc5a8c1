/**
 * The dashboard's one way to the API: JSON in and out, the "view as" role sent on every call, and
 * failures thrown as ApiError carrying the server's `error` and `hint` so pages can show them as they are.
 */
export const ROLE_HEADER = 'x-promote-role';
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
  const headers: Record<string, string> = { accept: 'application/json' };
  if (current !== '') headers[ROLE_HEADER] = current;
  if (options.body !== undefined) headers['content-type'] = 'application/json';
  let response: Response;
  try {
    response = await fetch(path, {
      method: options.method ?? 'GET',
      headers,
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
    const body = (data ?? {}) as { error?: unknown; hint?: unknown };
    const message = typeof body.error === 'string' ? body.error : `${options.method ?? 'GET'} ${path} answered ${response.status}${text && data === undefined ? `: ${text.slice(0, 200)}` : ''}`;
    throw new ApiError(message, response.status, typeof body.hint === 'string' ? body.hint : undefined);
  }
  return data as T;
}

export const post = <T>(path: string, body: unknown = {}) => api<T>(path, { method: 'POST', body });
