/**
 * What one migration operation does in each phase, as pgroll splits it: `start` expands the schema so
 * the old and the new version both work, `complete` removes what only the old version needed, and
 * `rollback` removes what start added. Each phase returns the SQL it needs as steps; the runner runs
 * them under a lock budget, and complete and rollback steps are idempotent (`if exists`, guarded
 * blocks), so an interrupted complete or rollback is finished by running it again.
 */
import type pg from 'pg';
import type { OperationBodies, OperationName } from '../operations.js';
import type { VirtualSchema } from '../virtual-schema.js';

export interface Step {
  sql: string;
  /**
   * statements that refuse a transaction block, like CREATE INDEX CONCURRENTLY; they run without the
   * lock budget, so only statements that never block the app's reads and writes may set it
   */
  outsideTransaction?: boolean;
  /**
   * complete and rollback: the step changes what the app sees of a table (drops a trigger, a column or
   * a constraint, renames, swaps a twin in): the table's physical name as start left it. Complete and
   * rollback run all such steps of a table, of every operation, in one transaction (the table's
   * switch), so the app never meets a state in between, such as a `down` trigger that reads a column
   * already renamed, an old NOT NULL column without the trigger that filled it, or (rollback) an `up`
   * trigger whose `_promote_needs_backfill` another operation's rollback dropped. They must be quick
   * catalog changes.
   */
  switchOf?: string;
  /**
   * complete: a scan that must not run under the switch's ACCESS EXCLUSIVE lock (VALIDATE
   * CONSTRAINT): complete runs these first, before any switch, so it also stops while the old shape
   * is whole when a row breaks a constraint. They name tables and columns as start left them.
   * Rollback: a step outside a transaction (DROP INDEX CONCURRENTLY) that would otherwise split a
   * table's switch in two; it runs before the switches.
   */
  beforeSwitch?: boolean;
}

export interface StartContext {
  /** the schema as the new version will see it; start changes it in place */
  schema: VirtualSchema;
  /** the schema of the new version's views, e.g. `public_03_add_column` */
  versionSchema: string;
  /** for reads while planning (catalog checks); start never writes through it */
  db: pg.Pool;
}

export interface StartPlan {
  steps: Step[];
  /** logical names of tables whose existing rows need the backfill to fill new columns */
  backfill?: string[];
  /** the steps change the schema in ways the model cannot follow (raw SQL): read it again afterwards */
  refreshSchema?: boolean;
}

export interface PhaseContext {
  /** the schema before the migration started */
  before: VirtualSchema;
  /** the schema as start left it (the new version's view of it) */
  after: VirtualSchema;
  versionSchema: string;
}

export interface CompletePlan {
  steps: Step[];
  refreshSchema?: boolean;
}

export interface OperationHandler<K extends OperationName> {
  start(operation: OperationBodies[K], context: StartContext): StartPlan | Promise<StartPlan>;
  complete(operation: OperationBodies[K], context: PhaseContext): CompletePlan;
  rollback(operation: OperationBodies[K], context: PhaseContext): Step[];
}

/** An operation the database refused to plan: the table is missing, the column exists already. */
export class OperationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OperationError';
  }
}
