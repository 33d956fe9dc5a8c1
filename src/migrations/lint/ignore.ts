/**
 * Ignore comments, in our spelling and squawk's so existing files keep working:
 *
 *   -- promote-lint-ignore ban-drop-column, renaming-column -- why
 *   -- squawk-ignore ban-drop-column            (the statement after the comment)
 *   -- promote-lint-ignore-file prefer-robust-stmts  / squawk-ignore-file   (the whole file)
 *   -- promote-lint-disable-assume-in-transaction / squawk-disable-assume-in-transaction
 *
 * A statement-level comment applies to the statement it precedes; without rule names it silences
 * every rule there, like the file-level one does for the file.
 */
import type { Comment } from './parse.js';

export interface IgnoreDirective {
  scope: 'statement' | 'file';
  /** resolved rule names; empty means every rule */
  rules: string[];
  /** names that are neither rules nor aliases */
  unknown: string[];
  /** the statement it applies to (statement scope) */
  before: number;
  start: number;
  used: boolean;
}

const PREFIXES: ReadonlyArray<[string, IgnoreDirective['scope']]> = [
  ['promote-lint-ignore-file', 'file'],
  ['squawk-ignore-file', 'file'],
  ['promote-lint-ignore', 'statement'],
  ['squawk-ignore', 'statement'],
];
const DISABLE_ASSUME = ['promote-lint-disable-assume-in-transaction', 'squawk-disable-assume-in-transaction'];

export function readDirectives(
  comments: readonly Comment[],
  resolve: (name: string) => readonly string[] | undefined,
): { ignores: IgnoreDirective[]; disableAssumeInTransaction: boolean } {
  const ignores: IgnoreDirective[] = [];
  let disableAssumeInTransaction = false;
  for (const comment of comments) {
    const body = comment.body.trim().replace(/\s--.*$/s, '').trim();
    if (DISABLE_ASSUME.some((word) => body === word)) disableAssumeInTransaction = true;
    const match = PREFIXES.find(([prefix]) => body === prefix || (body.startsWith(prefix) && /[\s,]/.test(body.charAt(prefix.length))));
    if (!match) continue;
    const [prefix, scope] = match;
    const names = body.slice(prefix.length).split(/[\s,]+/).filter(Boolean);
    const rules: string[] = [];
    const unknown: string[] = [];
    for (const name of names) {
      const resolved = resolve(name);
      if (resolved) rules.push(...resolved);
      else unknown.push(name);
    }
    ignores.push({ scope, rules, unknown, before: comment.before, start: comment.start, used: false });
  }
  return { ignores, disableAssumeInTransaction };
}

/** The directive that silences `rule` at statement `index`, marking it used; undefined when none does. */
export function findIgnore(ignores: readonly IgnoreDirective[], rule: string, index: number | undefined): IgnoreDirective | undefined {
  const matches = (directive: IgnoreDirective) =>
    (directive.rules.length === 0 && directive.unknown.length === 0) || directive.rules.includes(rule);
  const found =
    ignores.find((directive) => directive.scope === 'statement' && directive.before === index && matches(directive)) ??
    ignores.find((directive) => directive.scope === 'file' && matches(directive));
  if (found) found.used = true;
  return found;
}
