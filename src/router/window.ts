import { LatencyHistogram, normalizeMicros } from './histogram.js';
import { seededRandom } from '../system/seeded-random.js';

/**
 * How a proxied request ended. `error` means the upstream gave no usable response (connect failure,
 * reset, timeout, garbage) and the router answered 502/504 itself.
 */
export type StatusClass = '1xx' | '2xx' | '3xx' | '4xx' | '5xx' | 'error';

/** In index order: `STATUS_CLASSES[statusClassIndex(s)]` is the class of `s`. */
export const STATUS_CLASSES: readonly StatusClass[] = ['1xx', '2xx', '3xx', '4xx', '5xx', 'error'];
export const ERROR_CLASS_INDEX = 5;
export const CLASS_5XX_INDEX = 4;

/** 0..4 for HTTP statuses 100..599, 5 (`error`) for `'error'` and for anything outside 100..599. */
export function statusClassIndex(status: number | 'error'): number {
  if (status === 'error' || !(status >= 100 && status < 600)) return ERROR_CLASS_INDEX;
  return Math.floor(status / 100) - 1;
}

export function emptyByClass(): Record<StatusClass, number> {
  return { '1xx': 0, '2xx': 0, '3xx': 0, '4xx': 0, '5xx': 0, error: 0 };
}

export interface LatencyStats {
  p50: number;
  p90: number;
  p95: number;
  p99: number;
  max: number;
  mean: number;
}

export interface RollingWindowOptions {
  /** how many complete seconds can be read back; default 300 */
  seconds?: number;
  /** reservoir size per second; 0 keeps no raw samples; default 1000 */
  samplesPerSecond?: number;
  /** the clock in ms since the epoch; default Date.now */
  now?: () => number;
  /** uniform in [0, 1) for the reservoir; default a seededRandom() seeded from Math.random */
  random?: () => number;
}


/** The aggregate of the complete seconds [from, to) (ms since the epoch). */
export interface WindowAggregate {
  seconds: number;
  from: number;
  to: number;
  requests: number;
  byClass: Record<StatusClass, number>;
  /** null when no request finished in the window */
  latencyMicros: LatencyStats | null;
  /** the per-second reservoirs of latencies (µs), concatenated oldest second first */
  samples: number[];
}

/** One bucket of a series: `seconds` complete seconds from `t` (ms since the epoch). */
export interface SeriesPoint {
  t: number;
  seconds: number;
  requests: number;
  /** 5xx answers plus requests the router answered itself (502/504) */
  errors: number;
  /** null when no request finished in the bucket */
  p50Micros: number | null;
  p99Micros: number | null;
}

/** One second of measurements; allocated the first time the ring reaches it, then reused. */
class Slot {
  /** the epoch second this slot currently holds */
  second: number;
  readonly classes = new Float64Array(STATUS_CLASSES.length);
  readonly histogram = new LatencyHistogram();
  readonly samples: Uint32Array;

  constructor(second: number, capacity: number) {
    this.second = second;
    this.samples = new Uint32Array(capacity);
  }

  reset(second: number): void {
    this.second = second;
    this.classes.fill(0);
    this.histogram.reset();
    // samples need no clearing: histogram.count says how many of them are valid
  }
}

/**
 * A ring of per-second slots for one version. Every slot carries the epoch second it holds; recording
 * into a slot that still holds an older second resets it first, and a read takes a slot only if it holds
 * the second asked for. So moving over idle time costs nothing (there is no per-second sweep at all), a
 * slot is recycled exactly when the clock comes round to it, and stale slots can never leak into a
 * window however long the version was idle.
 *
 * The ring has `seconds + 1` slots: `seconds` complete ones plus the current, partial one.
 *
 * If the clock steps backwards, records go into the newest second seen so far (never into an old slot).
 */
export class RollingWindow {
  readonly seconds: number;
  readonly samplesPerSecond: number;
  private readonly size: number;
  private readonly slots: (Slot | undefined)[];
  private readonly now: () => number;
  private readonly random: () => number;
  private latestSecond = -Infinity;
  /** reused by aggregate() so reads do not allocate a 13 kB histogram each */
  private readonly merged = new LatencyHistogram();

  constructor(options: RollingWindowOptions = {}) {
    const seconds = options.seconds ?? 300;
    const samplesPerSecond = options.samplesPerSecond ?? 1000;
    if (!Number.isInteger(seconds) || seconds < 1) throw new RangeError(`window seconds must be a positive integer, got ${seconds}`);
    if (!Number.isInteger(samplesPerSecond) || samplesPerSecond < 0) {
      throw new RangeError(`samplesPerSecond must be a non-negative integer, got ${samplesPerSecond}`);
    }
    this.seconds = seconds;
    this.samplesPerSecond = samplesPerSecond;
    this.size = seconds + 1;
    this.slots = new Array<Slot | undefined>(this.size).fill(undefined);
    this.now = options.now ?? Date.now;
    this.random = options.random ?? seededRandom(Math.random() * 2 ** 32);
  }

  /** The current epoch second, never earlier than one already seen. */
  private currentSecond(): number {
    const second = Math.floor(this.now() / 1000);
    if (second > this.latestSecond) {
      this.latestSecond = second;
      return second;
    }
    return this.latestSecond;
  }

  private position(second: number): number {
    const r = second % this.size;
    return r < 0 ? r + this.size : r;
  }

  /**
   * Count one finished request of class `classIndex` (see statusClassIndex) that took `latencyMicros`.
   * O(1); allocates only the first time a slot of the ring is used.
   */
  record(classIndex: number, latencyMicros: number): void {
    const second = this.currentSecond();
    const position = this.position(second);
    let slot = this.slots[position];
    if (slot === undefined) {
      slot = new Slot(second, this.samplesPerSecond);
      this.slots[position] = slot;
    } else if (slot.second !== second) {
      slot.reset(second);
    }
    slot.classes[classIndex]! += 1;
    const value = normalizeMicros(latencyMicros);
    const histogram = slot.histogram;
    // Algorithm R: the n-th value (0-based) replaces a random element with probability capacity / (n + 1)
    const n = histogram.count;
    const capacity = this.samplesPerSecond;
    if (n < capacity) {
      slot.samples[n] = value;
    } else if (capacity > 0) {
      const j = Math.floor(this.random() * (n + 1));
      if (j < capacity) slot.samples[j] = value;
    }
    histogram.record(value);
  }

  /** The last `seconds` complete seconds, excluding the current partial one. */
  aggregate(seconds: number): WindowAggregate {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > this.seconds) {
      throw new RangeError(`a window of ${seconds} s is not available: ask for 1 to ${this.seconds} whole seconds`);
    }
    const current = this.currentSecond();
    const first = current - seconds;
    const merged = this.merged;
    merged.reset();
    const classes = new Float64Array(STATUS_CLASSES.length);
    const chosen: Slot[] = [];
    let sampleCount = 0;
    for (let second = first; second < current; second++) {
      const slot = this.slots[this.position(second)];
      if (slot === undefined || slot.second !== second) continue;
      chosen.push(slot);
      for (let c = 0; c < classes.length; c++) classes[c]! += slot.classes[c]!;
      merged.merge(slot.histogram);
      sampleCount += Math.min(slot.histogram.count, this.samplesPerSecond);
    }
    const samples = new Array<number>(sampleCount);
    let k = 0;
    for (const slot of chosen) {
      const valid = Math.min(slot.histogram.count, this.samplesPerSecond);
      for (let i = 0; i < valid; i++) samples[k++] = slot.samples[i]!;
    }
    const byClass = emptyByClass();
    let requests = 0;
    STATUS_CLASSES.forEach((name, index) => {
      byClass[name] = classes[index]!;
      requests += classes[index]!;
    });
    return {
      seconds,
      from: first * 1000,
      to: current * 1000,
      requests,
      byClass,
      latencyMicros:
        merged.count === 0
          ? null
          : {
              p50: merged.percentile(50),
              p90: merged.percentile(90),
              p95: merged.percentile(95),
              p99: merged.percentile(99),
              max: merged.max,
              mean: merged.mean,
            },
      samples,
    };
  }

  /**
   * The last `seconds` complete seconds in buckets of `step` seconds, oldest first (for the dashboard's
   * charts). The first bucket may be shorter when `step` does not divide `seconds`; empty seconds count 0.
   */
  series(seconds: number, step: number): SeriesPoint[] {
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > this.seconds) {
      throw new RangeError(`a series of ${seconds} s is not available: ask for 1 to ${this.seconds} whole seconds`);
    }
    if (!Number.isInteger(step) || step < 1) throw new RangeError(`series step must be a whole number of seconds >= 1, got ${step}`);
    const current = this.currentSecond();
    const first = current - seconds;
    const merged = new LatencyHistogram();
    const points: SeriesPoint[] = [];
    // buckets end at `current`, so consecutive reads line up on the same boundaries
    let start = first + (seconds % step === 0 ? 0 : (seconds % step) - step);
    for (; start < current; start += step) {
      const from = Math.max(start, first);
      merged.reset();
      let requests = 0;
      let errors = 0;
      for (let second = from; second < start + step; second++) {
        const slot = this.slots[this.position(second)];
        if (slot === undefined || slot.second !== second) continue;
        for (let c = 0; c < STATUS_CLASSES.length; c++) requests += slot.classes[c]!;
        errors += slot.classes[CLASS_5XX_INDEX]! + slot.classes[ERROR_CLASS_INDEX]!;
        merged.merge(slot.histogram);
      }
      const empty = merged.count === 0;
      points.push({ t: from * 1000, seconds: start + step - from, requests, errors, p50Micros: empty ? null : merged.percentile(50), p99Micros: empty ? null : merged.percentile(99) });
    }
    return points;
  }
}
