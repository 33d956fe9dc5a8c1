/**
 * prefer-bigint-over-int: a 32-bit key runs out at 2.1 billion, and widening it later is one of the
 * most expensive migrations there is (int -> bigint rewrites the table). Starting with bigint costs
 * four bytes a row.
 */
import { defineTypeRule } from './define.js';

const INT32 = new Set(['int4', 'int', 'integer', 'serial', 'serial4']);

export const preferBigintOverInt = defineTypeRule(
  {
    name: 'prefer-bigint-over-int',
    severity: 'warning',
    summary: '32-bit integers can run out; widening them later rewrites the table.',
    help: 'Use bigint (or bigint GENERATED ... AS IDENTITY instead of serial).',
  },
  (type) => (INT32.has(type.name) ? '32-bit integers run out at 2,147,483,647, and changing to bigint later rewrites the table; use bigint' : undefined),
);
