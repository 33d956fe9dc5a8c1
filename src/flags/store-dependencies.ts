/**
 * Dependencies checked against the other flags of the environment when a flag is written: promote.yaml
 * checks its own list (flagListSchema), the store checks what it holds. A cycle is refused with the
 * flags along it, and so is a second level (Unleash evaluates one: a parent with parents of its own
 * never satisfies its children, so the child would always be off).
 */
import { query, type TransactionClient } from '../store/queryable.js';
import { findDependencyCycle, type DependencyGraphFlag } from './dependencies.js';
import type { FlagScope } from './source.js';
import { lockSubject, scopeText } from './store-changes.js';
import { FlagValidationError, type FlagDefinition } from './store-errors.js';

export async function checkStoredDependencies(tx: TransactionClient, scope: FlagScope, definition: FlagDefinition): Promise<void> {
  const own = definition.dependencies ?? [];
  if (own.length === 0) return;
  // two writers adding dependencies in one environment take turns, so they cannot close a cycle between them
  await lockSubject(tx, `dependencies ${scopeText(scope)}`);
  const others = await query<{ name: string; dependencies: Array<{ feature: string }> | null }>(
    tx,
    `reading the dependencies of the flags of ${scopeText(scope)}`,
    `select name, definition->'dependencies' as dependencies from promote.flags where app = $1 and environment = $2 and not archived and name <> $3`,
    [scope.app, scope.environment, definition.name],
  );
  const flags: DependencyGraphFlag[] = [...others.rows.map((row) => ({ name: row.name, dependencies: row.dependencies ?? [] })), { name: definition.name, dependencies: own }];
  const cycle = findDependencyCycle(flags);
  if (cycle !== undefined) {
    throw new FlagValidationError(`flag "${definition.name}"`, [{ field: 'dependencies', path: ['dependencies'], message: `flags would depend on each other in a cycle: ${cycle.join(' -> ')}` }]);
  }
  const byName = new Map(flags.map((flag) => [flag.name, flag]));
  own.forEach((dependency, index) => {
    const grandparent = byName.get(dependency.feature)?.dependencies?.[0]?.feature;
    if (grandparent !== undefined) {
      throw new FlagValidationError(`flag "${definition.name}"`, [
        { field: `dependencies[${index}].feature`, path: ['dependencies', index, 'feature'], message: `${dependency.feature} depends on ${grandparent} itself; a parent flag cannot have parents (Unleash evaluates one level, so ${definition.name} would always be off)` },
      ]);
    }
  });
  await refuseBecomingGrandparent(tx, scope, definition.name);
}

/** A flag that others depend on cannot take parents of its own. */
async function refuseBecomingGrandparent(tx: TransactionClient, scope: FlagScope, name: string): Promise<void> {
  const children = await query<{ name: string }>(
    tx,
    `finding the flags of ${scopeText(scope)} that depend on ${name}`,
    `select name from promote.flags where app = $1 and environment = $2 and not archived and definition->'dependencies' @> jsonb_build_array(jsonb_build_object('feature', $3::text)) order by name`,
    [scope.app, scope.environment, name],
  );
  if (children.rows.length === 0) return;
  throw new FlagValidationError(`flag "${name}"`, [
    { field: 'dependencies', path: ['dependencies'], message: `${children.rows.map((row) => row.name).join(', ')} depend${children.rows.length === 1 ? 's' : ''} on ${name}; a parent flag cannot have parents (Unleash evaluates one level)` },
  ]);
}
