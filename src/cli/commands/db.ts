import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { assertPostgresUrl, describeTarget, openPool } from '../../store/connect.js';
import { embeddedStatus, ensureEmbeddedPostgres, runningServerUrls, stopEmbeddedPostgres } from '../../store/embedded/server.js';
import { migrateStore } from '../../store/migrate.js';
import { defaultHome } from '../../store/open.js';
import { readStoreStatus, type StoreSchemaStatus } from '../../store/status.js';
import type { CliContext } from '../io.js';
import { printJson, printLine } from '../output.js';

export function registerDb(program: Command, context: () => CliContext): void {
  const db = program
    .command('db')
    .description('the state store: the embedded PostgreSQL, or the server in DATABASE_URL')
    .addHelpText('after', '\nExamples:\n  $ promote db status\n  $ promote db start          # keep the embedded server running between commands\n  $ DATABASE_URL=postgres://promote@db:5432/promote promote db status --json\n');

  db.command('status')
    .description('show where the state store is, whether it runs, and its schema version (changes nothing)')
    .option('--json', 'print the result as JSON')
    .action(async (options: { json?: boolean }) => {
      const ctx = context();
      const report = await statusReport(ctx);
      if (options.json) printJson(ctx.io, report);
      else printStatus(ctx, report);
    });

  db.command('start')
    .description('start the embedded PostgreSQL and keep it running until `promote db stop`')
    .action(async () => {
      const ctx = context();
      assertEmbedded(ctx, 'start');
      const home = defaultHome(ctx.io.cwd, ctx.io.env);
      const server = await ensureEmbeddedPostgres({ home, keep: true, log: ctx.log });
      try {
        const pool = await openPool(server.url);
        try {
          await migrateStore(pool);
        } finally {
          await pool.end();
        }
      } finally {
        await server.release();
      }
      printLine(ctx.io, `embedded PostgreSQL running on 127.0.0.1:${server.port} (data in ${server.home}); stop it with \`promote db stop\``);
    });

  db.command('stop')
    .description('stop the embedded PostgreSQL')
    .action(async () => {
      const ctx = context();
      assertEmbedded(ctx, 'stop');
      const home = defaultHome(ctx.io.cwd, ctx.io.env);
      const stopped = await stopEmbeddedPostgres(home, ctx.log);
      printLine(ctx.io, stopped ? `stopped the embedded PostgreSQL in ${home}` : `the embedded PostgreSQL in ${home} was not running`);
    });
}

interface StatusReport {
  mode: 'embedded' | 'external';
  running: boolean;
  host?: string;
  port?: number | string;
  database?: string;
  home?: string;
  pid?: number;
  initialised?: boolean;
  keptRunning?: boolean;
  store?: StoreSchemaStatus;
}

async function statusReport(ctx: CliContext): Promise<StatusReport> {
  const url = databaseUrl(ctx);
  if (url) {
    assertPostgresUrl(url, 'DATABASE_URL');
    const target = describeTarget(url);
    const pool = await openPool(url);
    try {
      return { mode: 'external', running: true, host: target.host, port: target.port, database: target.database, store: await readStoreStatus(pool) };
    } finally {
      await pool.end();
    }
  }
  const home = defaultHome(ctx.io.cwd, ctx.io.env);
  const status = await embeddedStatus(home);
  const report: StatusReport = { mode: 'embedded', ...status };
  const urls = status.running ? await runningServerUrls(home) : undefined;
  if (urls) {
    const pool = await openPool(urls.url);
    try {
      report.store = await readStoreStatus(pool);
    } finally {
      await pool.end();
    }
  }
  return report;
}

function printStatus(ctx: CliContext, report: StatusReport): void {
  const lines: string[] = [];
  if (report.mode === 'external') {
    lines.push(`state store: external PostgreSQL at ${report.host}:${report.port}, database ${report.database}`);
  } else {
    lines.push(`state store: embedded PostgreSQL in ${report.home}`);
    if (!report.initialised) lines.push('  not created yet: the first command that needs it creates it');
    lines.push(report.running ? `  running: pid ${report.pid} on 127.0.0.1:${report.port}${report.keptRunning ? ' (kept running by `promote db start`)' : ''}` : '  not running: commands start it on demand; `promote db start` keeps it up');
  }
  if (report.store) {
    const { store } = report;
    lines.push(`  server: PostgreSQL ${store.serverVersion}`);
    lines.push(`  store schema: version ${store.schemaVersion} of ${store.latestSchemaVersion}${store.pendingMigrations > 0 ? ` (${store.pendingMigrations} to apply at next start)` : ' (up to date)'}`);
  }
  for (const line of lines) printLine(ctx.io, line);
}

function databaseUrl(ctx: CliContext): string | undefined {
  return ctx.globals.databaseUrl ?? ctx.io.env.DATABASE_URL;
}

function assertEmbedded(ctx: CliContext, verb: string): void {
  if (databaseUrl(ctx)) {
    throw new UsageError(`\`promote db ${verb}\` manages the embedded PostgreSQL, but DATABASE_URL (or --database-url) points at an external server`, {
      hint: 'unset DATABASE_URL to use the embedded server',
    });
  }
}
