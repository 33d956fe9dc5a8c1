import type { ServedRuleset } from '../flags/source.js';

/**
 * How the flags client gets rulesets: Promote's change stream (server-sent events) first; reconnects
 * with exponential backoff and jitter, so a restarted server is not hit by every instance at once; and
 * while the stream keeps failing, polls the Unleash client API with its ETag so changes still arrive
 * (through a proxy that buffers or cuts streams, say). Nothing here throws: failures go to `onFailure`.
 */
export interface TransportOptions {
  url: string;
  token: string;
  fetchTimeoutMs: number;
  pollIntervalMs: number;
  /** the stream is given up and reopened after this long without a byte (heartbeats come every 15 s) */
  idleTimeoutMs: number;
  reconnectMinMs: number;
  reconnectMaxMs: number;
  /** consecutive stream failures before polling starts alongside the reconnect attempts */
  pollAfterFailures: number;
}

export interface TransportHooks {
  ruleset(ruleset: ServedRuleset, via: 'stream' | 'poll'): void;
  /** the server answered (a stream opened, or a poll succeeded) */
  connected(via: 'stream' | 'poll'): void;
  failure(error: Error, via: 'stream' | 'poll'): void;
  revision(): number | undefined;
}

export interface Transport {
  close(): void;
}

export interface SseEvent {
  event: string;
  data: string;
  id: string | undefined;
}

/** A server-sent events parser: feed it text as it arrives; it calls back per complete event. */
export function createSseParser(onEvent: (event: SseEvent) => void): (chunk: string) => void {
  let buffer = '';
  let event = '';
  let data: string[] = [];
  let id: string | undefined;
  return (chunk) => {
    buffer += chunk;
    // a CR at the end may be the first half of a CRLF cut between two chunks: wait for the next one
    const end = buffer.endsWith('\r') ? buffer.length - 1 : buffer.length;
    const lines = buffer.slice(0, end).split(/\r\n|\r|\n/);
    buffer = (lines.pop() ?? '') + buffer.slice(end);
    for (const line of lines) {
      if (line === '') {
        if (data.length > 0) onEvent({ event: event || 'message', data: data.join('\n'), id });
        event = '';
        data = [];
        continue;
      }
      if (line.startsWith(':')) continue;
      const colon = line.indexOf(':');
      const field = colon < 0 ? line : line.slice(0, colon);
      const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
      if (field === 'event') event = value;
      else if (field === 'data') data.push(value);
      else if (field === 'id') id = value;
    }
  };
}

export function startTransport(options: TransportOptions, hooks: TransportHooks): Transport {
  const base = options.url.replace(/\/+$/, '');
  let closed = false;
  let streamController: AbortController | undefined;
  let pollTimer: NodeJS.Timeout | undefined;
  let polling = false;
  let etag: string | undefined;
  let sleeping: { timer: NodeJS.Timeout; wake: () => void } | undefined;

  const sleep = (ms: number) =>
    new Promise<void>((wake) => {
      const timer = setTimeout(wake, ms);
      timer.unref();
      sleeping = { timer, wake };
    }).finally(() => (sleeping = undefined));

  /** One stream connection, until it ends; true when it opened (so the backoff starts over). */
  const streamOnce = async (): Promise<boolean> => {
    const controller = new AbortController();
    streamController = controller;
    let opened = false;
    let idle: NodeJS.Timeout | undefined;
    const armIdle = (ms: number, why: string) => {
      clearTimeout(idle);
      idle = setTimeout(() => controller.abort(new Error(why)), ms);
      idle.unref();
    };
    try {
      armIdle(options.fetchTimeoutMs, `the change stream did not answer within ${options.fetchTimeoutMs} ms`);
      const revision = hooks.revision();
      const response = await fetch(`${base}/api/flags/stream`, {
        headers: { authorization: options.token, accept: 'text/event-stream', ...(revision !== undefined ? { 'last-event-id': String(revision) } : {}) },
        signal: controller.signal,
      });
      if (response.status !== 200 || !response.body) throw new Error(`the change stream answered ${response.status}: ${await errorText(response)}`);
      opened = true;
      hooks.connected('stream');
      stopPolling();
      const parse = createSseParser((event) => {
        if (event.event !== 'ruleset') return;
        try {
          hooks.ruleset(JSON.parse(event.data) as ServedRuleset, 'stream');
        } catch (error) {
          hooks.failure(new Error(`the change stream sent a ruleset that is not JSON: ${(error as Error).message}`), 'stream');
        }
      });
      const decoder = new TextDecoder();
      armIdle(options.idleTimeoutMs, `the change stream was silent for ${options.idleTimeoutMs} ms`);
      for await (const chunk of response.body) {
        armIdle(options.idleTimeoutMs, `the change stream was silent for ${options.idleTimeoutMs} ms`);
        parse(decoder.decode(chunk as Uint8Array, { stream: true }));
      }
      if (!closed) hooks.failure(new Error('the change stream ended'), 'stream');
    } catch (error) {
      if (!closed) hooks.failure(asError(controller.signal.reason ?? error, 'the change stream failed'), 'stream');
    } finally {
      clearTimeout(idle);
      controller.abort();
    }
    return opened;
  };

  const pollOnce = async () => {
    try {
      const response = await fetch(`${base}/api/client/features`, {
        headers: { authorization: options.token, 'unleash-client-spec': '5.2.0', ...(etag ? { 'if-none-match': etag } : {}) },
        signal: AbortSignal.timeout(options.fetchTimeoutMs),
      });
      if (response.status === 304) return hooks.connected('poll');
      if (response.status !== 200) throw new Error(`polling ${base}/api/client/features answered ${response.status}: ${await errorText(response)}`);
      const ruleset = (await response.json()) as ServedRuleset;
      etag = response.headers.get('etag') ?? undefined;
      hooks.connected('poll');
      hooks.ruleset(ruleset, 'poll');
    } catch (error) {
      hooks.failure(asError(error, 'polling the client API failed'), 'poll');
    }
  };

  const startPolling = () => {
    if (polling || closed) return;
    polling = true;
    const loop = async () => {
      if (!polling || closed) return;
      await pollOnce();
      if (!polling || closed) return;
      pollTimer = setTimeout(() => void loop(), options.pollIntervalMs);
      pollTimer.unref();
    };
    void loop();
  };

  function stopPolling() {
    polling = false;
    clearTimeout(pollTimer);
  }

  void (async () => {
    let failures = 0;
    while (!closed) {
      const opened = await streamOnce();
      if (closed) break;
      failures = opened ? 1 : failures + 1;
      // without any ruleset yet, a poll right away: the stream may be cut by a proxy while plain requests pass
      if (failures >= options.pollAfterFailures || hooks.revision() === undefined) startPolling();
      const ceiling = Math.min(options.reconnectMaxMs, options.reconnectMinMs * 2 ** (failures - 1));
      // full jitter over the upper half: instances that lost the server together do not return together
      await sleep(ceiling / 2 + Math.random() * (ceiling / 2));
    }
  })();

  return {
    close() {
      closed = true;
      stopPolling();
      streamController?.abort();
      if (sleeping) {
        clearTimeout(sleeping.timer);
        sleeping.wake();
      }
    },
  };
}

async function errorText(response: Response): Promise<string> {
  try {
    const text = await response.text();
    const parsed = JSON.parse(text) as { error?: unknown; errorDetails?: unknown };
    const message = parsed.error ?? parsed.errorDetails;
    return (typeof message === 'string' ? message : text).slice(0, 500);
  } catch {
    return response.statusText || 'no details';
  }
}

function asError(error: unknown, doing: string): Error {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return new Error(`${doing}: ${error.message}${detail}`, { cause: error });
  }
  return new Error(`${doing}: ${String(error)}`);
}
