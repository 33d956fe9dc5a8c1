/**
 * What a rollout's `setFlag` step does to the flag store: turn the flag on or off and set its rollout
 * percentage, in the rollout's environment, recorded in the flag's history with the rollout as the
 * reason. Every write is idempotent (writing what is stored changes nothing), so the controller may
 * repeat the step after a crash.
 */
import type { Queryable } from '../store/queryable.js';
import type { FlagScope } from './source.js';
import type { FlagDefinition } from './store-errors.js';
import { disableFlag, enableFlag, getFlag, putFlag, setFlagRollout, setVariantWeights } from './store-flags.js';

export interface FlagStepChange {
  flag: string;
  enabled?: boolean;
  rollout?: number;
  /** weights out of 1000 by variant name */
  variants?: Record<string, number>;
}

export interface FlagStepOptions {
  actor: string;
  reason: string;
  /** the flags promote.yaml declares: one missing from the store is created from its declaration first */
  declared?: readonly FlagDefinition[];
}

/** Applies the step and says what the flag looks like now. */
export async function applyFlagStep(db: Queryable, scope: FlagScope, change: FlagStepChange, options: FlagStepOptions): Promise<string> {
  const who = { actor: options.actor, reason: options.reason };
  const stored = await getFlag(db, scope, change.flag);
  if (stored === undefined || stored.archived) {
    const declaration = options.declared?.find((flag) => flag.name === change.flag);
    if (declaration === undefined) {
      throw new Error(`flag ${change.flag} is not in the flag store of ${scope.app} ${scope.environment}, nor declared in promote.yaml`);
    }
    // created as declared, which for a release flag means off: the step's own change comes next
    await putFlag(db, scope, declaration, { ...who, ...(stored === undefined ? { expectedVersion: 0 } : {}) });
  }
  // off first, rollout before on: exposure only ever passes through smaller values on the way
  if (change.enabled === false) await disableFlag(db, scope, change.flag, who);
  if (change.rollout !== undefined) await setFlagRollout(db, scope, change.flag, change.rollout, who);
  if (change.variants !== undefined) await setVariantWeights(db, scope, change.flag, change.variants, who);
  if (change.enabled === true) await enableFlag(db, scope, change.flag, who);
  const now = await getFlag(db, scope, change.flag);
  const on = now?.definition.enabled === true;
  const variants = change.variants === undefined ? '' : `, variants ${Object.entries(change.variants).map(([name, weight]) => `${name}=${weight}`).join(' ')}`;
  return `flag ${change.flag} is ${on ? 'on' : 'off'}${change.rollout !== undefined ? ` with a rollout of ${change.rollout}%` : ''}${variants} in ${scope.environment}`;
}
