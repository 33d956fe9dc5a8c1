/**
 * The stages of a data move, in order: a flag of type `migration` has these as its variants, so stock
 * Unleash SDKs see the stage as the variant name and Promote's SDK helpers read it from there.
 * - off: only the old store; dual-write: write both, read old; shadow: read both, return old, compare;
 * - live: read both, return new; ramp-down: write both, read new; complete: only the new store.
 */
export const MIGRATION_STAGES = ['off', 'dual-write', 'shadow', 'live', 'ramp-down', 'complete'] as const;

export type MigrationStage = (typeof MIGRATION_STAGES)[number];

export function isMigrationStage(name: string): name is MigrationStage {
  return (MIGRATION_STAGES as readonly string[]).includes(name);
}
