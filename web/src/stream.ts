/**
 * One EventSource to GET /api/stream for the whole dashboard; pages subscribe to its event types
 * (rollout, event, traffic, flags). The browser reconnects by itself and sends Last-Event-ID, so
 * audit events missed while disconnected are resent, but rollout, traffic and flags events are not:
 * whatever a page read before may be stale, so a reopened stream asks every reader to read again
 * (`onReconnect`; `useApi` does it for every page).
 */
export type StreamType = 'rollout' | 'event' | 'traffic' | 'flags';
type Handler = (data: unknown) => void;

const handlers: Record<StreamType, Set<Handler>> = { rollout: new Set(), event: new Set(), traffic: new Set(), flags: new Set() };
const reconnectHandlers = new Set<() => void>();
let source: EventSource | undefined;

function open(): void {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/stream');
  let opened = false;
  let lost = false;
  source.addEventListener('error', () => {
    if (opened) lost = true;
  });
  source.addEventListener('open', () => {
    // the first open is the page's own start; later ones follow a lost connection
    if (opened && lost) for (const handler of [...reconnectHandlers]) handler();
    opened = true;
    lost = false;
  });
  for (const type of Object.keys(handlers) as StreamType[]) {
    source.addEventListener(type, (message) => {
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
