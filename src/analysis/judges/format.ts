/**
 * How judges write numbers into a reason: a person reads "candidate +212 (+21.2%)" and "p 3.1e-7",
 * not 212.03918474 or 0.000000311. Four significant digits, whole numbers as they are, signs on
 * changes, and the statistics record keeps the exact values.
 */

/** four significant digits; whole numbers in full */
export function formatNumber(value: number): string {
  if (Number.isInteger(value) && Math.abs(value) < 1e15) return String(value);
  if (!Number.isFinite(value)) return value > 0 ? '∞' : value < 0 ? '-∞' : 'NaN';
  return String(Number(value.toPrecision(4)));
}

/** a change: "+212", "-3.5", "0" */
export function signed(value: number): string {
  return value > 0 ? `+${formatNumber(value)}` : formatNumber(value);
}

/** 0.212 -> "21.2%" */
export function percent(share: number): string {
  return `${formatNumber(share * 100)}%`;
}

/** 0.212 -> "+21.2%" */
export function signedPercent(share: number): string {
  return share > 0 ? `+${percent(share)}` : percent(share);
}

/** a difference of two rates in percentage points: 0.19 -> "+19 points" */
export function signedPoints(difference: number): string {
  return `${signed(difference * 100)} points`;
}

/** a p-value: "0.0312", "3.1e-7" */
export function formatP(p: number): string {
  return p !== 0 && p < 1e-4 ? p.toExponential(1) : formatNumber(Number(p.toPrecision(3)));
}

/** JSON keeps no infinities: the statistics record stores null instead (the reason says why) */
export function finiteOrNull(value: number): number | null {
  return Number.isFinite(value) ? value : null;
}

/** the sign a limit is written with for the judge's bad direction: "+10%", "-10%", "±10%" */
export function limitSign(direction: 'increase' | 'decrease' | 'either'): string {
  return direction === 'increase' ? '+' : direction === 'decrease' ? '-' : '±';
}
