import type { Command } from 'commander';
import { buildDeliveryReport } from '../../report/load.js';
import { formatReport } from '../../report/format.js';
import { parsePeriod } from '../../report/period.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';
import { withStore } from '../store.js';

export function registerReport(program: Command, context: () => CliContext): void {
  program
    .command('report')
    .description('delivery metrics from the recorded history: deployment frequency, lead time, change failure rate, rollbacks, MTTD/MTTR, migrations, integrity')
    .option('--since <duration|date>', 'start of the period: a duration back from --until (30d, 2w, 12h) or a date', '30d')
    .option('--until <date>', 'end of the period (default: now)')
    .option('--app <name>', 'one app only (default: every app in the store)')
    .option('--json', 'print the report as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote report\n  $ promote report --since 2w --app shop --json\n  $ promote report --since 2026-01-01 --until 2026-02-01\n\nDefinitions: docs/report.md\n')
    .action(async (options: { since: string; until?: string; app?: string; json?: boolean }) => {
      const ctx = context();
      // a bad period is a usage error, said before the store is opened
      const period = { ...parsePeriod(options), ...(options.app === undefined ? {} : { app: options.app }) };
      const report = await withStore(ctx, (store) => buildDeliveryReport(store.pool, period));
      if (options.json) return printJson(ctx.io, report);
      for (const line of formatReport(report)) printLine(ctx.io, line);
    });
}
