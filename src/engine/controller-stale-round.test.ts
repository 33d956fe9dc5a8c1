/**
 * An action that finishes while a round of the controller is under way: the round read the rollout's
 * record before the outcome was recorded, so to that record the action is still unfinished. It must
 * not be performed again. (Found as a doubled `action.succeeded` in the controller-kill e2e test on a
 * loaded machine: the round saw the action neither running in this process nor finished in its record,
 * and launched it a second time.) The store's read of the actions is held here until the action's
 * outcome is recorded, which makes the interleaving certain instead of rare.
 */
import { describe, expect, it } from 'vitest';
import { createStorePool } from '../../test/helpers/database.js';
import { parseSpec } from '../spec/index.js';
import { createRelease, upsertApp, verifyEventChain } from '../store/index.js';
import { Controller } from './controller.js';
import { startRollout } from './start.js';
import type { Outcome } from './state.js';

const SPEC = `version: 1
app: { name: shop }
environments:
  - name: staging
    database: postgres://localhost/shop
    target: { type: external, url: "http://127.0.0.1:1/{{version}}" }
    strategy: canary
strategies:
  canary:
    type: canary
    steps:
      - setWeight: 50
      - promote: {}
`;

describe('an action finishing while a round reads a record from before its outcome', () => {
  it('is performed once', async () => {
    const { pool, url } = await createStorePool();
    const parsed = parseSpec(SPEC, { file: 'promote.yaml' });
    if (!parsed.ok) throw new Error('spec');
    await upsertApp(pool, { name: 'shop' });
    await createRelease(pool, { app: 'shop', version: 'v1', digest: `sha256:${'1'.repeat(64)}`, migrationChecksums: {} });

    const performed = new Map<string, number>();
    let first: { id: string; finish: (outcome: Outcome) => void } | undefined;
    let hold = true;
    // the store as the controller sees it: the first read of the actions after the first action began
    // returns what it read only once that action's outcome is recorded and its run has ended here
    const held = new Proxy(pool, {
      get(target, property, receiver) {
        if (property !== 'query') return Reflect.get(target, property, receiver) as unknown;
        return async (text: string, values?: unknown[]) => {
          const result = await target.query(text, values);
          if (hold && first !== undefined && typeof text === 'string' && text.startsWith('select id, action, status, outcome from promote.rollout_actions')) {
            hold = false;
            first.finish({ status: 'succeeded' });
            for (let waited = 0; waited < 5_000; waited += 10) {
              const status = await target.query<{ status: string }>('select status from promote.rollout_actions where id = $1', [first.id]);
              if (status.rows[0]?.status === 'succeeded') break;
              await new Promise((done) => setTimeout(done, 10));
            }
            await new Promise((done) => setTimeout(done, 50)); // the run's finally: no longer running here
          }
          return result;
        };
      },
    });

    const controller = new Controller({
      pool: held,
      databaseUrl: url,
      pollMs: 100,
      executor: {
        perform: (action) => {
          performed.set(action.id, (performed.get(action.id) ?? 0) + 1);
          if (first !== undefined) return Promise.resolve({ status: 'succeeded' });
          return new Promise<Outcome>((finish) => (first = { id: action.id, finish }));
        },
      },
    });
    await controller.start();
    try {
      const rollout = await startRollout(pool, { spec: parsed.spec, environment: 'staging', version: 'v1', actor: 'test' });
      controller.wake(rollout.id);
      let phase = '';
      for (let waited = 0; waited < 15_000 && phase !== 'Healthy'; waited += 50) {
        await new Promise((done) => setTimeout(done, 50));
        phase = (await pool.query<{ phase: string }>('select phase from promote.rollouts where id = $1', [rollout.id])).rows[0]!.phase;
      }
      await controller.idle();
      expect(phase).toBe('Healthy');
      expect(hold, 'the held read never happened: the test did not make the interleaving').toBe(false);
      expect([...performed].filter(([, count]) => count > 1)).toEqual([]);
      const outcomes = await pool.query<{ count: string }>(`select count(*) from promote.events where rollout_id = $1 and type in ('action.succeeded', 'action.failed') group by data->>'action' having count(*) > 1`, [rollout.id]);
      expect(outcomes.rows).toEqual([]);
      expect(await verifyEventChain(pool)).toMatchObject({ ok: true });
    } finally {
      await controller.stop();
    }
  }, 30_000);
});
