import { ROLLOUT_PHASES, type RolloutPhase } from '../store/rollouts.js';
import type { HookSpec } from '../spec/index.js';
import type { HookPoint, PlannedStep } from './plan.js';

/** The phases are the store's: a rollout row and the engine never disagree on what a phase is called. */
export const PHASES = ROLLOUT_PHASES;
export type Phase = RolloutPhase;
export const TERMINAL_PHASES: ReadonlySet<Phase> = new Set(['Healthy', 'Degraded', 'RolledBack', 'Aborted']);

/** Everything durable about one rollout; the engine's decisions are a pure function of it and the observations. */
export interface RolloutState {
  id: number;
  /** the version being rolled out */
  release: string;
  /** the version serving before it; null for an app's first release */
  stable: string | null;
  phase: Phase;
  reason: string;
  /** 1 for the first run, +1 for each retry; part of every action id */
  attempt: number;
  /** index of the step in progress; the plan's length once all are done */
  step: number;
  /** when the current step began, ms since the epoch */
  stepStartedAt: number | null;
  /** the release's share of traffic as last applied */
  weight: number;
  /** when traffic switched fully to the release; null before */
  promotedAt: number | null;
  /** the previous stable's instances have been torn down after the switch */
  previousRetired: boolean;
  /** analyses left running in the background: their action ids */
  background: string[];
  /** why the rollout is being paused by a person rather than by a step; null when it is not */
  pausedBy: string | null;
  /** set while traffic is being returned to stable after a failure or an abort */
  rollingBack: { to: 'Aborted' | 'RolledBack'; reason: string } | null;
}

export function initialState(id: number, release: string, stable: string | null): RolloutState {
  return {
    id,
    release,
    stable,
    phase: 'Pending',
    reason: 'waiting for the controller',
    attempt: 1,
    step: 0,
    stepStartedAt: null,
    weight: 0,
    promotedAt: null,
    previousRetired: false,
    background: [],
    pausedBy: null,
    rollingBack: null,
  };
}

export type Command =
  | { kind: 'pause'; actor: string }
  | { kind: 'resume'; actor: string }
  | { kind: 'abort'; actor: string; reason?: string }
  | { kind: 'promote'; actor: string; full: boolean }
  | { kind: 'retry'; actor: string };

/** What happened to an action the controller performed: the only way the outside world reaches decide(). */
export interface Outcome {
  status: 'succeeded' | 'failed' | 'running';
  /** for analyses: the verdict once known */
  verdict?: 'Successful' | 'Failed' | 'Inconclusive';
  detail?: string;
  /** what the action found (a test's full result, JUnit counts included), kept with the outcome as evidence */
  evidence?: unknown;
}

export interface Observations {
  now: number;
  commands: readonly Command[];
  outcomes: Readonly<Record<string, Outcome>>;
  /** valid approvals per step index */
  approvals: Readonly<Record<number, number>>;
}

interface ActionBase {
  /** deterministic: the same action of the same step of the same attempt always has the same id */
  id: string;
}

export type Action = ActionBase &
  (
    | { kind: 'deploy'; version: string }
    | { kind: 'setTraffic'; weights: Record<string, number>; stable: string; canary?: string }
    /** rollback: undo the expand of a rollout that is rolled back or aborted */
    | { kind: 'migrate'; phase: 'expand' | 'contract' | 'rollback'; migrations?: string[] }
    | { kind: 'runTest'; step: number; test: Extract<PlannedStep, { kind: 'test' }>['test'] }
    | { kind: 'startAnalysis'; step: number; templates: string[]; background: boolean }
    | { kind: 'stopAnalysis'; analysis: string }
    | { kind: 'setFlag'; flag: string; enabled?: boolean; rollout?: number; variants?: Record<string, number> }
    | { kind: 'requestApproval'; step: number; count: number }
    | { kind: 'verify'; checks: string[] }
    | { kind: 'teardown'; version: string }
    | { kind: 'runHook'; point: HookPoint; hook: HookSpec }
  );

export interface EngineEvent {
  type: string;
  data: Record<string, unknown>;
}

export interface Decision {
  state: RolloutState;
  actions: Action[];
  /** wake the controller at this time even without news (timed pauses, scale-down delays) */
  wakeAt?: number;
  events: EngineEvent[];
}
