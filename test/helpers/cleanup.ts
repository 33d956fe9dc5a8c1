import { afterAll } from 'vitest';

/**
 * Cleanup that runs after the test file, wherever the resource was made. Vitest drops an `afterAll`
 * registered while a `beforeAll` runs, so helpers called from a `beforeAll` cannot register their own;
 * this module registers one hook when a test file first imports it (each file gets its own copy of
 * the module), and helpers add to it. Tasks run newest first, like nested scopes closing.
 */
const tasks: Array<() => unknown> = [];

afterAll(async () => {
  const failures: unknown[] = [];
  while (tasks.length > 0) {
    try {
      await tasks.pop()!();
    } catch (error) {
      failures.push(error);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cleanup task(s) failed`);
});

export function afterFile(task: () => unknown): void {
  tasks.push(task);
}
