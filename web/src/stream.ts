/**
 * One EventSource to GET /api/stream for the whole dashboard; pages subscribe to its event types
 * (rollout, event, traffic, flags). The browser reconnects by itself and sends Last-Event-ID, so
 * audit events missed while disconnected are resent, but rollout, traffic and flags events are not:
 * whatever a page read before may be stale, so a reopened stream asks every reader to read again
 * (`onReconnect`; `useApi` does it for every page).
 *
 * The stream is same-origin, so the browser sends the session cookie with it. An HTTP error answer
 * (a 401 once a session expired) closes an EventSource for good and does not say its status, so a
 * closed stream asks /api/me why: a 401 shows the sign-in form (api.ts tells me.ts), anything else
 * opens the stream again a little later.
 */
import { api } from './api';

export type StreamType = 'rollout' | 'event' | 'traffic' | 'flags';
type Handler = (data: unknown) => void;

const handlers: Record<StreamType, Set<Handler>> = { rollout: new Set(), event: new Set(), traffic: new Set(), flags: new Set() };
const reconnectHandlers = new Set<() => void>();
const RETRY_CLOSED_MS = 5_000;
let source: EventSource | undefined;
/** events may have been missed since the last open stream (it was lost or closed) */
let missed = false;
let retry: ReturnType<typeof setTimeout> | undefined;

function open(): void {
  if (source || typeof EventSource === 'undefined') return;
  const opening = (source = new EventSource('/api/stream'));
  let opened = false;
  opening.addEventListener('error', () => {
    if (opened) missed = true;
    if (opening.readyState === EventSource.CLOSED && source === opening) closedByServer(opening);
  });
  opening.addEventListener('open', () => {
    // the first open is the page's own start; later ones follow a lost or closed connection
    if (missed) for (const handler of [...reconnectHandlers]) handler();
    opened = true;
    missed = false;
  });
  for (const type of Object.keys(handlers) as StreamType[]) {
    opening.addEventListener(type, (message) => {
      let data: unknown;
      try {
        data = JSON.parse((message as MessageEvent<string>).data);
      } catch {
        return;
      }
      for (const handler of handlers[type]) handler(data);
    });
  }
}

function closedByServer(closed: EventSource): void {
  source = undefined;
  missed = true;
  closed.close();
  api('/api/me').then(
    () => scheduleReopen(),
    (error: unknown) => {
      // SignInNeeded: me.ts shows the sign-in form and reopens the stream after a sign-in
      if ((error as Error).name !== 'SignInNeeded') scheduleReopen();
    },
  );
}

function scheduleReopen(): void {
  clearTimeout(retry);
  retry = setTimeout(() => {
    if (hasReaders()) open();
  }, RETRY_CLOSED_MS);
}

function hasReaders(): boolean {
  return reconnectHandlers.size > 0 || Object.values(handlers).some((set) => set.size > 0);
}

/** Closes the stream (signed out, or the session is gone): nothing more arrives until reopenStream or a new subscriber. */
export function closeStream(): void {
  clearTimeout(retry);
  source?.close();
  source = undefined;
}

/** Opens the stream again (after a sign-in) if any page still reads it; those pages read again once it is open. */
export function reopenStream(): void {
  closeStream();
  if (!hasReaders()) return;
  missed = true;
  open();
}

/** Calls `handler` with each event of `type`; returns the unsubscribe function. */
export function subscribe(type: StreamType, handler: Handler): () => void {
  open();
  handlers[type].add(handler);
  return () => void handlers[type].delete(handler);
}

/** Calls `handler` each time the stream comes back after a lost connection; returns the unsubscribe function. */
export function onReconnect(handler: () => void): () => void {
  open();
  reconnectHandlers.add(handler);
  return () => void reconnectHandlers.delete(handler);
}
