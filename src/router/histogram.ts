/**
 * A log-linear latency histogram over non-negative integer microseconds, with the bucket layout of an
 * HDR Histogram at 2 significant digits: values below 256 µs have one bucket each; above that every
 * power of two is cut into 128 equal buckets, so a bucket is never wider than 1/128 of its lower bound.
 * Percentiles report the middle of the bucket (clamped to the exact min and max), so they are within
 * {@link LatencyHistogram.RELATIVE_ERROR} (1/256, about 0.4 %) of the exact value.
 *
 * Written here rather than taken from `hdr-histogram-js` because recording is on the router's hot path
 * and merging happens on every analysis read: this one records in a few ns without allocating and
 * merges only the range of buckets that were touched (see the micro-benchmark in the router notes).
 *
 * Counts are 32-bit per bucket: a per-second slot would need 4e9 requests in one bucket to overflow.
 */

const SUB_BUCKET_BITS = 7;
const SUB_BUCKETS = 1 << SUB_BUCKET_BITS; // 128 buckets per power of two
const LINEAR_LIMIT = SUB_BUCKETS * 2; // values below 256 map 1:1
/** the largest value kept; larger values are recorded as this (about 71 minutes) */
export const MAX_TRACKABLE_MICROS = 0xffff_ffff;
/** 24 shifted ranges of 128 buckets above the 256 linear ones */
const BUCKET_COUNT = (32 - SUB_BUCKET_BITS) * SUB_BUCKETS + SUB_BUCKETS;

/** Round to an integer microsecond within [0, MAX_TRACKABLE_MICROS]; NaN and negatives become 0. */
export function normalizeMicros(value: number): number {
  if (!(value > 0)) return 0;
  if (value >= MAX_TRACKABLE_MICROS) return MAX_TRACKABLE_MICROS;
  return Math.round(value);
}

/** The bucket of a normalized value (an integer in [0, 2^32)). */
export function bucketIndex(value: number): number {
  if (value < LINEAR_LIMIT) return value;
  const shift = 31 - Math.clz32(value) - SUB_BUCKET_BITS;
  return (shift << SUB_BUCKET_BITS) + (value >>> shift);
}

/** The smallest value that falls into bucket `index`. */
export function bucketLowerBound(index: number): number {
  if (index < LINEAR_LIMIT) return index;
  const shift = (index >>> SUB_BUCKET_BITS) - 1;
  return (index - (shift << SUB_BUCKET_BITS)) * 2 ** shift;
}

/** How many integer values fall into bucket `index`. */
export function bucketWidth(index: number): number {
  if (index < LINEAR_LIMIT) return 1;
  return 2 ** ((index >>> SUB_BUCKET_BITS) - 1);
}

/**
 * The rank (1-based) of the p-th percentile among n sorted values by the nearest-rank definition: the
 * smallest value with at least p % of the values at or below it.
 */
export function percentileRank(p: number, n: number): number {
  const rank = Math.ceil((p * n) / 100);
  return rank < 1 ? 1 : rank > n ? n : rank;
}

export class LatencyHistogram {
  /** the largest relative distance between a reported percentile and the exact one */
  static readonly RELATIVE_ERROR = 1 / (2 * SUB_BUCKETS);
  static readonly BUCKET_COUNT = BUCKET_COUNT;

  private readonly counts = new Uint32Array(BUCKET_COUNT);
  /** the range of buckets that may be non-zero, so reset and merge skip the rest */
  private low = BUCKET_COUNT;
  private high = -1;
  count = 0;
  /** exact sum of the recorded (normalized) values */
  sum = 0;
  min = Infinity;
  max = 0;

  /** Record one value in microseconds (rounded; clamped to [0, MAX_TRACKABLE_MICROS]). O(1), no allocation. */
  record(micros: number): void {
    const v = normalizeMicros(micros);
    const i = bucketIndex(v);
    this.counts[i]! += 1;
    if (i < this.low) this.low = i;
    if (i > this.high) this.high = i;
    this.count += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** Add every value of `other` to this histogram. Touches only `other`'s occupied bucket range. */
  merge(other: LatencyHistogram): void {
    if (other.count === 0) return;
    const from = other.low;
    const to = other.high;
    const mine = this.counts;
    const theirs = other.counts;
    for (let i = from; i <= to; i++) mine[i]! += theirs[i]!;
    if (from < this.low) this.low = from;
    if (to > this.high) this.high = to;
    this.count += other.count;
    this.sum += other.sum;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
  }

  reset(): void {
    if (this.high >= this.low) this.counts.fill(0, this.low, this.high + 1);
    this.low = BUCKET_COUNT;
    this.high = -1;
    this.count = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = 0;
  }

  get mean(): number {
    return this.count === 0 ? 0 : this.sum / this.count;
  }

  /**
   * The p-th percentile (0..100) by nearest rank, reported as the middle of its bucket clamped to the
   * exact min and max: p = 0 gives the min and p = 100 the max exactly. NaN when empty.
   */
  percentile(p: number): number {
    if (this.count === 0) return Number.NaN;
    if (p >= 100) return this.max;
    if (p <= 0) return this.min;
    const rank = percentileRank(p, this.count);
    const counts = this.counts;
    let seen = 0;
    for (let i = this.low; i <= this.high; i++) {
      seen += counts[i]!;
      if (seen >= rank) {
        const width = bucketWidth(i);
        const middle = bucketLowerBound(i) + (width - 1) / 2;
        return middle < this.min ? this.min : middle > this.max ? this.max : middle;
      }
    }
    return this.max;
  }
}
