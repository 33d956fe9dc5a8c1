// Types of soak.mjs for the TypeScript test that runs it (test/e2e/soak.test.ts).

export declare const GOOD: readonly string[];
export declare const BAD: string;
export declare const PATTERN: readonly ('promote' | 'bad' | 'rollback')[];

export interface SoakOptions {
  /** an empty scratch folder: promote.yaml, heap files, the instances' state and logs */
  folder: string;
  /** empty database for the state store, on the same server as appUrl */
  storeUrl: string;
  /** empty database for the orders service */
  appUrl: string;
  /** how long cycles keep starting after the warm-up */
  durationMs: number;
  /** cycles to run at least, however long they take */
  minCycles?: number;
  warmupMs?: number;
  /** load alone after the last cycle, before the final sample */
  settleMs?: number;
  sampleEveryMs?: number;
  rate?: number;
  users?: number;
  seed?: number;
  /** in the environment of every process the soak starts, as PROMOTE_TEST_MARKER (and of the app instances as SOAK_MARKER) */
  marker?: string;
  log?: (line: string) => void;
}

export interface MetricSummary {
  unit: string;
  samples: number;
  first?: number;
  last?: number;
  min?: number;
  max?: number;
  slopePerMinute?: number;
  warmUpLevel: number | null;
  firstCycleLevel: number | null;
  end: number | null;
  atCycleEnds: number[];
  slopePerCycle: number;
}

export interface CycleOutcome {
  cycle: number;
  kind: 'promote' | 'bad' | 'rollback';
  id: number;
  version: string;
  from: string;
  phase: string;
  reason: string;
  seconds: number;
  /** from the rollout's creation to its last event */
  rolloutSeconds: number | null;
  expected: boolean;
  /** the rollout's events, each as "<seconds after the cycle began> <type> [step label] [phase]" */
  timeline: string[];
}

export interface SoakReport {
  startedAt: string;
  minutes: number;
  warmUpMinutes: number;
  cycles: {
    total: number;
    byKind: Record<string, number>;
    /** per kind: median and largest seconds of the cycle, and of the rollout alone */
    timing: Record<string, { cycleMedian: number; cycleMax: number; rolloutMedian: number; rolloutMax: number }>;
    unexpected: CycleOutcome[];
    list: CycleOutcome[];
  };
  requests: {
    served: number;
    failed: number;
    failedOutsideBadCycles: number;
    unexpectedFailures: Array<{ phase: string; failed: number; failures: Record<string, number>; samples: string[] }>;
    inBadCycles: { failed: number; byKind: Record<string, number>; onlyGetOrder: boolean };
    mismatches: number;
    rate: number;
    latencyMs: { count: number; p50: number; p90: number; p99: number; max: number; mean: number };
  };
  ledger: { ok: boolean; checked: number; missing: number; problems: number; summary: string };
  metrics: Record<string, MetricSummary>;
  samples: unknown[];
}

export declare function runSoak(options: SoakOptions): Promise<SoakReport>;
