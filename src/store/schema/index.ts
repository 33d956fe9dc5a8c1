import core from './001-core.js';
import traffic from './002-traffic.js';
import rolloutEngine from './003-rollout-engine.js';
import analysis from './004-analysis.js';
import migrationHistory from './005-migrations.js';
import flags from './006-flags.js';
import flagSafeguards from './007-flag-safeguards.js';
import approvalAttempts from './008-approval-attempts.js';
import notifications from './009-notifications.js';
import tokens from './010-tokens.js';
import sessions from './011-sessions.js';

/** One versioned step of the store's own schema; never edit one that has shipped, add the next. */
export interface StoreMigration {
  version: number;
  name: string;
  sql: string;
}

export const storeMigrations: readonly StoreMigration[] = [core, traffic, rolloutEngine, analysis, migrationHistory, flags, flagSafeguards, approvalAttempts, notifications, tokens, sessions];
