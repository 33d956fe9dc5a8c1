/**
 * drop_index: the old version may still depend on the index (its queries' plans, its uniqueness), so
 * it stays until complete, which drops it CONCURRENTLY; start only takes it out of the new version's
 * model, and rollback has nothing to undo.
 */
import { OperationError, type OperationHandler } from './types.js';
import { dropIndexStep } from './create-index.js';

export const dropIndex: OperationHandler<'drop_index'> = {
  start(operation, { schema }) {
    const table = schema.tables.find((each) => each.removed !== true && each.indexes.some((index) => index.name === operation.name));
    if (table === undefined) {
      const names = schema.tables.flatMap((each) => (each.removed === true ? [] : each.indexes.map((index) => index.name)));
      throw new OperationError(`index "${operation.name}" does not exist in schema "${schema.name}"${names.length === 0 ? '' : ` (it has: ${names.join(', ')})`}`);
    }
    // DROP INDEX refuses an index a constraint owns, and complete must not fail half way
    const owner = table.constraints.find((constraint) => constraint.name === operation.name && ['unique', 'primary_key', 'exclude'].includes(constraint.type));
    if (owner !== undefined) {
      throw new OperationError(`index "${operation.name}" belongs to the ${owner.type.replace('_', ' ')} constraint "${owner.name}" of table "${table.name}": drop the constraint instead`);
    }
    table.indexes = table.indexes.filter((index) => index.name !== operation.name);
    return { steps: [] };
  },

  complete(operation, { after }) {
    return { steps: [dropIndexStep(after.name, operation.name)] };
  },

  rollback() {
    return [];
  },
};
