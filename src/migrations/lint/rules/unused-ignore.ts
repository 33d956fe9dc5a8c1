/**
 * unused-ignore: an ignore comment that names an unknown rule, or silences nothing, is stale: the
 * problem it excused is gone, or a typo means it never excused anything. The engine finds these
 * after the other rules ran (see ../index.ts); this entry gives the rule its name and settings.
 */
import type { Rule } from '../types.js';

export const unusedIgnore: Rule = {
  name: 'unused-ignore',
  severity: 'warning',
  summary: 'An ignore comment names an unknown rule or silences nothing.',
  help: 'Remove the comment, or fix the rule name in it.',
  create: () => ({ statement: () => undefined }),
};
