import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, PromoteError, redactSecrets, ReportedFailure, describeCause } from '../errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log.js';
import { registerDb } from './commands/db.js';
import { registerDemo } from './commands/demo.js';
import { registerExplain } from './commands/explain.js';
import { registerFlags } from './commands/flags.js';
import { registerInit } from './commands/init.js';
import { registerMigrateLint } from './commands/migrate-lint.js';
import { registerMigrateRun } from './commands/migrate-run.js';
import { registerNotify } from './commands/notify.js';
import { registerReconcile } from './commands/reconcile.js';
import { registerRelease } from './commands/release.js';
import { registerReport } from './commands/report.js';
import { registerRollout } from './commands/rollout.js';
import { registerRouter } from './commands/router.js';
import { registerSchema } from './commands/schema.js';
import { registerServer } from './commands/server.js';
import { registerTraffic } from './commands/traffic.js';
import { registerValidate } from './commands/validate.js';
import type { CliContext, CliIo, GlobalOptions } from './io.js';

const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string };

const EXAMPLES = `
Examples:
  $ promote init                                   write a commented promote.yaml
  $ promote validate                               check it; every problem with its line
  $ promote release create 1.4.0 --artifact app.tgz
  $ promote db status --json

Exit codes: 0 success, 1 failure, 2 usage error.
Without DATABASE_URL, Promote keeps its state in an embedded PostgreSQL under .promote/pg.
`;

/** Runs one command line and returns the exit code; everything it prints goes through `io`. */
export async function runCli(argv: readonly string[], io: CliIo): Promise<ExitCode> {
  let log: Logger | undefined;
  const program = new Command('promote');
  const context = (): CliContext => {
    const options = program.opts<GlobalOptions>();
    log ??= createLogger({ level: options.logLevel as LogLevel });
    return { io, log, globals: options };
  };
  program
    .description('Promote moves a release from staging to production with its database: tested, step by step, reversible.')
    .version(version, '-V, --version')
    .option('--database-url <url>', 'PostgreSQL for the state store (default: $DATABASE_URL, else the embedded server)')
    .option('-c, --config <file>', 'the promote.yaml to use', 'promote.yaml')
    .addOption(new Option('--log-level <level>', 'how much to log on stderr').choices(LOG_LEVELS).default(io.env.PROMOTE_LOG_LEVEL ?? 'warn'))
    .addHelpText('after', EXAMPLES)
    .showSuggestionAfterError()
    .exitOverride()
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr, outputError: (text, write) => write(text) });
  registerInit(program, context);
  registerValidate(program, context);
  registerSchema(program, context);
  registerDb(program, context);
  registerRelease(program, context);
  registerTraffic(program, context);
  registerFlags(program, context);
  registerRouter(program, context);
  registerRollout(program, context);
  registerExplain(program, context);
  registerServer(program, context);
  registerMigrateLint(program, context);
  registerMigrateRun(program, context);
  registerReconcile(program, context);
  registerDemo(program, context);
  registerNotify(program, context);
  registerReport(program, context);
  for (const command of program.commands) inheritOverrides(command);

  try {
    await program.parseAsync([...argv], { from: 'user' });
    return ExitCode.ok;
  } catch (error) {
    return reportFailure(error, io, log);
  }
}

function inheritOverrides(command: Command): void {
  command.exitOverride().showSuggestionAfterError();
  for (const sub of command.commands) inheritOverrides(sub);
}

function reportFailure(error: unknown, io: CliIo, log: Logger | undefined): ExitCode {
  if (error instanceof CommanderError) {
    // commander has already printed its message (or the help text)
    if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version' || error.code === 'commander.help') return ExitCode.ok;
    if (error.code === 'commander.executeSubCommandAsync') return ExitCode.failed;
    return ExitCode.usage;
  }
  if (error instanceof ReportedFailure) return error.exitCode;
  if (error instanceof PromoteError) {
    io.stderr(`error: ${redactSecrets(error.message)}\n`);
    if (error.hint) io.stderr(`hint: ${redactSecrets(error.hint)}\n`);
    log?.debug({ err: error }, 'failure details');
    return error.exitCode;
  }
  io.stderr(`error: unexpected failure: ${redactSecrets(describeCause(error))}\n`);
  if (error instanceof Error && error.stack) io.stderr(`${redactSecrets(error.stack)}\n`);
  return ExitCode.failed;
}
