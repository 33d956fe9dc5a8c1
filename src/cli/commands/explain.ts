import type { Command } from 'commander';
import { explainRollout } from '../../analysis/explain.js';
import { PromoteError, UsageError } from '../../errors.js';
import { listMeasurements } from '../../store/analysis.js';
import { getRollout, listEvents } from '../../store/index.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';
import { withStore } from '../store.js';

export function registerExplain(program: Command, context: () => CliContext): void {
  program
    .command('explain')
    .description('why a rollout went the way it did: its decisions, each analysis measurement with its inputs and statistics')
    .argument('<rollout>', 'the rollout id (see `promote history`)')
    .option('--all', 'every measurement, not only the last few of each analysis')
    .option('--json', 'print the rollout, its events and measurements as JSON')
    .action(async (id: string, options: { all?: boolean; json?: boolean }) => {
      const ctx = context();
      if (!/^\d+$/.test(id)) throw new UsageError(`rollout: expected a rollout id (a whole number), got "${id}"`, { hint: '`promote history --env <name>` lists them' });
      const rolloutId = Number(id);
      const found = await withStore(ctx, async (store) => {
        const rollout = await getRollout(store.pool, rolloutId);
        if (!rollout) return undefined;
        return { rollout, events: await listEvents(store.pool, { rolloutId }), measurements: await listMeasurements(store.pool, rolloutId) };
      });
      if (!found) throw new PromoteError(`no rollout #${rolloutId} is recorded`, { hint: '`promote history --env <name>` lists them' });
      if (options.json) return printJson(ctx.io, found);
      for (const line of explainRollout({ ...found, all: options.all === true })) printLine(ctx.io, line);
    });
}
