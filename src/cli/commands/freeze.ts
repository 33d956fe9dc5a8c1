import type { Command } from 'commander';
import { formatInstant, frozenUntil, nextFreeze, type FreezeMoment } from '../../engine/freeze.js';
import type { EnvironmentSpec } from '../../spec/index.js';
import type { CliContext } from '../io.js';
import { printJson, printTable } from '../output.js';
import { findEnvironment, loadConfig } from '../spec.js';

export interface FreezeState {
  environment: string;
  mode: 'refuse' | 'wait' | null;
  timezone: string | null;
  frozen: boolean;
  /** the window freezing the environment now; `until` is when deploys may go again (touching windows chained) */
  now: { window: string; since: string; until: string } | null;
  next: { window: string; startsAt: string; endsAt: string } | null;
}

/** Each environment's freeze state at `at`: frozen by which window until when, or open, and the next window. */
export function freezeStates(environments: readonly EnvironmentSpec[], at: Date): FreezeState[] {
  return environments.map((environment) => {
    const freeze = environment.freeze;
    const now = frozenUntil(freeze, at);
    // the next window to begin after this freeze is over: one starting inside it changes nothing for a deploy
    const next = nextFreeze(freeze, now ? new Date(now.endsAt.getTime() - 1) : at);
    return {
      environment: environment.name,
      mode: freeze?.mode ?? null,
      timezone: freeze?.timezone ?? null,
      frozen: now !== undefined,
      now: now ? { window: now.window, since: now.startsAt.toISOString(), until: now.endsAt.toISOString() } : null,
      next: next ? { window: next.window, startsAt: next.startsAt.toISOString(), endsAt: next.endsAt.toISOString() } : null,
    };
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
      const states = freezeStates(environments, new Date());
      if (options.json) return printJson(ctx.io, states);
      printTable<FreezeState>(ctx.io, states, [
        { header: 'ENVIRONMENT', value: (row) => row.environment },
        { header: 'NOW', value: (row) => (row.now ? `frozen by ${row.now.window} until ${formatInstant(new Date(row.now.until))} (${row.mode === 'wait' ? 'deploys wait' : 'deploys refused'})` : row.mode === null ? 'open (no freeze windows)' : 'open') },
        { header: 'NEXT WINDOW', value: (row) => (row.next ? span({ window: row.next.window, startsAt: new Date(row.next.startsAt), endsAt: new Date(row.next.endsAt) }) : '-') },
        { header: 'TIME ZONE', value: (row) => row.timezone ?? '-' },
      ]);
    });
}
