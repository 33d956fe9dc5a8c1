import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatProblem, loadSpec } from '../../spec/index.js';
import type { PromoteSpec } from '../../spec/index.js';
import { ReportedFailure } from '../../errors.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';

export function registerValidate(program: Command, context: () => CliContext): void {
  program
    .command('validate')
    .description('check promote.yaml: every problem is listed with its line and column')
    .argument('[file]', 'the file to check (default: --config, promote.yaml)')
    .option('--json', 'print the result as JSON')
    .addHelpText('after', '\nExamples:\n  $ promote validate\n  $ promote validate deploy/promote.yaml --json\n')
    .action(async (file: string | undefined, options: { json?: boolean }) => {
      const { io, globals } = context();
      const shown = file ?? globals.config;
      const path = resolve(io.cwd, shown);
      const result = await loadSpec(path, io.env);
      if (options.json) {
        printJson(io, result.ok ? { ok: true, file: path, summary: summarize(result.spec) } : { ok: false, file: path, problems: result.problems });
      } else if (result.ok) {
        printLine(io, `${shown} is valid: ${describe(result.spec)}`);
      } else {
        for (const problem of result.problems) printLine(io, formatProblem(problem));
        printLine(io, `\n${result.problems.length} problem${result.problems.length === 1 ? '' : 's'} in ${shown}`);
      }
      if (!result.ok) throw new ReportedFailure(`${shown} is not valid`);
    });
}

function summarize(spec: PromoteSpec) {
  return {
    app: spec.app.name,
    environments: spec.environments.map((environment) => environment.name),
    strategies: Object.keys(spec.strategies),
    analysisTemplates: Object.keys(spec.analysis?.templates ?? {}),
    flags: (spec.flags ?? []).map((flag) => flag.name),
  };
}

function describe(spec: PromoteSpec): string {
  const summary = summarize(spec);
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  return `app ${summary.app}, ${plural(summary.environments.length, 'environment')} (${summary.environments.join(' -> ')}), ${plural(summary.strategies.length, 'strategy').replace('strategys', 'strategies')}, ${plural(summary.analysisTemplates.length, 'analysis template')}, ${plural(summary.flags.length, 'flag')}`;
}
