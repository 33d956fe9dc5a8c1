/**
 * What the delivery report is computed from: recorded facts only, as plain JSON (times as ISO strings),
 * so the computation is a pure function that tests can feed hand-built histories.
 */
export interface ReportInput {
  /** each app's environments in promotion order (the store's positions) */
  environments: Array<{ app: string; names: string[] }>;
  releases: Array<{ id: number; app: string; version: string; createdAt: string }>;
  rollouts: Array<{ id: number; app: string; environment: string; releaseId: number; stableReleaseId: number | null; createdAt: string }>;
  /** audit events in seq order; rolloutId null for events of no rollout (reconcile repairs) */
  events: Array<{ seq: number; type: string; app: string | null; environment: string | null; rolloutId: number | null; data: Record<string, unknown>; createdAt: string }>;
  measurements: Array<{ rolloutId: number; template: string; takenAt: string; verdict: string; reason: string }>;
}

export interface ReportPeriod {
  since: Date;
  until: Date;
  /** one app only; every app in the input when absent */
  app?: string;
}

/** "production" is the last environment of an app's promotion order, or any environment named production. */
export function productionEnvironments(input: Pick<ReportInput, 'environments'>): Set<string> {
  const production = new Set<string>();
  for (const { app, names } of input.environments) {
    const last = names.at(-1);
    if (last !== undefined) production.add(`${app}/${last}`);
    if (names.includes('production')) production.add(`${app}/production`);
  }
  return production;
}
