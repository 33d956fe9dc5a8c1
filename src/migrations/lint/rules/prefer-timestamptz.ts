/**
 * prefer-timestamptz: timestamp without time zone drops the offset it is given, so two instants hours
 * apart can be stored as the same value; timestamptz stores the instant.
 */
import { defineTypeRule } from './define.js';

export const preferTimestamptz = defineTypeRule(
  {
    name: 'prefer-timestamptz',
    severity: 'warning',
    summary: 'timestamp without time zone loses the offset of the values stored in it.',
    help: 'Use timestamptz, which stores the instant and shows it in the session time zone.',
  },
  (type) => (type.name === 'timestamp' ? 'timestamp without time zone drops the UTC offset of what is stored; use timestamptz' : undefined),
);
