/** Readiness and liveness probes: an HTTP GET that must answer 2xx/3xx, or a TCP connection that must open. */
import { connect } from 'node:net';
import { setTimeout as delay } from 'node:timers/promises';
import { request } from 'undici';
import { describeCause } from '../errors.js';

export interface ProbeResult {
  ok: boolean;
  /** what was seen, for messages: "answered 503", "connection refused (ECONNREFUSED)" */
  detail: string;
}

/** A signal that aborts when any of the given ones does (AbortSignal.any needs Node 20.3). */
export function anySignal(signals: (AbortSignal | undefined)[]): { signal: AbortSignal; dispose: () => void } {
  const controller = new AbortController();
  const present = signals.filter((signal): signal is AbortSignal => signal !== undefined);
  const listeners: [AbortSignal, () => void][] = [];
  for (const signal of present) {
    if (signal.aborted) {
      controller.abort(signal.reason);
      break;
    }
    const listener = () => controller.abort(signal.reason);
    signal.addEventListener('abort', listener, { once: true });
    listeners.push([signal, listener]);
  }
  return {
    signal: controller.signal,
    dispose: () => {
      for (const [signal, listener] of listeners) signal.removeEventListener('abort', listener);
    },
  };
}

/** GET url; ready on 2xx or 3xx. The connection is closed afterwards, never pooled. */
export async function probeHttp(url: string, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  const timeout = new AbortController();
  const timer = setTimeout(() => timeout.abort(new Error(`no answer within ${timeoutMs}ms`)), timeoutMs);
  const combined = anySignal([signal, timeout.signal]);
  try {
    const response = await request(url, {
      method: 'GET',
      reset: true,
      headersTimeout: timeoutMs,
      bodyTimeout: timeoutMs,
      signal: combined.signal,
      headers: { 'user-agent': 'promote-probe' },
    });
    await response.body.dump();
    const ok = response.statusCode >= 200 && response.statusCode < 400;
    return { ok, detail: `answered ${response.statusCode}` };
  } catch (error) {
    if (timeout.signal.aborted) return { ok: false, detail: `no answer within ${timeoutMs}ms` };
    return { ok: false, detail: describeCause(error) };
  } finally {
    clearTimeout(timer);
    combined.dispose();
  }
}

/** Opens a TCP connection to host:port and closes it again. */
export async function probeTcp(host: string, port: number, timeoutMs: number, signal?: AbortSignal): Promise<ProbeResult> {
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const finish = (result: ProbeResult) => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      socket.destroy();
      resolve(result);
    };
    const onAbort = () => finish({ ok: false, detail: 'cancelled' });
    const timer = setTimeout(() => finish({ ok: false, detail: `no connection within ${timeoutMs}ms` }), timeoutMs);
    socket.once('connect', () => finish({ ok: true, detail: 'connection accepted' }));
    socket.once('error', (error) => finish({ ok: false, detail: describeCause(error) }));
    if (signal?.aborted) onAbort();
    else signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Sleeps, rejecting with the signal's reason when it aborts first. */
export async function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  try {
    await delay(ms, undefined, signal ? { signal } : undefined);
  } catch (error) {
    if (signal?.aborted) throw signal.reason;
    throw error;
  }
}
