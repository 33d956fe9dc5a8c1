/**
 * `promote migrate lint [files...]`: checks plain-SQL migrations (Flyway-style `V<n>__name.sql`) with
 * the Postgres parser and squawk-named rules, before anything touches a database. Files are linted in
 * migration order with one shared schema model, so a type change in V7 is judged against the column
 * V2 created. Exit 1 when an error-level rule fires (warnings alone pass), 2 on usage errors.
 *
 * This file also creates the `promote migrate` command group; other migrate subcommands attach to it
 * through `migrateCommand(program)`, whichever registers first.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { ExitCode, ReportedFailure, UsageError } from '../../errors.js';
import { checkRuleNames, DEFAULT_POSTGRES_VERSION, formatText, lintSql, migrationOrder, SchemaModel, toSquawkJson, type Violation } from '../../migrations/lint/index.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';
import { loadConfig } from '../spec.js';

interface LintCommandOptions {
  json?: boolean;
  exclude: string[];
  include: string[];
  pgVersion?: string;
  assumeInTransaction?: boolean;
}

/** The `promote migrate` group: found if another file registered it already, else created. */
export function migrateCommand(program: Command): Command {
  return (
    program.commands.find((command) => command.name() === 'migrate') ??
    program.command('migrate').description('schema migrations: plan, start (expand), complete (contract), roll back; lint plain-SQL files')
  );
}

export function registerMigrateLint(program: Command, context: () => CliContext): void {
  migrateCommand(program)
    .command('lint')
    .description('check plain-SQL migrations for changes that lock tables or break running versions (squawk rule names)')
    .argument('[files...]', 'SQL files or folders (default: the .sql files in migrations.dir of promote.yaml)')
    .option('--json', 'print the violations as JSON (squawk-shaped, lines and columns from 1)')
    .option('--exclude <rules>', 'rules to turn off, comma-separated (repeatable)', collectNames, [])
    .option('--include <rules>', 'opt-in rules to turn on, like require-table-schema (repeatable)', collectNames, [])
    .option('--pg-version <major>', `the PostgreSQL version the migrations run on (default ${DEFAULT_POSTGRES_VERSION})`)
    .option('--assume-in-transaction', 'the migration tool runs each file in a transaction (Flyway does)')
    .addHelpText(
      'after',
      `
Examples:
  $ promote migrate lint
  $ promote migrate lint db/migration/V7__orders_total.sql --pg-version 16
  $ promote migrate lint db/migration --exclude prefer-robust-stmts,require-statement-timeout --json

Silence a rule on one statement with a comment before it (squawk's spelling works too):
  -- promote-lint-ignore ban-drop-column      -- squawk-ignore ban-drop-column
  -- promote-lint-ignore-file prefer-identity

Exit codes: 0 no errors (warnings may remain), 1 errors found, 2 usage error.
`,
    )
    .action(async (files: string[], options: LintCommandOptions) => {
      const ctx = context();
      const unknown = checkRuleNames([...options.include, ...options.exclude]);
      if (unknown.length > 0) throw new UsageError(`unknown lint rule ${unknown.join(', ')}`, { hint: '`promote migrate lint --help` names the options; rule names are squawk\'s' });
      const postgresVersion = parseVersion(options.pgVersion);
      const paths = files.length > 0 ? await expand(ctx, files) : await specMigrations(ctx);
      const schema = new SchemaModel();
      const violations: Violation[] = [];
      for (const path of migrationOrder(paths)) {
        const text = await readFile(path, 'utf8');
        const shown = relative(ctx.io.cwd, path) || path;
        const found = await lintSql(text, { file: shown, postgresVersion, assumeInTransaction: options.assumeInTransaction, include: options.include, exclude: options.exclude, schema });
        violations.push(...found);
      }
      report(ctx, violations, paths.length, options.json === true);
      if (violations.some((violation) => violation.severity === 'error')) throw new ReportedFailure('migration lint found errors', ExitCode.failed);
    });
}

function report(ctx: CliContext, violations: readonly Violation[], fileCount: number, json: boolean): void {
  if (json) return printJson(ctx.io, toSquawkJson(violations));
  if (violations.length > 0) printLine(ctx.io, formatText(violations));
  const errors = violations.filter((violation) => violation.severity === 'error').length;
  const warnings = violations.length - errors;
  const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
  printLine(ctx.io, `${plural(errors, 'error')}, ${plural(warnings, 'warning')} in ${plural(fileCount, 'file')}`);
}

function collectNames(value: string, previous: string[]): string[] {
  return [...previous, ...value.split(',').map((name) => name.trim()).filter(Boolean)];
}

function parseVersion(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  const match = /^(\d+)(\.\d+)*$/.exec(text.trim());
  const major = Number(match?.[1]);
  if (!match || major < 9 || major > 99) throw new UsageError(`--pg-version "${text}" is not valid: expected a PostgreSQL major version like 15`);
  return major;
}

/** Files as given; folders become the .sql files under them. */
async function expand(ctx: CliContext, inputs: readonly string[]): Promise<string[]> {
  const paths: string[] = [];
  for (const input of inputs) {
    const path = resolve(ctx.io.cwd, input);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new UsageError(`${input}: no such file or folder`);
    paths.push(...(info.isDirectory() ? await sqlFilesUnder(path) : [path]));
  }
  return paths;
}

async function specMigrations(ctx: CliContext): Promise<string[]> {
  const config = await loadConfig(ctx).catch((error: unknown) => {
    throw new UsageError(`no files given, and the migrations folder could not be read from ${ctx.globals.config}`, { cause: error, hint: 'name the SQL files or folders to lint, or run where promote.yaml is (or pass --config)' });
  });
  const dir = resolve(config.configDir, config.spec.migrations.dir);
  const info = await stat(dir).catch(() => undefined);
  if (!info?.isDirectory()) throw new UsageError(`migrations.dir ${dir} is not a folder`, { hint: 'create it, or name the SQL files to lint' });
  return sqlFilesUnder(dir);
}

async function sqlFilesUnder(dir: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) found.push(...(await sqlFilesUnder(path)));
    else if (entry.isFile() && entry.name.toLowerCase().endsWith('.sql')) found.push(path);
  }
  return found;
}
