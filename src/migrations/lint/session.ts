/**
 * What a Postgres session running the file would know at each statement: whether a transaction is
 * open, and which settings (lock_timeout, statement_timeout, TimeZone) are in force. Several rules
 * depend on it, so it is tracked once here rather than in each rule.
 */
import type { Node } from 'libpg-query';
import { as, constant, lastName, strings } from './ast.js';

export interface SessionState {
  /** a transaction is open: explicit BEGIN, or the migration tool's (assumeInTransaction) */
  inTransaction: boolean;
  /** the BEGIN without COMMIT or ROLLBACK yet, if any */
  openBegin: number | undefined;
  lockTimeout: boolean;
  statementTimeout: boolean;
  timeZone: string | undefined;
}

const TRACKED = ['lock_timeout', 'statement_timeout', 'timezone'] as const;
type Tracked = (typeof TRACKED)[number];

export class Session {
  private explicitBegin: number | undefined;
  private inTransaction: boolean;
  private readonly values = new Map<Tracked, string | undefined>();
  /** SET LOCAL values, dropped when the transaction ends */
  private readonly local = new Map<Tracked, string | undefined>();

  constructor(options: { assumeInTransaction: boolean; timeZone?: string | undefined }) {
    this.inTransaction = options.assumeInTransaction;
    if (options.timeZone) this.values.set('timezone', options.timeZone);
  }

  state(): SessionState {
    const value = (name: Tracked) => (this.local.has(name) ? this.local.get(name) : this.values.get(name));
    return {
      inTransaction: this.inTransaction,
      openBegin: this.explicitBegin,
      lockTimeout: isEnabledTimeout(value('lock_timeout')),
      statementTimeout: isEnabledTimeout(value('statement_timeout')),
      timeZone: value('timezone'),
    };
  }

  /** Moves the session past one statement. */
  apply(node: Node, index: number): void {
    const transaction = as(node, 'TransactionStmt');
    if (transaction) {
      const kind = transaction.kind;
      if (kind === 'TRANS_STMT_BEGIN' || kind === 'TRANS_STMT_START') {
        this.inTransaction = true;
        this.explicitBegin ??= index;
      } else if (kind === 'TRANS_STMT_COMMIT' || kind === 'TRANS_STMT_ROLLBACK' || kind === 'TRANS_STMT_PREPARE') {
        this.inTransaction = false;
        this.explicitBegin = undefined;
        this.local.clear();
      }
      return;
    }
    const set = as(node, 'VariableSetStmt');
    if (set) return this.applySet(set.kind, set.name, set.args, Boolean(set.is_local));
    const call = as(as(as(node, 'SelectStmt')?.targetList?.[0], 'ResTarget')?.val, 'FuncCall');
    if (call && lastName(call.funcname) === 'set_config') {
      const [name, value, isLocal] = (call.args ?? []).map((arg) => constant(arg));
      if (typeof name === 'string' && typeof value === 'string') this.assign(name.toLowerCase(), value, isLocal === true);
    }
  }

  private applySet(kind: string | undefined, name: string | undefined, args: Node[] | undefined, isLocal: boolean): void {
    if (kind === 'VAR_RESET_ALL') {
      this.values.clear();
      this.local.clear();
      return;
    }
    if (!name) return;
    const cleared = kind === 'VAR_RESET' || kind === 'VAR_SET_DEFAULT' || kind === 'VAR_SET_CURRENT';
    const first = args?.[0];
    const value = cleared ? undefined : (constant(first) ?? strings(args).join(','));
    this.assign(name.toLowerCase(), value === undefined ? undefined : String(value), isLocal);
  }

  private assign(name: string, value: string | undefined, isLocal: boolean): void {
    if (!(TRACKED as readonly string[]).includes(name)) return;
    const key = name as Tracked;
    if (isLocal) {
      // outside a transaction SET LOCAL only warns and changes nothing
      if (this.inTransaction) this.local.set(key, value);
      return;
    }
    this.values.set(key, value);
  }
}

/** `0`, `'0'`, `'0s'` and an unset value all mean "no timeout". */
function isEnabledTimeout(value: string | undefined): boolean {
  return value !== undefined && !/^\s*0+(\.0*)?\s*[a-z]*\s*$/i.test(value);
}
