import { readFileSync } from 'node:fs';
import { Command, CommanderError, Option } from 'commander';
import { ExitCode, PromoteError, redactSecrets, ReportedFailure, describeCause } from '../errors.js';
import { createLogger, LOG_LEVELS, type Logger, type LogLevel } from '../log.js';
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

type Register = (program: Command, context: () => CliContext) => void;

/**
 * Each top-level command and the module that defines it, in the order help lists them. A command line
 * loads only the module of its command: loading them all costs about a second at every start (the
 * migration linter's SQL parser, the demo, the server), which `promote router` and every script
 * calling the CLI would pay for nothing. Help, an unknown command or none at all loads every module.
 */
const COMMANDS: ReadonlyArray<{ names: readonly string[]; load: () => Promise<Register[]> }> = [
  { names: ['init'], load: async () => [(await import('./commands/init.js')).registerInit] },
  { names: ['validate'], load: async () => [(await import('./commands/validate.js')).registerValidate] },
  { names: ['schema'], load: async () => [(await import('./commands/schema.js')).registerSchema] },
  { names: ['db'], load: async () => [(await import('./commands/db.js')).registerDb] },
  { names: ['release'], load: async () => [(await import('./commands/release.js')).registerRelease] },
  { names: ['traffic'], load: async () => [(await import('./commands/traffic.js')).registerTraffic] },
  { names: ['flags'], load: async () => [(await import('./commands/flags.js')).registerFlags] },
  { names: ['router'], load: async () => [(await import('./commands/router.js')).registerRouter] },
  {
    names: ['deploy', 'rollback', 'controller', 'status', 'pause', 'resume', 'abort', 'promote', 'retry', 'approve', 'history', 'events'],
    load: async () => [(await import('./commands/rollout.js')).registerRollout],
  },
  { names: ['explain'], load: async () => [(await import('./commands/explain.js')).registerExplain] },
  { names: ['server'], load: async () => [(await import('./commands/server.js')).registerServer] },
  { names: ['migrate'], load: async () => [(await import('./commands/migrate-lint.js')).registerMigrateLint, (await import('./commands/migrate-run.js')).registerMigrateRun] },
  { names: ['reconcile'], load: async () => [(await import('./commands/reconcile.js')).registerReconcile] },
  { names: ['demo'], load: async () => [(await import('./commands/demo.js')).registerDemo] },
  { names: ['notify'], load: async () => [(await import('./commands/notify.js')).registerNotify] },
  { names: ['report'], load: async () => [(await import('./commands/report.js')).registerReport] },
  { names: ['audit'], load: async () => [(await import('./commands/audit.js')).registerAudit] },
  { names: ['freeze'], load: async () => [(await import('./commands/freeze.js')).registerFreeze] },
  { names: ['token'], load: async () => [(await import('./commands/token.js')).registerToken] },
];

/** Global options that take a value: the word after them is not the command. */
const VALUE_OPTIONS = new Set(['--database-url', '-c', '--config', '--log-level']);

/** The registrations the command line needs: its command's module, or all of them. */
export async function commandsFor(argv: readonly string[]): Promise<Register[]> {
  let name: string | undefined;
  for (let index = 0; index < argv.length; index++) {
    const word = argv[index]!;
    if (VALUE_OPTIONS.has(word)) index++;
    else if (!word.startsWith('-')) {
      name = word;
      break;
    }
  }
  // --version needs no command at all
  if (name === undefined && (argv.includes('-V') || argv.includes('--version'))) return [];
  const wanted = COMMANDS.filter((command) => name !== undefined && command.names.includes(name));
  const loading = wanted.length > 0 ? wanted : COMMANDS;
  return (await Promise.all(loading.map((command) => command.load()))).flat();
}

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
  for (const register of await commandsFor(argv)) register(program, context);
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
