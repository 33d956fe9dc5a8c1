import type { Command } from 'commander';
import { formatInstant, freezeState, type FreezeMoment, type FreezeState } from '../../engine/freeze.js';
import type { EnvironmentSpec } from '../../spec/index.js';
import type { CliContext } from '../io.js';
import { printJson, printTable } from '../output.js';
import { findEnvironment, loadConfig } from '../spec.js';

/** `promote freeze --json`: the shared state, with `frozen` as a yes/no and the window freezing it as `now` (the CLI's documented shape). */
export interface FreezeRow {
  environment: string;
  mode: FreezeState['mode'];
  timezone: string | null;
  frozen: boolean;
  now: FreezeState['frozen'];
  next: FreezeState['next'];
}

/** Each environment's freeze state at `at`, as `promote freeze` prints it. */
export function freezeRows(environments: readonly EnvironmentSpec[], at: Date): FreezeRow[] {
  return environments.map((environment) => {
    const state = freezeState(environment, at);
    return { environment: state.environment, mode: state.mode, timezone: state.timezone, frozen: state.frozen !== null, now: state.frozen, next: state.next };
  });
}

const span = (moment: Pick<FreezeMoment, 'window'> & { startsAt: Date; endsAt: Date }) => `${moment.window} ${formatInstant(moment.startsAt)} to ${formatInstant(moment.endsAt)}`;

export function registerFreeze(program: Command, context: () => CliContext): void {
  program
    .command('freeze')
    .description('freeze windows: whether each environment is frozen now (by which window, until when) and its next window')
    .option('--env <name>', 'only this environment')
    .option('--json', 'print as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote freeze\n  $ promote freeze --env production --json\n')
    .action(async (options: { env?: string; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const environments = options.env !== undefined ? [findEnvironment(spec, options.env)] : spec.environments;
      const states = freezeRows(environments, new Date());
      if (options.json) return printJson(ctx.io, states);
      printTable<FreezeRow>(ctx.io, states, [
        { header: 'ENVIRONMENT', value: (row) => row.environment },
        { header: 'NOW', value: (row) => (row.now ? `frozen by ${row.now.window} until ${formatInstant(new Date(row.now.until))} (${row.mode === 'wait' ? 'deploys wait' : 'deploys refused'})` : row.mode === null ? 'open (no freeze windows)' : 'open') },
        { header: 'NEXT WINDOW', value: (row) => (row.next ? span({ window: row.next.window, startsAt: new Date(row.next.startsAt), endsAt: new Date(row.next.endsAt) }) : '-') },
        { header: 'TIME ZONE', value: (row) => row.timezone ?? '-' },
      ]);
    });
}
