import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { runDemo } from '../../demo/run.js';
import { checkDuration } from '../../spec/duration.js';
import type { CliContext } from '../io.js';

export function registerDemo(program: Command, context: () => CliContext): void {
  program
    .command('demo')
    .description('the whole story on this machine: a service with its database promoted through staging and production under load, then a bad release rolled back by itself')
    .option('--fast', 'short waits and a smaller database: done in under two minutes')
    .option('--keep', 'leave everything running after the summary, until Ctrl-C')
    .option('--rate <n>', 'requests per second of the load on production', parsePositive('--rate'), 150)
    .option('--users <n>', 'simulated users of the load', parsePositive('--users'), 40)
    .option('--pause <duration>', 'how long the canary holds at 50% before its second analysis (default 15s, 2s with --fast)', checkedDuration)
    .option('--gate-requests <n>', 'hold 2.0.0 at its release gate until production has served this many requests since its rollout began', parsePositive('--gate-requests'))
    .option('--orders <n>', 'orders in the production database before the migration (default 50000, 5000 with --fast)', parsePositive('--orders'))
    .option('--json <file>', 'also write the summary as JSON to this file')
    .addHelpText('after', '\nExamples:\n  $ npm start                  # the same as promote demo\n  $ promote demo --fast\n  $ promote demo --keep --rate 300\n')
    .action(async (options: { fast?: boolean; keep?: boolean; rate: number; users: number; orders?: number; pause?: string; gateRequests?: number; json?: string }) => {
      const ctx = context();
      const stop = new AbortController();
      let stopped!: () => void;
      const untilStopped = new Promise<void>((resolve) => (stopped = resolve));
      const onSignal = () => {
        // a second Ctrl-C does not wait for the clean stop
        if (stop.signal.aborted) process.exit(130);
        ctx.io.stderr('\nstopping the demo (Ctrl-C again to quit at once)\n');
        stop.abort(new UsageError('the demo was stopped (Ctrl-C)'));
        stopped();
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      try {
        await runDemo({
          fast: options.fast ?? false,
          keep: options.keep ?? false,
          untilStopped: () => untilStopped,
          rate: options.rate,
          users: options.users,
          ...(options.orders === undefined ? {} : { seedOrders: options.orders }),
          ...(options.pause === undefined ? {} : { pause: options.pause }),
          ...(options.gateRequests === undefined ? {} : { gateRequests: options.gateRequests }),
          ...(options.json === undefined ? {} : { jsonFile: options.json }),
          write: ctx.io.stdout,
          interactive: ctx.io.interactive,
          signal: stop.signal,
        });
      } finally {
        process.off('SIGINT', onSignal);
        process.off('SIGTERM', onSignal);
      }
    });
}

function checkedDuration(text: string): string {
  const checked = checkDuration(text);
  if (!checked.ok) throw new UsageError(`--pause "${text}" is not valid: ${checked.problem}`);
  return text;
}

function parsePositive(option: string): (text: string) => number {
  return (text) => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < 1) throw new UsageError(`${option} "${text}" is not valid: expected a whole number from 1`);
    return value;
  };
}
