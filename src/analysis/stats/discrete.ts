/**
 * Upper tails of the hypergeometric and binomial distributions, and the Clopper-Pearson lower bound
 * of a binomial proportion: what the tail test (./tail-exceedance.ts) needs. Computed by summing the
 * probability terms, generated from one another by their ratio and kept as logarithms, then
 * normalized by their own total: no factorials (which overflow), no log-gamma (whose differences lose
 * digits for thousands of trials), and no underflow of a tail that starts far below its mode.
 * A few thousand terms per call; accurate to about 1e-12 relative for the sizes a canary sees.
 */
import { StatsInputError } from './input.js';

/** log(sum(exp(values))) without overflow */
function logSumExp(values: readonly number[], from = 0): number {
  let largest = -Infinity;
  for (let index = from; index < values.length; index++) largest = Math.max(largest, values[index]!);
  if (largest === -Infinity) return -Infinity;
  let sum = 0;
  for (let index = from; index < values.length; index++) sum += Math.exp(values[index]! - largest);
  return largest + Math.log(sum);
}

function requireCount(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0) throw new StatsInputError(`${name} must be a whole number of at least 0, got ${String(value)}`);
}

/**
 * P(H >= atLeast) where H counts the marked items among `draws` drawn without replacement from
 * `marked + unmarked` items (R: phyper(atLeast - 1, marked, unmarked, draws, lower.tail = FALSE)).
 */
export function hypergeometricUpperTail(atLeast: number, marked: number, unmarked: number, draws: number): number {
  requireCount(marked, 'marked');
  requireCount(unmarked, 'unmarked');
  requireCount(draws, 'draws');
  if (draws > marked + unmarked) throw new StatsInputError(`cannot draw ${draws} of ${marked + unmarked} items`);
  const fewest = Math.max(0, draws - unmarked);
  const most = Math.min(marked, draws);
  if (atLeast <= fewest) return 1;
  if (atLeast > most) return 0;
  // log of C(marked, h) C(unmarked, draws - h), up to a constant, for h = fewest..most
  const logTerms = [0];
  for (let h = fewest; h < most; h++) {
    const ratio = ((marked - h) * (draws - h)) / ((h + 1) * (unmarked - draws + h + 1));
    logTerms.push(logTerms.at(-1)! + Math.log(ratio));
  }
  return Math.min(1, Math.exp(logSumExp(logTerms, Math.ceil(atLeast) - fewest) - logSumExp(logTerms)));
}

/** log C(trials, h) for h = 0..trials, by the ratio of neighbours */
function logBinomialCoefficients(trials: number): number[] {
  const logCoefficients = [0];
  for (let h = 0; h < trials; h++) logCoefficients.push(logCoefficients.at(-1)! + Math.log((trials - h) / (h + 1)));
  return logCoefficients;
}

function binomialUpperTailFrom(logCoefficients: readonly number[], atLeast: number, probability: number): number {
  const trials = logCoefficients.length - 1;
  if (atLeast <= 0) return 1;
  if (atLeast > trials) return 0;
  if (probability === 0) return 0;
  if (probability === 1) return 1;
  const logOdds = Math.log(probability) - Math.log1p(-probability);
  const logTerms = logCoefficients.map((logCoefficient, h) => logCoefficient + h * logOdds);
  return Math.min(1, Math.exp(logSumExp(logTerms, Math.ceil(atLeast)) - logSumExp(logTerms)));
}

/** P(X >= atLeast) for X binomial with `trials` and success `probability` (R: pbinom(atLeast - 1, ..., lower.tail = FALSE)). */
export function binomialUpperTail(atLeast: number, trials: number, probability: number): number {
  requireCount(trials, 'trials');
  if (!(probability >= 0 && probability <= 1)) throw new StatsInputError(`probability must be between 0 and 1, got ${String(probability)}`);
  return binomialUpperTailFrom(logBinomialCoefficients(trials), atLeast, probability);
}

/**
 * The one-sided Clopper-Pearson lower confidence bound of a proportion after `successes` in `trials`:
 * the p at which `successes` or more would happen with probability 1 - confLevel (R:
 * binom.test(successes, trials, alternative = "greater", conf.level)$conf.int[1]). Found by bisection.
 */
export function binomialLowerBound(successes: number, trials: number, confLevel: number): number {
  requireCount(successes, 'successes');
  requireCount(trials, 'trials');
  if (successes > trials) throw new StatsInputError(`successes (${successes}) cannot exceed trials (${trials})`);
  if (successes === 0) return 0;
  const logCoefficients = logBinomialCoefficients(trials);
  const alpha = 1 - confLevel;
  // the tail grows with p: keep tail(low) < alpha <= tail(high)
  let low = 0;
  let high = 1;
  for (let step = 0; step < 200 && high - low > 1e-13 * high; step++) {
    const middle = (low + high) / 2;
    if (binomialUpperTailFrom(logCoefficients, successes, middle) < alpha) low = middle;
    else high = middle;
  }
  return (low + high) / 2;
}
