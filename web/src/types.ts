/** The API's shapes the dashboard reads (src/server/rollouts.ts, dashboard.ts, traffic-series.ts). */
export interface Rollout {
  id: number;
  app: string;
  environment: string;
  releaseId: number;
  stableReleaseId: number | null;
  phase: string;
  phaseReason: string | null;
  currentStep: number;
  weights: Record<string, number>;
  createdBy: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface AuditEvent {
  seq: number;
  type: string;
  actor: string;
  rolloutId: number | null;
  data: Record<string, unknown>;
  createdAt: string;
  hash: string;
}

export interface Measurement {
  id: number;
  actionId: string;
  template: string;
  seq: number;
  takenAt: string;
  verdict: 'Successful' | 'Failed' | 'Inconclusive' | 'NoData' | 'Error';
  reason: string;
  dryRun?: boolean;
  critical?: boolean;
  candidate?: Record<string, unknown> | null;
  baseline?: Record<string, unknown> | null;
  statistics: Record<string, unknown>;
}

export interface StepView {
  index: number;
  kind: string;
  label: string;
  state: 'done' | 'current' | 'failed' | 'pending' | 'skipped';
  startedAt: string | null;
  finishedAt: string | null;
  detail: Record<string, unknown>;
}

export interface Threshold {
  template: string;
  provider: string | null;
  metric: string | null;
  chart: 'requestRate' | 'errorRate' | 'p50' | 'p99' | null;
  judge: string | null;
  condition: string | null;
  bound: number | null;
  operator: string | null;
}

export interface RolloutDetail {
  rollout: Rollout;
  version: string | null;
  stableVersion: string | null;
  production: boolean;
  strategy: { name: string; type: string } | null;
  steps: StepView[];
  flags: {
    steps: Array<{ step: number; flag: string; change: Record<string, unknown> }>;
    changes: Array<{ flag: string; action: string; actor: string; reason: string | null; diff: string[]; version: number | null; createdAt: string }>;
  };
  thresholds: Threshold[];
}

export interface TrafficPoint {
  t: number;
  requestsPerSecond: number;
  errorRate: number | null;
  p50: number | null;
  p99: number | null;
}

export interface TrafficSeries {
  environment: string;
  seconds: number;
  step: number;
  versions: Array<{ version: string; points: TrafficPoint[] }>;
}

export type RolloutWithVersion = Rollout & { version: string | null; stableVersion: string | null };

export interface Overview {
  app: string;
  environments: Array<{
    name: string;
    production: boolean;
    strategy: string;
    router: boolean;
    running: { version: string | null; rolloutId: number; since: string } | null;
    active: RolloutWithVersion | null;
    lastFinished: RolloutWithVersion | null;
    weights: Record<string, number> | null;
    /** freeze windows now (null: the environment has none); the same as GET /api/environments/:environment/freeze */
    freeze: { frozen: { window: string; since: string; until: string } | null; next: { window: string; startsAt: string; endsAt: string } | null } | null;
  }>;
}
