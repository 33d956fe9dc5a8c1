import { afterAll } from 'vitest';

/**
 * Cleanup that runs after the test file, wherever the resource was made. Vitest drops an `afterAll`
 * registered while a `beforeAll` runs, so helpers called from a `beforeAll` cannot register their own;
 * this module registers one hook when a test file first imports it (each file gets its own copy of
 * the module), and helpers add to it. Tasks run newest first, like nested scopes closing; one that
 * hangs is reported by name rather than holding the whole file until the hook timeout.
 */
const tasks: Array<{ what: string; run: () => unknown }> = [];
const TASK_LIMIT_MS = 15_000;

afterAll(async () => {
  const failures: unknown[] = [];
  while (tasks.length > 0) {
    const { what, run } = tasks.pop()!;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        Promise.resolve().then(run),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`cleanup "${what}" took longer than ${TASK_LIMIT_MS} ms`)), TASK_LIMIT_MS);
        }),
      ]);
    } catch (error) {
      failures.push(error);
    } finally {
      clearTimeout(timer);
    }
  }
  if (failures.length > 0) throw new AggregateError(failures, `${failures.length} cleanup task(s) failed: ${failures.map(String).join('; ')}`);
});

export function afterFile(what: string, run: () => unknown): void {
  tasks.push({ what, run });
}
