import { readFile, writeFile } from 'node:fs/promises';
import { basename, resolve } from 'node:path';
import type { Command } from 'commander';
import { PromoteError, UsageError, wrapError } from '../../errors.js';
import { initTemplate } from '../../spec/index.js';
import type { CliContext } from '../io.js';
import { printLine } from '../output.js';

const APP_NAME = /^[a-z][a-z0-9-]{0,62}$/;

export function registerInit(program: Command, context: () => CliContext): void {
  program
    .command('init')
    .description('write a commented promote.yaml for the service in this folder')
    .option('--app <name>', 'the app name (default: from package.json or the folder name)')
    .option('--force', 'overwrite an existing file')
    .addHelpText('after', '\nExamples:\n  $ promote init\n  $ promote init --app orders --config deploy/promote.yaml\n')
    .action(async (options: { app?: string; force?: boolean }) => {
      const { io, globals } = context();
      const path = resolve(io.cwd, globals.config);
      const app = options.app ?? (await guessAppName(io.cwd));
      if (!APP_NAME.test(app)) {
        throw new UsageError(`--app "${app}" is not a valid app name: expected lowercase letters, digits and dashes, starting with a letter (at most 63)`);
      }
      try {
        await writeFile(path, initTemplate({ app }), { flag: options.force ? 'w' : 'wx' });
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'EEXIST') {
          throw new PromoteError(`${path} already exists; not overwriting it`, { hint: 'pass --force to replace it' });
        }
        throw wrapError(`writing ${path}`, error);
      }
      printLine(io, `wrote ${path} for app ${app}`);
      printLine(io, 'next: set STAGING_DATABASE_URL and PRODUCTION_DATABASE_URL, adjust the target command, then run `promote validate`');
    });
}

/** package.json's name without its scope, else the folder's name, made into a valid app name. */
async function guessAppName(cwd: string): Promise<string> {
  let candidate = basename(cwd);
  try {
    const manifest = JSON.parse(await readFile(resolve(cwd, 'package.json'), 'utf8')) as { name?: unknown };
    if (typeof manifest.name === 'string' && manifest.name) candidate = manifest.name.replace(/^@[^/]+\//, '');
  } catch {
    // no package.json: the folder name will do
  }
  const cleaned = candidate.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/^[^a-z]+/, '').replace(/-+$/, '').slice(0, 63);
  return APP_NAME.test(cleaned) ? cleaned : 'my-service';
}
