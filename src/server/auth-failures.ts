/**
 * Counts failed sign-ins per client address and turns an address away for a while once it fails too
 * often, so a token cannot be guessed at line speed (it cannot anyway: 256 bits) and, more to the
 * point, a misconfigured client hammering with a revoked token does not load the database. The table
 * is bounded: past `maxAddresses` the address whose window started first is forgotten.
 */
export interface FailureLimiterOptions {
  /** failures allowed per window before the address is refused */
  maxFailures?: number;
  windowMs?: number;
  maxAddresses?: number;
}

interface Window {
  startedAt: number;
  failures: number;
}

export class FailureLimiter {
  readonly maxFailures: number;
  readonly windowMs: number;
  private readonly maxAddresses: number;
  private readonly windows = new Map<string, Window>();

  constructor(options: FailureLimiterOptions = {}) {
    this.maxFailures = options.maxFailures ?? 10;
    this.windowMs = options.windowMs ?? 60_000;
    this.maxAddresses = options.maxAddresses ?? 10_000;
  }

  /** Milliseconds until the address may try again; 0 when it may now. */
  retryAfter(address: string, now = Date.now()): number {
    const window = this.windows.get(address);
    if (!window) return 0;
    const endsAt = window.startedAt + this.windowMs;
    if (now >= endsAt) {
      this.windows.delete(address);
      return 0;
    }
    return window.failures >= this.maxFailures ? endsAt - now : 0;
  }

  fail(address: string, now = Date.now()): void {
    const window = this.windows.get(address);
    if (window && now < window.startedAt + this.windowMs) {
      window.failures += 1;
      return;
    }
    this.windows.delete(address);
    if (this.windows.size >= this.maxAddresses) {
      // Map keeps insertion order: the first key is the oldest window
      const oldest = this.windows.keys().next().value;
      if (oldest !== undefined) this.windows.delete(oldest);
    }
    this.windows.set(address, { startedAt: now, failures: 1 });
  }

  get size(): number {
    return this.windows.size;
  }
}
