/**
 * When a release that went bad took traffic, when Promote decided to roll it back, and when traffic was
 * back on the stable version: MTTD and MTTR of one failed change, read from a rollout's audit events.
 * The delivery report and the demo's summary both compute it here, so the demo's figures are the
 * report's.
 */

/** An audit event as the store, the API or the report input has it (createdAt an ISO string). */
export interface TimingEvent {
  type: string;
  data: Record<string, unknown>;
  createdAt: string;
}

export interface TimingMeasurement {
  template: string;
  takenAt: string;
  verdict: string;
  reason: string;
}

export interface RegressionTiming {
  /** the release first took traffic: a setTraffic action giving it weight > 0 succeeded */
  trafficAt: string;
  /** the decision to roll back: event rollout.failing */
  detectedAt: string;
  /** traffic back on stable: the rollback's setTraffic succeeded (phase RolledBack when there was no stable to return to) */
  recoveredAt: string;
  /** detection after first traffic, and recovery after detection */
  mttdMs: number;
  mttrMs: number;
  /** the first failed measurement since first traffic (`template: reason`), else the decision's reason */
  reason: string;
}

interface TrafficAction {
  kind?: unknown;
  weights?: Record<string, number>;
}

/**
 * One timing per decision to roll `version` back (a retried rollout can fail more than once), oldest
 * first. A decision taken before the release had any traffic (a failed test or deploy) harmed nobody
 * and has no timing; neither has one whose recovery is not recorded (yet).
 */
export function regressionTimings(version: string, events: readonly TimingEvent[], measurements: readonly TimingMeasurement[] = []): RegressionTiming[] {
  const ordered = [...events].sort((a, b) => a.createdAt.localeCompare(b.createdAt));
  const started = new Map<string, TrafficAction>();
  const timings: RegressionTiming[] = [];
  // first traffic since the previous decision: a retry starts counting again
  let trafficAt: string | undefined;
  let open: { detectedAt: string; trafficAt: string | undefined; reason: string } | undefined;
  const close = (recoveredAt: string) => {
    if (open?.trafficAt !== undefined) {
      timings.push({
        trafficAt: open.trafficAt,
        detectedAt: open.detectedAt,
        recoveredAt,
        mttdMs: ms(open.trafficAt, open.detectedAt),
        mttrMs: ms(open.detectedAt, recoveredAt),
        reason: evidence(open, measurements) ?? open.reason,
      });
    }
    open = undefined;
    trafficAt = undefined;
  };
  for (const event of ordered) {
    if (event.type === 'action.started') {
      const action = event.data.action as (TrafficAction & { id?: unknown }) | undefined;
      if (action?.kind === 'setTraffic' && typeof action.id === 'string') started.set(action.id, action);
    } else if (event.type === 'action.succeeded' && started.has(String(event.data.action))) {
      const weight = started.get(String(event.data.action))!.weights?.[version] ?? 0;
      if (open === undefined && weight > 0) trafficAt ??= event.createdAt;
      if (open !== undefined && weight === 0) close(event.createdAt);
    } else if (event.type === 'rollout.failing' && open === undefined) {
      open = { detectedAt: event.createdAt, trafficAt, reason: typeof event.data.reason === 'string' ? event.data.reason : 'rolled back' };
    } else if (event.type === 'rollout.phase' && open !== undefined && ['RolledBack', 'Degraded'].includes(String(event.data.to))) {
      // no setTraffic back (an app's first release, or Degraded): the end of the rollback is the recovery,
      // or, for Degraded, there is none
      if (event.data.to === 'RolledBack') close(event.createdAt);
      else {
        open = undefined;
        trafficAt = undefined;
      }
    } else if (event.type === 'rollout.aborting') {
      // a person's abort is not a detection; what follows it starts afresh
      trafficAt = undefined;
    }
  }
  return timings;
}

/** The demo's view: the first failed change of `version`, or undefined when it was not caught. */
export function regressionTiming(version: string, events: readonly TimingEvent[], measurements: readonly TimingMeasurement[] = []): RegressionTiming | undefined {
  return regressionTimings(version, events, measurements)[0];
}

/**
 * The first failed measurement taken between first traffic and the decision: the first sign of what
 * the decision acted on (the demo's summary has always shown this one).
 */
function evidence(open: { detectedAt: string; trafficAt: string | undefined }, measurements: readonly TimingMeasurement[]): string | undefined {
  const failed = measurements
    .filter((each) => each.verdict === 'Failed' && each.takenAt <= open.detectedAt && (open.trafficAt === undefined || each.takenAt >= open.trafficAt))
    .sort((a, b) => a.takenAt.localeCompare(b.takenAt))[0];
  return failed === undefined ? undefined : `${failed.template}: ${failed.reason}`;
}

function ms(from: string, to: string): number {
  return Date.parse(to) - Date.parse(from);
}
