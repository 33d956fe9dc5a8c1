/**
 * Batch sizing. A batch holds its rows' locks until it commits, so its duration is what an app
 * writer may wait behind it: sizing by time rather than by rows keeps that wait near the target on
 * any table, whatever a row costs the trigger.
 */
export interface BatchSizeLimits {
  targetMs: number;
  min: number;
  max: number;
}

/**
 * The next size from how long the last batch took. The step is capped at halving or doubling: one
 * batch slowed by a checkpoint or a cold cache should not swing the size tenfold.
 */
export function nextBatchSize(current: number, durationMs: number, limits: BatchSizeLimits): number {
  const ratio = limits.targetMs / Math.max(durationMs, 1);
  const factor = Math.min(2, Math.max(0.5, ratio));
  return clampBatchSize(Math.round(current * factor), limits);
}

/** After a lock timeout or a throttle the next batch is smaller, so it holds fewer locks for less time. */
export function shrinkBatchSize(current: number, limits: BatchSizeLimits): number {
  return clampBatchSize(Math.floor(current / 2), limits);
}

export function clampBatchSize(size: number, limits: BatchSizeLimits): number {
  return Math.min(limits.max, Math.max(limits.min, Math.max(1, Math.floor(size))));
}
