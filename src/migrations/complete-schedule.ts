/**
 * The order in which complete (and rollback) run the steps of every operation (complete with the undo
 * window's keep-aside and window-trigger steps among them), so that the app, then only one version
 * (the new one on complete, the old one on rollback), never sees a state between two of them:
 * 1. the `beforeSwitch` steps (complete: VALIDATE CONSTRAINT scans; rollback: indexes on the new
 *    columns dropped concurrently), in operation order, each in its own transaction: they hold no
 *    lock that blocks writes, and a row that breaks a constraint stops complete while the old shape
 *    is still whole;
 * 2. each table's `switchOf` steps, of every operation, in one transaction per table (its switch):
 *    trigger drops, column drops, renames, SET NOT NULL on a validated check: catalog changes only,
 *    so the ACCESS EXCLUSIVE lock is held briefly. Tables switch in the order they first appear. On
 *    rollback this is what keeps the old version's writes whole: a trigger that sets
 *    `_promote_needs_backfill` or a `_promote_new_<col>` under a NOT NULL check must go together with
 *    those columns and checks, whichever operation added them.
 * Any other step (raw SQL, an index dropped concurrently) keeps its place: the switches of the steps
 * before it run first, and the ones after it gather anew. Every step is idempotent, and so is each
 * switch (it committed whole or not at all), so a complete killed anywhere is finished by running it
 * again.
 */
import type { Step } from './ops/types.js';
import { togetherStep } from './steps.js';

export function switchSchedule(steps: readonly Step[]): Step[] {
  const scheduled = steps.filter((step) => step.beforeSwitch === true);
  const pending = new Map<string, Step[]>();
  const flush = () => {
    for (const group of pending.values()) scheduled.push(togetherStep(group));
    pending.clear();
  };
  for (const step of steps) {
    if (step.beforeSwitch === true) continue;
    if (step.switchOf !== undefined && step.outsideTransaction !== true) {
      pending.set(step.switchOf, [...(pending.get(step.switchOf) ?? []), step]);
      continue;
    }
    flush();
    scheduled.push(step);
  }
  flush();
  return scheduled;
}

/** The steps, each marked as part of the switch of the table (complete and rollback: its physical name as start left it). */
export function switchOf(table: string, steps: readonly Step[]): Step[] {
  return steps.map((step) => ({ ...step, switchOf: table }));
}

/** The steps, each marked to run before every switch. */
export function beforeSwitch(steps: readonly Step[]): Step[] {
  return steps.map((step) => ({ ...step, beforeSwitch: true }));
}
