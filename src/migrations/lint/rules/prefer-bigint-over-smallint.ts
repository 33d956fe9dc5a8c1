/**
 * prefer-bigint-over-smallint: a 16-bit integer runs out at 32,767, and widening it later rewrites the
 * table; the bytes saved rarely matter.
 */
import { defineTypeRule } from './define.js';

const INT16 = new Set(['int2', 'smallint', 'smallserial', 'serial2']);

export const preferBigintOverSmallint = defineTypeRule(
  {
    name: 'prefer-bigint-over-smallint',
    severity: 'warning',
    summary: '16-bit integers run out quickly; widening them later rewrites the table.',
    help: 'Use bigint (or bigint GENERATED ... AS IDENTITY instead of smallserial).',
  },
  (type) => (INT16.has(type.name) ? '16-bit integers run out at 32,767, and widening later rewrites the table; use bigint' : undefined),
);
