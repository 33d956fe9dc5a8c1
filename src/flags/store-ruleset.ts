import { query, rethrow, withTransaction, type Queryable } from '../store/queryable.js';
import type { Segment } from './model.js';
import type { FlagScope, ServedRuleset } from './source.js';
import { assertScope, scopeText } from './store-changes.js';
import type { FlagDefinition } from './store-errors.js';
import { toClientFeature } from './to-client.js';

/** Unleash's client API version: strategies with constraints, segments and variants. */
export const CLIENT_FORMAT_VERSION = 2;

/**
 * The scope's flags in Unleash's client format, with segment names mapped to their ids and the
 * revision they were read at. Flags, segments and revision are read from one snapshot (repeatable
 * read), so the revision always describes exactly the flags returned. Archived flags are left out.
 */
export async function clientRuleset(db: Queryable, scope: FlagScope): Promise<ServedRuleset> {
  const doing = `reading the flag ruleset of ${scopeText(scope)}`;
  try {
    return await withTransaction(
      db,
      async (tx) => {
        await assertScope(tx, scope);
        const revision = await query<{ revision: string }>(tx, doing, 'select revision from promote.flag_revisions where app = $1 and environment = $2', [scope.app, scope.environment]);
        const flags = await query<{ definition: FlagDefinition }>(tx, doing, 'select definition from promote.flags where app = $1 and environment = $2 and not archived order by name', [scope.app, scope.environment]);
        const segments = await query<{ id: string; name: string; constraints: Segment['constraints'] }>(tx, doing, 'select id, name, constraints from promote.flag_segments where app = $1 order by id', [scope.app]);
        const segmentIds = new Map(segments.rows.map((row) => [row.name, Number(row.id)]));
        return {
          version: CLIENT_FORMAT_VERSION,
          features: flags.rows.map((row) => toClientFeature(row.definition, segmentIds)),
          segments: segments.rows.map((row) => ({ id: Number(row.id), name: row.name, constraints: row.constraints })),
          revision: revision.rows[0] ? Number(revision.rows[0].revision) : 0,
        };
      },
      { isolation: 'repeatable read' },
    );
  } catch (error) {
    rethrow(doing, error);
  }
}
