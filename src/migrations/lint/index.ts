/**
 * The linter for plain-SQL migrations (Flyway-style `V<n>__name.sql` files): parse with the real
 * Postgres parser, walk the statements once while tracking the session (transactions, timeouts) and
 * the schema the migrations build, let each enabled rule look at each statement, then drop what
 * ignore comments silence. Rules carry squawk's names; unsafe changes get the expand/contract plan.
 *
 * `lintSql` never throws on bad SQL: a syntax error is a `syntax-error` violation with its position.
 */
import { as } from './ast.js';
import { findIgnore, readDirectives, type IgnoreDirective } from './ignore.js';
import { parseSql, type ParsedFile } from './parse.js';
import { RULES, resolveRuleName, selectRules } from './rules/index.js';
import { SchemaModel } from './schema.js';
import { Session, type SessionState } from './session.js';
import type { Finding, LintOptions, Rule, RuleContext, Statement, Violation } from './types.js';

export { SchemaModel } from './schema.js';
export { RULES, ALIASES, resolveRuleName, selectRules, checkRuleNames } from './rules/index.js';
export { migrationOrder } from './files.js';
export { formatText, toSquawkJson } from './report.js';
export type { LintOptions, Rule, Severity, Violation } from './types.js';

export const DEFAULT_POSTGRES_VERSION = 15;

export async function lintSql(text: string, options: LintOptions = {}): Promise<Violation[]> {
  const file = options.file ?? '<stdin>';
  const rules = selectRules(options.include ?? [], options.exclude ?? []);
  const parsed = await parseSql(text);
  if (!parsed.ok) {
    const { line, column } = parsed.source.position(parsed.index);
    const help = 'Fix the SQL: Postgres would reject this file before running any of it.';
    return [{ rule: 'syntax-error', severity: 'error', message: parsed.message, help, file, line, column, lineEnd: line, columnEnd: column, statement: parsed.source.lineText(parsed.index).trim() }];
  }
  const { ignores, disableAssumeInTransaction } = readDirectives(parsed.comments, resolveRuleName);
  const found = runRules(parsed, rules, options, !disableAssumeInTransaction && Boolean(options.assumeInTransaction));
  const violations: Violation[] = [];
  for (const { rule, finding } of found) {
    if (findIgnore(ignores, rule.name, finding.statement?.index)) continue;
    violations.push(toViolation(parsed, file, rule, finding));
  }
  if (rules.some((rule) => rule.name === 'unused-ignore')) violations.push(...unusedIgnores(parsed, file, ignores, rules));
  return violations.sort((a, b) => a.line - b.line || a.column - b.column);
}

function runRules(parsed: ParsedFile, rules: readonly Rule[], options: LintOptions, assumeInTransaction: boolean): Array<{ rule: Rule; finding: Finding }> {
  const schema = options.schema ?? new SchemaModel();
  const session = new Session({ assumeInTransaction, timeZone: options.timeZone });
  const newTables = new Set<string>();
  const found: Array<{ rule: Rule; finding: Finding }> = [];
  let current: Statement | undefined;
  let state: SessionState = session.state();
  const visitors = rules.map((rule) => {
    const context: RuleContext = {
      postgresVersion: options.postgresVersion ?? DEFAULT_POSTGRES_VERSION,
      assumeInTransaction,
      statementCount: parsed.statements.length,
      get session() {
        return state;
      },
      schema,
      isNewTable: (name) => name !== undefined && newTables.has(name),
      report: (finding) => found.push({ rule, finding: { ...finding, statement: finding.statement ?? current } }),
    };
    return rule.create(context);
  });
  for (const statement of parsed.statements) {
    current = statement;
    state = session.state();
    for (const visitor of visitors) visitor.statement(statement);
    session.apply(statement.node, statement.index);
    schema.apply(statement.node);
    trackNewTables(statement, newTables);
  }
  current = undefined;
  state = session.state();
  for (const visitor of visitors) visitor.end?.();
  return found;
}

function trackNewTables(statement: Statement, newTables: Set<string>): void {
  const created = as(statement.node, 'CreateStmt')?.relation?.relname ?? as(statement.node, 'CreateTableAsStmt')?.into?.rel?.relname;
  if (created) newTables.add(created);
  const rename = as(statement.node, 'RenameStmt');
  if (rename?.renameType === 'OBJECT_TABLE' && rename.relation?.relname && newTables.has(rename.relation.relname) && rename.newname) newTables.add(rename.newname);
}

function toViolation(parsed: ParsedFile, file: string, rule: Rule, finding: Finding): Violation {
  const statement = finding.statement;
  const source = parsed.source;
  let index = statement?.start ?? 0;
  if (statement && finding.location !== undefined && finding.location >= statement.byteStart) {
    const at = source.indexOfByte(finding.location);
    if (at <= statement.end) index = at;
  }
  const start = source.position(index);
  const end = source.position(statement?.end ?? index);
  return {
    rule: rule.name,
    severity: rule.severity,
    message: finding.message,
    help: finding.help ?? rule.help,
    file,
    line: start.line,
    column: start.column,
    lineEnd: end.line,
    columnEnd: end.column,
    statement: statement?.text ?? '',
  };
}

function unusedIgnores(parsed: ParsedFile, file: string, ignores: readonly IgnoreDirective[], rules: readonly Rule[]): Violation[] {
  const enabled = new Set(rules.map((rule) => rule.name));
  const rule = RULES.find((each) => each.name === 'unused-ignore');
  if (!rule) return [];
  return ignores.flatMap((directive) => {
    const { line, column } = parsed.source.position(directive.start);
    const base = { rule: rule.name, severity: rule.severity, help: rule.help, file, line, column, lineEnd: line, columnEnd: column, statement: parsed.source.lineText(directive.start).trim() };
    const problems = directive.unknown.map((name) => ({ ...base, message: `Unknown rule name "${name}" in an ignore comment.` }));
    const known = directive.rules.length > 0 || directive.unknown.length === 0;
    if (!directive.used && known && directive.rules.every((name) => enabled.has(name))) {
      problems.push({ ...base, message: `This ignore comment silences nothing${directive.scope === 'statement' ? ' on the statement after it' : ' in this file'}.` });
    }
    return problems;
  });
}
