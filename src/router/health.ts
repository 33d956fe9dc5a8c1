import type { Pool } from 'undici';
import type { Instance, Upstreams } from './upstreams.js';

export interface ActiveHealthOptions {
  /** readiness path requested on every instance, e.g. /healthz */
  path: string;
  interval: number;
  timeout: number;
  /** consecutive failed checks before an instance leaves rotation; one success brings it back */
  unhealthyAfter?: number;
}

/**
 * Asks every instance for its readiness path on a timer. Passive health (connection failures seen
 * by real requests) reacts within requests; this catches an instance that accepts connections but
 * is not ready, and brings an ejected one back as soon as it answers again.
 */
export class ActiveHealth {
  private timer: NodeJS.Timeout | undefined;
  private readonly failures = new WeakMap<object, number>();
  /** instances whose check is still under way: each one's rounds wait for its own check only */
  private readonly checking = new WeakSet<object>();

  constructor(
    private readonly upstreams: Upstreams,
    private readonly options: ActiveHealthOptions,
  ) {}

  start(): void {
    this.timer = setInterval(() => void this.checkAll(), this.options.interval);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Starts a check of every instance whose previous check has finished, and resolves when the checks
   * started here have. A hung instance holds its check for the whole timeout: only that instance's next
   * rounds are skipped meanwhile, every other instance is checked on time.
   */
  async checkAll(): Promise<void> {
    const started: Promise<void>[] = [];
    for (const instance of this.upstreams.instances()) {
      if (this.checking.has(instance)) continue;
      this.checking.add(instance);
      started.push(this.checkOne(instance).finally(() => this.checking.delete(instance)));
    }
    await Promise.all(started);
  }

  private async checkOne(instance: Instance): Promise<void> {
    const healthy = await this.check(instance.pool, instance.basePath + this.options.path);
    const failures = healthy ? 0 : (this.failures.get(instance) ?? 0) + 1;
    this.failures.set(instance, failures);
    if (healthy) {
      this.upstreams.setReady(instance, true);
      this.upstreams.succeeded(instance);
    } else if (failures >= (this.options.unhealthyAfter ?? 2)) {
      this.upstreams.setReady(instance, false);
    }
  }

  private async check(pool: Pool, path: string): Promise<boolean> {
    try {
      const response = await pool.request({ path, method: 'GET', headersTimeout: this.options.timeout, bodyTimeout: this.options.timeout, headers: { 'user-agent': 'promote-router-health' } });
      await response.body.dump();
      return response.statusCode >= 200 && response.statusCode < 400;
    } catch {
      return false;
    }
  }
}
