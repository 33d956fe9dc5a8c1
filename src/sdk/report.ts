/**
 * What an app uses to report back during a rollout: counters and observations (experiment
 * mismatches, dual-write failures, gate fallbacks) and its users' feedback scores, which the `sdk` and
 * `feedback` analysis providers judge per version. Reporting must never hurt the app: calls only
 * queue, a timer posts batches, a failed post keeps its batch for the next flush up to a cap (the
 * oldest reports go first, counted in `dropped`), and nothing here ever throws into a request path.
 *
 * Call `close()` on shutdown: the timer does not keep the process alive, so reports still queued
 * when the process exits without it are lost.
 */

export interface ReporterOptions {
  /** base URL of the Promote server, e.g. http://promote.internal:7070 */
  url: string;
  app: string;
  environment: string;
  /** the version this instance runs: the analysis compares versions */
  version: string;
  flushIntervalMs?: number;
  /** metrics per POST (the server takes at most 1000); a full batch is posted without waiting */
  maxBatch?: number;
  /** reports kept while the server cannot be reached, per kind (metrics, feedback); the oldest beyond are dropped */
  maxPending?: number;
  /** one POST gives up after this long */
  timeoutMs?: number;
  /** an API token (any role in the app), needed when the server runs with `--auth tokens` */
  token?: string;
  /** told about each failed post and refused report; never required, never awaited */
  onError?: (error: Error) => void;
}

export interface ReporterStats {
  /** reports waiting to be posted */
  pending: number;
  /** reports given up: over the cap, refused by the server, invalid or too old to be accepted */
  dropped: number;
  /** reports the server recorded */
  sent: number;
}

export interface Reporter {
  /** adds `n` (default 1) to a counter, e.g. count('dual_write.failure') */
  count(name: string, n?: number): void;
  /** records one observation, e.g. observe('experiment.latency_ms', 12.5) */
  observe(name: string, value: number): void;
  /** a user's score on the app's own scale (1 to 5, say), for the version this instance runs */
  feedback(score: number, details?: { user?: string; comment?: string }): void;
  /** posts what is queued; resolves when done or failed, never rejects */
  flush(): Promise<void>;
  /** stops the timer and posts what is queued; later reports are dropped */
  close(): Promise<void>;
  stats(): ReporterStats;
}

interface QueuedMetric {
  name: string;
  value: number;
  at: string;
  atMs: number;
}
interface QueuedFeedback {
  score: number;
  user?: string;
  comment?: string;
}

// the server's rule (src/store/reported-metrics.ts); `promote:` names are Promote's own
const METRIC_NAME = /^[a-z][a-z0-9_.:-]{0,99}$/;
/** the server refuses metrics older than an hour: older queued ones are dropped before posting */
const MAX_AGE_MS = 55 * 60_000;

export function createReporter(options: ReporterOptions): Reporter {
  const { flushIntervalMs = 5000, maxBatch = 500, maxPending = 10_000, timeoutMs = 5000 } = options;
  const base = options.url.replace(/\/+$/, '');
  const where = { app: options.app, environment: options.environment, version: options.version };
  const metrics: QueuedMetric[] = [];
  const feedbacks: QueuedFeedback[] = [];
  const stats = { dropped: 0, sent: 0 };
  let closed = false;
  let chain: Promise<void> = Promise.resolve();
  let flushQueued = false;
  let quietUntil = 0;

  const tell = (message: string) => {
    try {
      options.onError?.(new Error(`promote reporter: ${message}`));
    } catch {
      // the app's own handler failing is not ours to raise
    }
  };
  const drop = (count: number, why: string) => {
    stats.dropped += count;
    tell(why);
  };
  const cap = <T>(queue: T[]) => {
    const over = queue.length - maxPending;
    if (over > 0) {
      queue.splice(0, over);
      stats.dropped += over;
    }
  };

  const headers: Record<string, string> = { 'content-type': 'application/json', ...(options.token ? { authorization: `Bearer ${options.token}` } : {}) };
  /** one POST: true when recorded; a batch the server refuses for good is dropped, any other failure kept */
  const post = async (path: string, body: unknown, count: number): Promise<'sent' | 'refused' | 'failed'> => {
    try {
      const response = await fetch(`${base}${path}`, { method: 'POST', headers, body: JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) });
      const text = await response.text();
      if (response.status === 201) {
        stats.sent += count;
        return 'sent';
      }
      const why = `POST ${path} answered ${response.status}: ${text.slice(0, 300)}`;
      if (response.status >= 400 && response.status < 500 && response.status !== 408 && response.status !== 429) {
        drop(count, `${why} (${count} report(s) dropped)`);
        return 'refused';
      }
      tell(`${why} (kept for the next flush)`);
    } catch (error) {
      tell(`POST ${path} failed: ${error instanceof Error ? error.message : String(error)} (kept for the next flush)`);
    }
    return 'failed';
  };

  // after a failed post, a full batch waits for the timer instead of hammering a server that is down
  const pauseAutoFlush = () => {
    quietUntil = Date.now() + flushIntervalMs;
  };

  const send = async () => {
    while (feedbacks.length > 0) {
      const next = feedbacks[0]!;
      const outcome = await post('/feedback', { ...where, ...next }, 1);
      if (outcome === 'failed') return pauseAutoFlush();
      feedbacks.shift();
    }
    const oldest = Date.now() - MAX_AGE_MS;
    const firstFresh = metrics.findIndex((metric) => metric.atMs >= oldest);
    const expired = firstFresh === -1 ? metrics.length : firstFresh;
    if (expired > 0) {
      metrics.splice(0, expired);
      drop(expired, `${expired} metric(s) older than the server accepts dropped`);
    }
    while (metrics.length > 0) {
      const batch = metrics.slice(0, maxBatch);
      const outcome = await post('/api/metrics', { ...where, metrics: batch.map(({ name, value, at }) => ({ name, value, at })) }, batch.length);
      if (outcome === 'failed') return pauseAutoFlush();
      metrics.splice(0, batch.length);
    }
  };

  const flush = (): Promise<void> => {
    const run = chain.then(send).catch((error: unknown) => tell(`flush failed: ${String(error)}`));
    chain = run;
    return run;
  };

  const enqueue = (name: string, value: number) => {
    try {
      if (closed) return drop(1, `${name} reported after close() (dropped)`);
      if (typeof name !== 'string' || !METRIC_NAME.test(name) || name.startsWith('promote:')) return drop(1, `metric name ${JSON.stringify(name)} is not valid: 1 to 100 of a-z 0-9 _ . : - starting with a letter (dropped)`);
      if (typeof value !== 'number' || !Number.isFinite(value)) return drop(1, `${name}: ${String(value)} is not a finite number (dropped)`);
      const now = Date.now();
      metrics.push({ name, value, at: new Date(now).toISOString(), atMs: now });
      cap(metrics);
      if (metrics.length >= maxBatch && !flushQueued && now >= quietUntil) {
        flushQueued = true;
        setImmediate(() => {
          flushQueued = false;
          void flush();
        });
      }
    } catch {
      stats.dropped += 1; // never into the app's request path
    }
  };

  const timer = setInterval(() => void flush(), flushIntervalMs);
  timer.unref();

  return {
    count: (name, n = 1) => enqueue(name, n),
    observe: (name, value) => enqueue(name, value),
    feedback(score, details = {}) {
      try {
        if (closed) return drop(1, 'feedback reported after close() (dropped)');
        if (typeof score !== 'number' || !Number.isFinite(score)) return drop(1, `feedback score ${String(score)} is not a finite number (dropped)`);
        const { user, comment } = (details ?? {}) as { user?: unknown; comment?: unknown };
        feedbacks.push({ score, ...(typeof user === 'string' && user !== '' ? { user: clip(user, 200) } : {}), ...(typeof comment === 'string' ? { comment: clip(comment, 1000) } : {}) });
        cap(feedbacks);
      } catch {
        stats.dropped += 1; // never into the app's request path
      }
    },
    flush,
    async close() {
      closed = true;
      clearInterval(timer);
      await flush();
    },
    stats: () => ({ ...stats, pending: metrics.length + feedbacks.length }),
  };
}

/** at most `max` characters (code points, as the server counts), never half of a surrogate pair */
function clip(text: string, max: number): string {
  const characters = Array.from(text);
  return characters.length <= max ? text : characters.slice(0, max).join('');
}
