/**
 * How violations are shown: a compiler-style text report for people, and JSON shaped like squawk's
 * JSON reporter (an array of { file, line, column, level, message, help, rule_name, column_end,
 * line_end }) so tools written for squawk can read it, plus our fields (rule, severity, statement).
 * One difference: squawk's JSON counts lines and columns from 0; ours from 1, like its text output,
 * editors, and every `file:line:column` Promote prints.
 */
import type { Violation } from './types.js';

export interface SquawkJsonViolation {
  file: string;
  line: number;
  column: number;
  level: 'Error' | 'Warning';
  message: string;
  help: string | null;
  rule_name: string;
  column_end: number;
  line_end: number;
  rule: string;
  severity: Violation['severity'];
  statement: string;
}

export function toSquawkJson(violations: readonly Violation[]): SquawkJsonViolation[] {
  return violations.map((violation) => ({
    file: violation.file,
    line: violation.line,
    column: violation.column,
    level: violation.severity === 'error' ? 'Error' : 'Warning',
    message: violation.message,
    help: violation.help,
    rule_name: violation.rule,
    column_end: violation.columnEnd,
    line_end: violation.lineEnd,
    rule: violation.rule,
    severity: violation.severity,
    statement: violation.statement,
  }));
}

/** `file:line:column: error rule-name: message`, the statement's first line, and the help. */
export function formatText(violations: readonly Violation[]): string {
  return violations
    .map((violation) => {
      const first = violation.statement.split(/\r?\n/)[0] ?? '';
      const more = violation.statement.includes('\n') ? ' ...' : '';
      const lines = [`${violation.file}:${violation.line}:${violation.column}: ${violation.severity} ${violation.rule}: ${violation.message}`];
      if (first) lines.push(`  | ${first}${more}`);
      if (violation.help) lines.push(`  help: ${violation.help}`);
      return `${lines.join('\n')}\n`;
    })
    .join('\n');
}
