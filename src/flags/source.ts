import type { ClientRuleset } from './model.js';

/** Which flags: an app's flags in one of its environments. */
export interface FlagScope {
  app: string;
  environment: string;
}

/** A ruleset as served: the client format plus the revision it was read at. */
export interface ServedRuleset extends ClientRuleset {
  revision: number;
}

/**
 * Where the serving side (Unleash client API, OFREP, the change stream) reads flags from. The store
 * implements it over PostgreSQL, announcing changes with NOTIFY; the servers never touch tables.
 */
export interface FlagRulesetSource {
  /** the scope's ruleset now; an unknown app or environment is a PromoteError naming it */
  ruleset(scope: FlagScope): Promise<ServedRuleset>;
  /** calls `listener` after every committed change in the scope; returns the unsubscribe function */
  onChange(scope: FlagScope, listener: (revision: number) => void): Promise<() => Promise<void>>;
}
