import pg from 'pg';
import { describeCause } from '../errors.js';
import type { Logger } from '../log.js';
import { activeRolloutIds, loadEngineRecord, recordOutcome, ROLLOUTS_CHANNEL, saveDecision, type EngineRecord } from '../store/rollout-engine.js';
import { decide } from './decide.js';
import type { RolloutPlan } from './plan.js';
import type { Action, Command, Outcome, RolloutState } from './state.js';

export interface ActionContext {
  rolloutId: number;
  app: string;
  environment: string;
  plan: RolloutPlan;
  state: RolloutState;
}

/**
 * Performs one action. An action that was started but never finished (the controller stopped) is
 * performed again, unless `resolve` says what became of it: for actions that must not run twice.
 */
export interface Executor {
  perform(action: Action, context: ActionContext): Promise<Outcome>;
  resolve?(action: Action, context: ActionContext): Outcome | undefined;
  /** The controller is stopping: interrupt long actions (analyses), which then reject with ActionInterrupted. */
  close?(): void;
}

/**
 * Thrown by an action cut short because its controller stops: no outcome is recorded, so the action
 * stays started and the next controller performs it again (an analysis continues from its records).
 */
export class ActionInterrupted extends Error {
  constructor(what: string) {
    super(`${what} was interrupted: the controller is stopping`);
    this.name = 'ActionInterrupted';
  }
}

export interface ControllerOptions {
  pool: pg.Pool;
  /** for the leader lock and LISTEN, which need a connection of their own */
  databaseUrl: string;
  executor: Executor;
  /** who the audit trail names for the controller's own decisions */
  actor?: string;
  log?: Logger;
  /** how often to look at every rollout in flight even without news; default 5 s */
  pollMs?: number;
  /** how often a standby retries to become the leader; default 2 s */
  standbyMs?: number;
}

// any constant works, as long as every controller uses the same one
const LEADER_LOCK_KEY = 0x70726f6c; // "prol"

/**
 * The controller: reads a rollout, asks decide() what to do, records the decision, performs the actions
 * and records their outcomes, again and again. All state is in the store: killed at any instant and
 * started again, it continues where the records say, and never records an event twice. Only the holder
 * of a Postgres advisory lock acts, so two controllers never act on one rollout.
 */
export class Controller {
  private client: pg.Client | undefined;
  private leader = false;
  private stopped = false;
  private readonly chains = new Map<number, Promise<void>>();
  private readonly running = new Map<string, Promise<void>>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly actor: string;

  constructor(private readonly options: ControllerOptions) {
    this.actor = options.actor ?? 'controller';
  }

  get isLeader(): boolean {
    return this.leader;
  }

  /** Connects, waits to become the leader (in the background), and starts working once it is. */
  async start(): Promise<void> {
    const client = new pg.Client({ connectionString: this.options.databaseUrl, application_name: 'promote-controller', connectionTimeoutMillis: 7_000 });
    client.on('error', (error) => {
      // the advisory lock went with the connection: another controller may lead now, so stop acting
      this.leader = false;
      this.options.log?.error({ err: describeCause(error) }, 'controller lost its database connection and with it the leadership');
    });
    client.on('notification', (message) => {
      if (message.channel === ROLLOUTS_CHANNEL && message.payload) this.wake(Number(message.payload));
    });
    await client.connect();
    this.client = client;
    await client.query(`listen ${ROLLOUTS_CHANNEL}`);
    await this.campaign();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.options.executor.close?.();
    await Promise.allSettled([...this.chains.values(), ...this.running.values()]);
    await this.client?.end().catch(() => undefined);
  }

  /** Every action launched and not yet finished in this process, for tests and graceful stops. */
  async idle(): Promise<void> {
    while (this.running.size > 0 || this.chains.size > 0) await Promise.allSettled([...this.chains.values(), ...this.running.values()]);
  }

  private async campaign(): Promise<void> {
    if (this.stopped || !this.client) return;
    const result = await this.client.query<{ locked: boolean }>('select pg_try_advisory_lock($1) as locked', [LEADER_LOCK_KEY]);
    if (result.rows[0]?.locked) {
      this.leader = true;
      this.options.log?.info('controller is the leader');
      this.poll();
      return;
    }
    this.later(() => void this.campaign().catch((error: unknown) => this.options.log?.error({ err: describeCause(error) }, 'leader election failed')), this.options.standbyMs ?? 2_000);
  }

  private poll(): void {
    if (this.stopped) return;
    void activeRolloutIds(this.options.pool)
      .then((ids) => ids.forEach((id) => this.wake(id)))
      .catch((error: unknown) => this.options.log?.error({ err: describeCause(error) }, 'could not list rollouts in flight'))
      .finally(() => this.later(() => this.poll(), this.options.pollMs ?? 5_000));
  }

  /** Schedules a look at one rollout; looks at the same rollout never overlap. */
  wake(rolloutId: number): void {
    if (!this.leader || this.stopped) return;
    const previous = this.chains.get(rolloutId) ?? Promise.resolve();
    const next = previous
      .then(() => this.advance(rolloutId))
      .catch((error: unknown) => this.options.log?.error({ rolloutId, err: describeCause(error) }, 'the controller could not advance a rollout'))
      .finally(() => {
        if (this.chains.get(rolloutId) === next) this.chains.delete(rolloutId);
      });
    this.chains.set(rolloutId, next);
  }

  /** Decides and records until nothing changes; actions run in the background and wake the rollout when done. */
  private async advance(rolloutId: number): Promise<void> {
    for (let round = 0; round < 100 && !this.stopped; round++) {
      // An action that finishes during this round has its outcome in the store but maybe not in the
      // record read below: to this round it stays running, or it would be performed a second time.
      // Its end wakes the rollout, and the next round reads its outcome.
      const runningAtStart = new Set(this.running.keys());
      const busy = (id: string) => this.running.has(id) || runningAtStart.has(id);
      // one moment for the whole round: the approvals counted are those still valid when decide() judges
      const now = Date.now();
      const record = await loadEngineRecord(this.options.pool, rolloutId, new Date(now));
      if (!record || record.plan === null || record.state === null) return;
      const plan = record.plan as RolloutPlan;
      const state = record.state as RolloutState;
      if (await this.resolveInterrupted(record, plan, state, busy)) continue;
      const commands = record.commands.map((each) => each.command as unknown as Command);
      const decision = decide(plan, state, { now, commands, outcomes: record.outcomes as unknown as Record<string, Outcome>, approvals: record.approvals });
      const changed = commands.length > 0 || decision.events.length > 0 || JSON.stringify(decision.state) !== JSON.stringify(state);
      const fresh = decision.actions.filter((action) => !busy(action.id));
      if (changed || fresh.length > 0) {
        await saveDecision(this.options.pool, record, {
          state: decision.state as unknown as RolloutState & Record<string, unknown>,
          release: decision.state.release,
          stable: decision.state.stable,
          ...(decision.wakeAt !== undefined ? { wakeAt: decision.wakeAt } : {}),
          appliedCommands: record.commands.map((each) => each.id),
          events: decision.events,
          actions: decision.actions as unknown as Array<{ id: string } & Record<string, unknown>>,
          actor: this.actor,
        });
      }
      for (const action of fresh) this.launch(record, plan, decision.state, action);
      if (decision.wakeAt !== undefined) this.later(() => this.wake(rolloutId), Math.max(0, decision.wakeAt - Date.now()) + 5);
      if (!changed) return;
    }
  }

  /** Asks the executor about actions a dead controller left unfinished; true when it recorded an outcome. */
  private async resolveInterrupted(record: EngineRecord, plan: RolloutPlan, state: RolloutState, busy: (id: string) => boolean): Promise<boolean> {
    let resolved = false;
    for (const unfinished of record.unfinished) {
      if (busy(unfinished.id)) continue;
      const action = unfinished.action as unknown as Action;
      const outcome = this.options.executor.resolve?.(action, { rolloutId: record.id, app: record.app, environment: record.environment, plan, state });
      if (!outcome) continue;
      await recordOutcome(this.options.pool, record, unfinished.id, outcome as unknown as { status: string } & Record<string, unknown>, this.actor);
      resolved = true;
    }
    return resolved;
  }

  private launch(record: EngineRecord, plan: RolloutPlan, state: RolloutState, action: Action): void {
    const context: ActionContext = { rolloutId: record.id, app: record.app, environment: record.environment, plan, state };
    const run = this.options.executor
      .perform(action, context)
      .catch((error: unknown): Outcome | undefined => (error instanceof ActionInterrupted ? undefined : { status: 'failed', detail: describeCause(error) }))
      .then((outcome) => (outcome === undefined ? undefined : recordOutcome(this.options.pool, record, action.id, outcome as unknown as { status: string } & Record<string, unknown>, this.actor)))
      .catch((error: unknown) => this.options.log?.error({ action: action.id, err: describeCause(error) }, 'could not record an action outcome; it will be performed again'))
      .finally(() => {
        this.running.delete(action.id);
        this.wake(record.id);
      });
    this.running.set(action.id, run);
  }

  private later(work: () => void, ms: number): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      work();
    }, ms);
    timer.unref();
    this.timers.add(timer);
  }
}
