/**
 * The statistics the compare judges run, in one import. Pure functions of plain arrays, no
 * dependency; each file says what it computes, how it matches R, and what it does where R gives up.
 */
export { StatsInputError, type Alternative } from './input.js';
export { pnorm, qnorm } from './normal.js';
export { mean, median, quantile } from './summary.js';
export { mannWhitney, type MannWhitneyOptions, type MannWhitneyResult } from './mann-whitney.js';
export { twoProportion, type TwoProportionOptions, type TwoProportionResult } from './two-proportion.js';
export { ksTest, type KsOptions, type KsResult } from './kolmogorov-smirnov.js';
export { tailExceedance, type TailExceedanceOptions, type TailExceedanceResult } from './tail-exceedance.js';
