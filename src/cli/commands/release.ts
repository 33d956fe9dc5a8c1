import { resolve } from 'node:path';
import type { Command } from 'commander';
import { UsageError } from '../../errors.js';
import { appendEvent, checksumMigrationsFolder, createRelease, listReleases, sha256File, upsertApp, withTransaction, type Release } from '../../store/index.js';
import type { CliContext } from '../io.js';
import { formatTime, printJson, printLine, printTable } from '../output.js';
import { currentActor, loadConfig } from '../spec.js';
import { withStore } from '../store.js';

export function registerRelease(program: Command, context: () => CliContext): void {
  const release = program
    .command('release')
    .description('immutable releases: a version, the sha256 digest of its artifact and the checksums of its migrations')
    .addHelpText('after', '\nExamples:\n  $ promote release create 1.4.0 --artifact dist/orders-1.4.0.tgz\n  $ promote release list --json\n');

  release
    .command('create')
    .description('record a release; the same version with another digest is refused')
    .argument('<version>', 'the release version, e.g. 1.4.0 or a git sha')
    .requiredOption('--artifact <path>', 'the built artifact whose sha256 digest identifies the release')
    .option('--json', 'print the release as JSON')
    .action(async (version: string, options: { artifact: string; json?: boolean }) => {
      const ctx = context();
      if (!/^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/.test(version)) {
        throw new UsageError(`release version "${version}" is not valid: expected letters, digits and . _ + - (at most 128), starting with a letter or digit`);
      }
      const { spec, configDir } = await loadConfig(ctx);
      const artifact = resolve(ctx.io.cwd, options.artifact);
      const digest = await sha256File(artifact);
      const migrationChecksums = await checksumMigrationsFolder(resolve(configDir, spec.migrations?.dir ?? 'migrations'));
      const actor = currentActor(ctx);
      const outcome = await withStore(ctx, (store) =>
        withTransaction(store.pool, async (db) => {
          await upsertApp(db, { name: spec.app.name, actor, ...(spec.app.description ? { description: spec.app.description } : {}) });
          const result = await createRelease(db, { app: spec.app.name, version, digest, artifact, migrationChecksums, createdBy: actor });
          if (result.created) {
            await appendEvent(db, { type: 'release.created', actor, app: spec.app.name, data: { version, digest, migrations: Object.keys(migrationChecksums).length } });
          }
          return result;
        }),
      );
      if (options.json) {
        printJson(ctx.io, { created: outcome.created, release: outcome.release });
        return;
      }
      const migrations = Object.keys(outcome.release.migrationChecksums).length;
      printLine(ctx.io, `${outcome.created ? 'recorded' : 'already recorded, same digest:'} ${spec.app.name} ${version} ${digest} (${migrations} migration${migrations === 1 ? '' : 's'})`);
    });

  release
    .command('list')
    .description('list the releases of the app, newest first')
    .option('--limit <n>', 'how many to show', parseCount, 50)
    .option('--json', 'print the releases as JSON')
    .action(async (options: { limit: number; json?: boolean }) => {
      const ctx = context();
      const { spec } = await loadConfig(ctx);
      const releases = await withStore(ctx, (store) => listReleases(store.pool, spec.app.name, { limit: options.limit }));
      if (options.json) {
        printJson(ctx.io, releases);
        return;
      }
      if (releases.length === 0) {
        printLine(ctx.io, `no releases of ${spec.app.name} yet: record one with \`promote release create <version> --artifact <path>\``);
        return;
      }
      printTable<Release>(ctx.io, releases, [
        { header: 'VERSION', value: (row) => row.version },
        { header: 'DIGEST', value: (row) => row.digest.slice(0, 19) },
        { header: 'MIGRATIONS', value: (row) => String(Object.keys(row.migrationChecksums).length), align: 'right' },
        { header: 'CREATED', value: (row) => formatTime(row.createdAt) },
        { header: 'BY', value: (row) => row.createdBy ?? '' },
      ]);
    });
}


function parseCount(value: string): number {
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 10_000) throw new UsageError(`--limit "${value}" is not valid: expected a whole number from 1 to 10000`);
  return count;
}
