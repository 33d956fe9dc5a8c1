/**
 * What every test in this folder checks before computing: numbers that are finite, sizes that are
 * not empty, levels inside (0, 1). A bad input is a PromoteError naming the sample and the position,
 * so a provider that returned NaN shows up as "candidate[17] is NaN", never as a NaN p-value that
 * quietly passes or fails a canary.
 */
import { PromoteError } from '../../errors.js';

/** Which alternative hypothesis a test checks, spelled as R spells it. */
export type Alternative = 'two.sided' | 'less' | 'greater';

export const alternatives: readonly Alternative[] = ['two.sided', 'less', 'greater'];

/** The inputs of a statistical test are unusable: empty, not finite, out of range. */
export class StatsInputError extends PromoteError {
  constructor(message: string) {
    super(message);
    this.name = 'StatsInputError';
  }
}

/** Throws unless `values` is a non-empty list of finite numbers; `name` is used in the message. */
export function requireFiniteSample(values: readonly number[], name: string): void {
  if (values.length === 0) throw new StatsInputError(`${name} is empty: a test needs at least one value`);
  values.forEach((value, index) => {
    if (!Number.isFinite(value)) throw new StatsInputError(`${name}[${index}] is ${String(value)}: samples must be finite numbers`);
  });
}

/** Throws unless `level` is a number strictly between 0 and 1. */
export function requireLevel(level: number, name: string): void {
  if (!(level > 0 && level < 1)) throw new StatsInputError(`${name} must be between 0 and 1 (exclusive), got ${String(level)}`);
}

export function requireAlternative(alternative: string): asserts alternative is Alternative {
  if (!(alternatives as readonly string[]).includes(alternative)) {
    throw new StatsInputError(`alternative must be one of ${alternatives.join(', ')}, got "${alternative}"`);
  }
}

/** A sorted copy (ascending, numeric); the input is never reordered. */
export function sortedCopy(values: readonly number[]): Float64Array {
  return Float64Array.from(values).sort();
}

/** True when every value equals the first. */
export function isConstant(values: ArrayLike<number>): boolean {
  for (let index = 1; index < values.length; index++) if (values[index] !== values[0]) return false;
  return true;
}
