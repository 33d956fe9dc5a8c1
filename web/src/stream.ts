/**
 * One EventSource to GET /api/stream for the whole dashboard; pages subscribe to its event types
 * (rollout, event, traffic, flags). The browser reconnects by itself and sends Last-Event-ID, so
 * audit events missed while disconnected are resent.
 */
export type StreamType = 'rollout' | 'event' | 'traffic' | 'flags';
type Handler = (data: unknown) => void;

const handlers: Record<StreamType, Set<Handler>> = { rollout: new Set(), event: new Set(), traffic: new Set(), flags: new Set() };
let source: EventSource | undefined;

function open(): void {
  if (source || typeof EventSource === 'undefined') return;
  source = new EventSource('/api/stream');
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
