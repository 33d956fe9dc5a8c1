/**
 * The shapes the SQL migration linter shares between its engine, its rules and its reporters, kept in
 * one small file so a rule author reads only this and `ast.ts` before writing a rule.
 */
import type { Node } from 'libpg-query';
import type { SchemaModel } from './schema.js';
import type { SessionState } from './session.js';

export type Severity = 'error' | 'warning';

/** One finding. Lines and columns count from 1, like `file:line:column` everywhere else in Promote. */
export interface Violation {
  rule: string;
  severity: Severity;
  message: string;
  /** what to do instead: the safe expand/contract plan, in words */
  help: string | null;
  file: string;
  line: number;
  column: number;
  lineEnd: number;
  columnEnd: number;
  /** the statement's text as written (trimmed), or the bad line for a syntax error */
  statement: string;
}

export interface LintOptions {
  /** the name violations carry; `<stdin>` when omitted */
  file?: string;
  /** the server the migrations run on: several rules depend on it (11: cheap defaults, 12: NOT NULL via CHECK, ...) */
  postgresVersion?: number;
  /** the migration tool wraps each file in a transaction (Flyway does by default) */
  assumeInTransaction?: boolean;
  /** rule names or aliases to turn on beyond the default set (opt-in rules) */
  include?: readonly string[];
  /** rule names or aliases to turn off; wins over include */
  exclude?: readonly string[];
  /**
   * What earlier migrations built: tables, column types, indexes, functions. Pass the same model to
   * the files of one folder in order and each file is judged against what the ones before it made.
   */
  schema?: SchemaModel;
  /** the session time zone the migrations run with, when the file does not SET one */
  timeZone?: string;
}

/** One parsed statement, with where it sits in the file. */
export interface Statement {
  index: number;
  node: Node;
  /** the node's single key: 'AlterTableStmt', 'IndexStmt', ... */
  kind: string;
  text: string;
  /** UTF-16 offsets of the statement's text in the file */
  start: number;
  end: number;
  /** byte offset of the statement in the UTF-8 text the parser saw (AST locations are bytes too) */
  byteStart: number;
}

export interface Finding {
  message: string;
  /** defaults to the rule's own help */
  help?: string;
  /** a byte offset from the AST (`location` fields); the statement's start when omitted or unknown */
  location?: number | undefined;
  /** the statement it is about, for findings reported from `end()` */
  statement?: Statement | undefined;
}

/** What a rule sees: the settings, and the file's state just before the statement it is shown. */
export interface RuleContext {
  readonly postgresVersion: number;
  readonly assumeInTransaction: boolean;
  readonly statementCount: number;
  readonly session: SessionState;
  readonly schema: SchemaModel;
  /** tables created earlier in this file: no rows and no readers yet, so locking them costs nothing */
  isNewTable: (name: string | undefined) => boolean;
  report: (finding: Finding) => void;
}

export interface RuleVisitor {
  statement(statement: Statement): void;
  /** after the last statement, for rules about the file as a whole */
  end?(): void;
}

export interface Rule {
  /** squawk's name for the rule, so configurations and ignore comments carry over */
  readonly name: string;
  readonly severity: Severity;
  /** off unless named in `include` (squawk's opt-in rules) */
  readonly optIn?: boolean;
  /** one line: what the rule catches */
  readonly summary: string;
  /** the default help: the safe way to make this change */
  readonly help: string;
  /** a fresh visitor per file, so a rule may remember what it saw earlier in the file */
  create(context: RuleContext): RuleVisitor;
}
