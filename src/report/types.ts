/**
 * The delivery report: DORA-style figures computed from what Promote recorded (rollouts, their audit
 * events, releases, analysis measurements), never from what anyone meant to do. Every figure carries
 * the count it was computed from; a figure with nothing to compute it from is `null` ("no data"),
 * never NaN or 0. docs/report.md defines each one.
 *
 * This is the shape `promote report --json` prints and `GET /api/report` answers: the dashboard's
 * report page reads it. Times are ISO strings, durations milliseconds.
 */

/** A share: `value` = numerator / denominator, in [0, 1]; null when the denominator is 0. */
export interface Rate {
  value: number | null;
  numerator: number;
  denominator: number;
}

/** Durations in milliseconds over `count` samples; every field null when count is 0. */
export interface DurationSummary {
  count: number;
  medianMs: number | null;
  meanMs: number | null;
  p90Ms: number | null;
  maxMs: number | null;
}

/** Occurrences over the period, per day and per week of the period's length (null for an empty period). */
export interface Frequency {
  count: number;
  perDay: number | null;
  perWeek: number | null;
}

export interface EnvironmentFrequency extends Frequency {
  app: string;
  environment: string;
  production: boolean;
}

export type RollbackKind =
  /** the engine decided to roll back (a failed step, analysis, hook or test): event rollout.failing */
  | 'automatic'
  /** a person aborted the rollout: event rollout.aborting */
  | 'abort'
  /** `promote rollback`: a new rollout back to a release that was Healthy there before */
  | 'manual';

export type RollbackResult =
  /** traffic back on the stable version: RolledBack/Aborted, or Healthy for a manual rollback */
  | 'succeeded'
  /** ended Degraded (traffic or the schema could not be returned), or a manual rollback that did not reach Healthy */
  | 'failed'
  /** still rolling back at the end of the period */
  | 'unfinished';

export interface RollbackRecord {
  kind: RollbackKind;
  rolloutId: number;
  app: string;
  environment: string;
  version: string;
  /** when the decision was taken (automatic, abort) or the rollback rollout was created (manual) */
  at: string;
  result: RollbackResult;
  reason: string;
}

/**
 * One failed change caught in production: when the release first took traffic, when Promote decided
 * to roll it back, and when traffic was back on the stable version.
 */
export interface IncidentTiming {
  rolloutId: number;
  app: string;
  environment: string;
  version: string;
  /** the release first took traffic (a setTraffic action giving it weight > 0 succeeded) */
  trafficAt: string;
  /** the decision to roll back (event rollout.failing) */
  detectedAt: string;
  /** traffic back on stable (the rollback's setTraffic succeeded); for a release without a stable version, phase RolledBack */
  recoveredAt: string;
  mttdMs: number;
  mttrMs: number;
  /** the evidence: the first failed measurement since first traffic (template: reason), else the decision's reason */
  reason: string;
}

export interface DeliveryReport {
  /** the app reported on; null for every app in the store */
  app: string | null;
  since: string;
  until: string;
  /** the period's length in days (fractional) */
  days: number;
  /** environments counted as production, as app/environment */
  production: string[];

  /** production rollouts of a new release that reached Healthy in the period (rollbacks excluded) */
  deploymentFrequency: Frequency & { byEnvironment: EnvironmentFrequency[] };
  /** release created -> its production rollout Healthy, over the rollouts counted in deploymentFrequency */
  leadTime: DurationSummary;
  /**
   * finished production rollouts (of new releases) that failed (ended RolledBack, Aborted, Degraded,
   * or Healthy then undone by `promote rollback`) over all finished production rollouts
   */
  changeFailureRate: Rate & { rolledBack: number; aborted: number; degraded: number; rolledBackLater: number };
  /** rollbacks started in the period, in every environment */
  rollbacks: Frequency & {
    automatic: number;
    abort: number;
    manual: number;
    /** succeeded over succeeded + failed; unfinished ones are left out */
    successRate: Rate;
    unfinished: number;
    records: RollbackRecord[];
  };
  /** first traffic -> decision to roll back (MTTD) and decision -> traffic back on stable (MTTR), automatic rollbacks only */
  recovery: { mttd: DurationSummary; mttr: DurationSummary; incidents: IncidentTiming[] };
  /** migrate steps (expand, contract, and the rollback of an expand) that finished in the period */
  migrations: Rate & {
    byPhase: Record<'expand' | 'contract' | 'rollback', { succeeded: number; failed: number }>;
    /** expands undone afterwards by a rollback of the rollout */
    rolledBack: number;
  };
  /** verify steps and recorded reconcile repairs in the period */
  integrity: {
    verifySteps: number;
    verifyFailed: number;
    /** integrity checks that failed within verify steps: each a difference found */
    checksFailed: number;
    /** differences a `promote reconcile --repair` recorded (events reconcile.repaired / reconcile.flagged) */
    reconcileDifferences: number;
    reconcileBatches: number;
    /** what the store cannot tell */
    note: string;
  };
}
