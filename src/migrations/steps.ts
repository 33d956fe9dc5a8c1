/**
 * Runs the SQL steps of a migration phase under a lock budget. Each step runs in its own short
 * transaction with `lock_timeout`, so DDL that waits behind a long query gives up after the budget
 * instead of queueing every other query behind its ACCESS EXCLUSIVE request; it is then retried
 * after a backoff with full jitter, as pgroll does, until the attempts run out.
 */
import type pg from 'pg';
import { PromoteError, describeCause } from '../errors.js';
import type { Step } from './ops/types.js';

export interface LockBudget {
  /** the longest any statement may wait for a lock, in ms (pgroll's default: 500) */
  lockTimeoutMs: number;
  attempts: number;
  /** the first backoff; it doubles up to maxDelayMs, and each wait is a random share of it */
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_LOCK_BUDGET: LockBudget = { lockTimeoutMs: 500, attempts: 12, baseDelayMs: 50, maxDelayMs: 5_000 };

const LOCK_NOT_AVAILABLE = '55P03';

export interface StepEvents {
  /** a step waited past the lock budget and is tried again */
  onLockRetry?: (step: Step, attempt: number, delayMs: number) => void;
  onStep?: (step: Step, elapsedMs: number) => void;
  /** each attempt of a step is about to run (rehearse samples the locks of steps run outside a transaction) */
  beforeStep?: (step: Step) => void;
  /** in the step's transaction, after its statement and before commit: the locks it took are still held */
  beforeCommit?: (client: pg.PoolClient, step: Step) => Promise<void>;
}

export async function runSteps(pool: pg.Pool, steps: readonly Step[], budget: LockBudget = DEFAULT_LOCK_BUDGET, events: StepEvents = {}): Promise<void> {
  for (const step of steps) await runStep(pool, step, budget, events);
}

export async function runStep(pool: pg.Pool, step: Step, budget: LockBudget = DEFAULT_LOCK_BUDGET, events: StepEvents = {}): Promise<void> {
  for (let attempt = 1; ; attempt += 1) {
    const began = performance.now();
    try {
      events.beforeStep?.(step);
      await runOnce(pool, step, budget.lockTimeoutMs, events);
      events.onStep?.(step, performance.now() - began);
      return;
    } catch (error) {
      if (errorCode(error) !== LOCK_NOT_AVAILABLE || attempt >= budget.attempts) throw new StepError(step, error, attempt);
      const ceiling = Math.min(budget.maxDelayMs, budget.baseDelayMs * 2 ** (attempt - 1));
      const delayMs = Math.round(Math.random() * ceiling);
      events.onLockRetry?.(step, attempt, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}

async function runOnce(pool: pg.Pool, step: Step, lockTimeoutMs: number, events: StepEvents): Promise<void> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    if (step.outsideTransaction === true) {
      // CONCURRENTLY never blocks the app's reads or writes, but it waits for every transaction
      // open on the table: a lock budget would only make it fail, half-built, on a busy table
      await client.query(step.sql);
      return;
    }
    await client.query('begin');
    try {
      await client.query(`set local lock_timeout = ${Math.round(lockTimeoutMs)}`);
      await client.query(step.sql);
      await events.beforeCommit?.(client, step);
      await client.query('commit');
    } catch (error) {
      await client.query('rollback').catch((rollbackError: unknown) => {
        broken = rollbackError instanceof Error ? rollbackError : new Error(String(rollbackError));
      });
      throw error;
    }
  } finally {
    client.release(broken);
  }
}

export function errorCode(error: unknown): string | undefined {
  const code = (error as { code?: unknown } | undefined)?.code;
  return typeof code === 'string' ? code : undefined;
}

export class StepError extends PromoteError {
  readonly step: Step;

  constructor(step: Step, cause: unknown, attempts: number) {
    const waited = errorCode(cause) === LOCK_NOT_AVAILABLE ? ` (the lock was still taken after ${attempts} attempts)` : '';
    super(`${describeCause(cause)}${waited}, running:\n${indent(step.sql)}`, { cause });
    this.name = 'StepError';
    this.step = step;
  }
}

function indent(sql: string): string {
  return sql
    .split('\n')
    .map((line) => `    ${line}`)
    .join('\n');
}

/**
 * Several transactional steps as one: their statements in one transaction, under one lock budget,
 * retried as a whole (complete's switch of a table). A crash leaves all of them done or none.
 */
export function togetherStep(steps: readonly Step[]): Step {
  const outside = steps.find((step) => step.outsideTransaction === true);
  if (outside !== undefined) throw new Error(`a step that runs outside a transaction cannot join others in one: ${outside.sql}`);
  const [first] = steps;
  if (steps.length === 1 && first !== undefined) return first;
  // the simple query protocol runs several statements in one call, here inside runOnce's transaction
  return { sql: steps.map((step) => step.sql).join(';\n'), ...(first?.switchOf === undefined ? {} : { switchOf: first.switchOf }) };
}
