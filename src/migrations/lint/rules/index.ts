/**
 * The rule registry: every rule under squawk's name, the aliases squawk accepts (so existing
 * `--exclude` lists and ignore comments keep working), and which rules a run enables.
 */
import type { Rule } from '../types.js';
import { addingFieldWithDefault } from './adding-field-with-default.js';
import { addingForeignKeyConstraint } from './adding-foreign-key-constraint.js';
import { addingNotNullableField } from './adding-not-nullable-field.js';
import { addingRequiredField } from './adding-required-field.js';
import { addingSerialPrimaryKeyField } from './adding-serial-primary-key-field.js';
import { banAlterDomainWithAddConstraint } from './ban-alter-domain-with-add-constraint.js';
import { banCharField } from './ban-char-field.js';
import { banConcurrentIndexCreationInTransaction } from './ban-concurrent-index-creation-in-transaction.js';
import { banCreateDomainWithConstraint } from './ban-create-domain-with-constraint.js';
import { banDropColumn } from './ban-drop-column.js';
import { banDropDatabase } from './ban-drop-database.js';
import { banDropNotNull } from './ban-drop-not-null.js';
import { banDropTable } from './ban-drop-table.js';
import { banDuplicateColumnAssignments } from './ban-duplicate-column-assignments.js';
import { banTruncateCascade } from './ban-truncate-cascade.js';
import { banUncommittedTransaction } from './ban-uncommitted-transaction.js';
import { changingColumnType } from './changing-column-type.js';
import { constraintMissingNotValid } from './constraint-missing-not-valid.js';
import { disallowedUniqueConstraint } from './disallowed-unique-constraint.js';
import { identifierTooLong } from './identifier-too-long.js';
import { preferBigintOverInt } from './prefer-bigint-over-int.js';
import { preferBigintOverSmallint } from './prefer-bigint-over-smallint.js';
import { preferIdentity } from './prefer-identity.js';
import { preferRepack } from './prefer-repack.js';
import { preferRobustStmts } from './prefer-robust-stmts.js';
import { preferTextField } from './prefer-text-field.js';
import { preferTimestamptz } from './prefer-timestamptz.js';
import { renamingColumn } from './renaming-column.js';
import { renamingTable } from './renaming-table.js';
import { requireConcurrentIndexCreation } from './require-concurrent-index-creation.js';
import { requireConcurrentIndexDeletion } from './require-concurrent-index-deletion.js';
import { requireConcurrentPartitionDetach } from './require-concurrent-partition-detach.js';
import { requireConcurrentReindex } from './require-concurrent-reindex.js';
import { requireEnumValueOrdering } from './require-enum-value-ordering.js';
import { requireLockTimeout } from './require-lock-timeout.js';
import { requireStatementTimeout } from './require-statement-timeout.js';
import { requireTableSchema } from './require-table-schema.js';
import { transactionNesting } from './transaction-nesting.js';
import { unusedIgnore } from './unused-ignore.js';

export const RULES: readonly Rule[] = [
  addingFieldWithDefault,
  addingForeignKeyConstraint,
  addingNotNullableField,
  addingRequiredField,
  addingSerialPrimaryKeyField,
  banAlterDomainWithAddConstraint,
  banCharField,
  banConcurrentIndexCreationInTransaction,
  banCreateDomainWithConstraint,
  banDropColumn,
  banDropDatabase,
  banDropNotNull,
  banDropTable,
  banDuplicateColumnAssignments,
  banTruncateCascade,
  banUncommittedTransaction,
  changingColumnType,
  constraintMissingNotValid,
  disallowedUniqueConstraint,
  identifierTooLong,
  preferBigintOverInt,
  preferBigintOverSmallint,
  preferIdentity,
  preferRepack,
  preferRobustStmts,
  preferTextField,
  preferTimestamptz,
  renamingColumn,
  renamingTable,
  requireConcurrentIndexCreation,
  requireConcurrentIndexDeletion,
  requireConcurrentPartitionDetach,
  requireConcurrentReindex,
  requireEnumValueOrdering,
  requireLockTimeout,
  requireStatementTimeout,
  requireTableSchema,
  transactionNesting,
  unusedIgnore,
];

/** Names squawk accepts for more than one rule, or spelled differently. */
export const ALIASES: Readonly<Record<string, readonly string[]>> = {
  // squawk 1's single rule for both, removed in squawk 2
  'prefer-big-int': ['prefer-bigint-over-int', 'prefer-bigint-over-smallint'],
  // squawk's earlier rule, now split in two
  'require-timeout-settings': ['require-lock-timeout', 'require-statement-timeout'],
  'prefer-timestamp-tz': ['prefer-timestamptz'],
};

/** The rules a name stands for, or undefined when it is neither a rule nor an alias. */
export function resolveRuleName(name: string): readonly string[] | undefined {
  const lower = name.trim().toLowerCase();
  if (RULES.some((rule) => rule.name === lower)) return [lower];
  return ALIASES[lower];
}

/** The names (or aliases) that match no rule. */
export function checkRuleNames(names: readonly string[]): string[] {
  return names.filter((name) => !resolveRuleName(name));
}

/** Default rules plus `include`, minus `exclude` (which wins). Unknown names throw: check them first. */
export function selectRules(include: readonly string[], exclude: readonly string[]): Rule[] {
  const unknown = checkRuleNames([...include, ...exclude]);
  if (unknown.length > 0) throw new Error(`unknown lint rule ${unknown.join(', ')}`);
  const expand = (names: readonly string[]) => new Set(names.flatMap((name) => resolveRuleName(name) ?? []));
  const included = expand(include);
  const excluded = expand(exclude);
  return RULES.filter((rule) => (!rule.optIn || included.has(rule.name)) && !excluded.has(rule.name));
}
