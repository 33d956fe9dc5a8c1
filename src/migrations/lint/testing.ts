/**
 * What the rule tests call: lint a snippet with one rule enabled and get its findings back as
 * `line:column message` strings, so each test reads as SQL in, findings out.
 */
import { lintSql } from './index.js';
import { RULES } from './rules/index.js';
import type { LintOptions, Violation } from './types.js';

export async function findings(rule: string, sql: string, options: Omit<LintOptions, 'include' | 'exclude'> = {}): Promise<Violation[]> {
  const exclude = RULES.map((each) => each.name).filter((name) => name !== rule);
  const violations = await lintSql(sql, { ...options, include: [rule], exclude });
  return violations.filter((violation) => violation.rule === rule || violation.rule === 'syntax-error');
}

/** How many findings `rule` has on `sql`: the usual assertion of a rule test. */
export async function count(rule: string, sql: string, options: Omit<LintOptions, 'include' | 'exclude'> = {}): Promise<number> {
  return (await findings(rule, sql, options)).length;
}
