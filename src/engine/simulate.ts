import { decide } from './decide.js';
import type { RolloutPlan } from './plan.js';
import { TERMINAL_PHASES, type Action, type Command, type EngineEvent, type Observations, type Outcome, type RolloutState } from './state.js';

/**
 * Runs decide() to the end against scripted outcomes, with a clock that jumps to each wake-up time:
 * the engine without I/O. Tests use it to walk whole rollouts; the controller's crash tests compare
 * real runs against it.
 */
export interface Script {
  /** the outcome of each action, by default success (analyses: Successful) */
  outcome?: (action: Action, tick: number) => Outcome | undefined;
  /** commands given at a tick */
  commands?: (tick: number, state: RolloutState) => Command[];
  /** approvals per step at a tick */
  approvals?: (tick: number) => Record<number, number>;
  /** outcomes that change later (an analysis failing while the rollout waits), by action id */
  revise?: (state: RolloutState, tick: number, actions: readonly Action[]) => Record<string, Outcome>;
  start?: number;
  maxTicks?: number;
}

export interface Simulation {
  state: RolloutState;
  actions: Action[];
  events: EngineEvent[];
  phases: string[];
  ticks: number;
}

export function simulate(plan: RolloutPlan, initial: RolloutState, script: Script = {}): Simulation {
  let state = initial;
  let now = script.start ?? 1_000_000;
  const outcomes: Record<string, Outcome> = {};
  const actions: Action[] = [];
  const events: EngineEvent[] = [];
  const phases: string[] = [state.phase];
  const maxTicks = script.maxTicks ?? 200;
  let tick = 0;
  for (; tick < maxTicks; tick++) {
    Object.assign(outcomes, script.revise?.(state, tick, actions) ?? {});
    const observations: Observations = { now, commands: script.commands?.(tick, state) ?? [], outcomes: { ...outcomes }, approvals: script.approvals?.(tick) ?? {} };
    const decision = decide(plan, state, observations);
    const changed = JSON.stringify(decision.state) !== JSON.stringify(state);
    state = decision.state;
    events.push(...decision.events);
    if (phases.at(-1) !== state.phase) phases.push(state.phase);
    for (const action of decision.actions) {
      actions.push(action);
      const outcome = script.outcome?.(action, tick) ?? defaultOutcome(action);
      outcomes[action.id] = outcome;
    }
    if (decision.actions.length === 0 && TERMINAL_PHASES.has(state.phase) && !changed) break;
    if (decision.actions.length === 0 && !changed && observations.commands.length === 0) {
      const scripted = script.commands !== undefined || script.approvals !== undefined || script.revise !== undefined;
      // with nothing scripted, jump to the next wake-up; with people or later outcomes in the script, walk a second at a time
      if (!scripted && decision.wakeAt !== undefined && decision.wakeAt > now) now = decision.wakeAt;
      else if (!scripted) break;
      else now = Math.min(decision.wakeAt ?? Infinity, now + 1_000);
    }
  }
  return { state, actions, events, phases, ticks: tick };
}

function defaultOutcome(action: Action): Outcome {
  return action.kind === 'startAnalysis' ? (action.background ? { status: 'running' } : { status: 'succeeded', verdict: 'Successful' }) : { status: 'succeeded' };
}
