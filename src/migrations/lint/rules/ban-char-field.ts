/**
 * ban-char-field: char(n) pads every value with spaces, compares in surprising ways and is no faster
 * than text in Postgres; it is almost always a mistake carried over from another database.
 */
import { defineTypeRule } from './define.js';

export const banCharField = defineTypeRule(
  {
    name: 'ban-char-field',
    severity: 'warning',
    summary: 'char(n) pads with spaces and has no advantage over text in Postgres.',
    help: 'Use text (with a CHECK on length if the length matters) or varchar.',
  },
  (type) => (type.name === 'bpchar' ? 'char(n) pads values with spaces and is no faster than text; use text or varchar' : undefined),
);
