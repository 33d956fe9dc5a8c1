/**
 * Reads a migrations folder (promote.yaml's `migrations.dir`): every migration file in the order it
 * is applied, and every problem of every file at once, so one run is enough to fix a folder.
 *
 * The order is pgroll's: by file name (byte order, extension included). pgroll's repository keeps a
 * `.ledger` beside its examples (the output of `ls`, checked in CI so two migrations cannot take the
 * same place unnoticed); pgroll itself does not read it. Promote does: when a `.ledger` is present its
 * order is the order, a migration missing from it or an entry without a file is an error, and a
 * ledger whose order differs from the names' is warned about, since pgroll would apply the names'.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { PromoteError, wrapError } from '../errors.js';
import { loadMigrationFile, MIGRATION_EXTENSIONS, MigrationFileError, migrationNameOf, type Migration, type MigrationProblem } from './file.js';

export const LEDGER_FILE = '.ledger';

export interface MigrationFolder {
  dir: string;
  /** the migrations that loaded, in the order they apply */
  migrations: Migration[];
  /** every migration file, in the order they apply (the ones with problems too) */
  files: string[];
  /** true when a .ledger decided the order */
  ledger: boolean;
  /** errors and warnings of every file and of the ledger, in order of files then position */
  problems: MigrationProblem[];
  /** no errors (warnings allowed) */
  ok: boolean;
}

/** Lists, orders and loads every migration file of `dir`; an unreadable folder throws. */
export async function loadMigrationFolder(dir: string): Promise<MigrationFolder> {
  const names = await listMigrationFiles(dir);
  const ledgerText = await readLedger(dir);
  const ordering = orderMigrationFiles(names, ledgerText, { dir });
  const problems = [...ordering.problems];
  const migrations: Migration[] = [];
  for (const name of ordering.files) {
    const result = await loadMigrationFile(join(dir, name));
    if (result.ok) migrations.push(result.migration);
    problems.push(...(result.ok ? result.warnings : result.problems));
  }
  const rank = new Map(ordering.files.map((name, index) => [join(dir, name), index]));
  const ledgerPath = join(dir, LEDGER_FILE);
  const place = (problem: MigrationProblem) => (problem.file === ledgerPath ? -1 : (rank.get(problem.file) ?? ordering.files.length));
  problems.sort((a, b) => place(a) - place(b) || a.line - b.line || a.column - b.column);
  return { dir, migrations, files: ordering.files, ledger: ledgerText !== undefined, problems, ok: !problems.some((problem) => problem.severity === 'error') };
}

/** Like loadMigrationFolder, but any error throws a MigrationFileError listing all the problems. */
export async function loadMigrationFolderOrThrow(dir: string): Promise<MigrationFolder> {
  const folder = await loadMigrationFolder(dir);
  if (!folder.ok) throw new MigrationFileError(folder.problems);
  return folder;
}

/**
 * The order of migration files (names in the folder): the ledger's when there is one, else by name.
 * Files the ledger does not list come last, by name. Problems name `dir`-joined paths.
 */
export function orderMigrationFiles(names: readonly string[], ledgerText: string | undefined, options: { dir: string }): { files: string[]; problems: MigrationProblem[] } {
  const byName = [...names].sort(compareNames);
  const problems: MigrationProblem[] = duplicateNames(byName, options.dir);
  if (ledgerText === undefined) return { files: byName, problems };

  const ledgerPath = join(options.dir, LEDGER_FILE);
  const problem = (file: string, line: number, message: string, severity: MigrationProblem['severity'] = 'error'): MigrationProblem => ({ file, line, column: 1, path: '', message, severity });
  const present = new Set(names);
  const listed: { name: string; line: number }[] = [];
  const seen = new Map<string, number>();
  ledgerText.split('\n').forEach((raw, index) => {
    const name = raw.trim();
    const line = index + 1;
    // pgroll's ledger is the output of `ls`: it lists whatever else the folder holds too
    if (name === '' || !isMigrationFile(name)) return;
    const first = seen.get(name);
    if (first !== undefined) problems.push(problem(ledgerPath, line, `${name} is listed twice (first on line ${first}); each migration has one place in the order`));
    else if (!present.has(name)) problems.push(problem(ledgerPath, line, `lists ${name}, which is not in ${options.dir}`));
    else listed.push({ name, line });
    if (first === undefined) seen.set(name, line);
  });
  const unlisted = byName.filter((name) => !seen.has(name));
  for (const name of unlisted) {
    problems.push(problem(join(options.dir, name), 1, `not listed in ${LEDGER_FILE}, so its place in the order is unknown: add it to ${ledgerPath}`));
  }
  const outOfOrder = listed.findIndex((entry, index) => index > 0 && compareNames(listed[index - 1]!.name, entry.name) > 0);
  if (outOfOrder > 0) {
    const { name, line } = listed[outOfOrder]!;
    problems.push(
      problem(ledgerPath, line, `${name} comes after ${listed[outOfOrder - 1]!.name} here, but pgroll applies migrations by file name: rename the files to match the ledger's order`, 'warning'),
    );
  }
  return { files: [...listed.map((entry) => entry.name), ...unlisted], problems };
}

/** pgroll's order: file names compared byte by byte (UTF-8), extension included. */
export function compareNames(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}

/** pgroll's globs (`*.json`, `*.yml`, `*.yaml`): case matters, as it does for them. */
function isMigrationFile(name: string): boolean {
  return (MIGRATION_EXTENSIONS as readonly string[]).includes(extname(name));
}

/** `01_a.yaml` and `01_a.json` would both be migration `01_a`. */
function duplicateNames(sorted: readonly string[], dir: string): MigrationProblem[] {
  const first = new Map<string, string>();
  const problems: MigrationProblem[] = [];
  for (const file of sorted) {
    const name = migrationNameOf(file);
    const earlier = first.get(name);
    if (earlier === undefined) first.set(name, file);
    else problems.push({ file: join(dir, file), line: 1, column: 1, path: '', severity: 'error', message: `${earlier} is migration ${name} too: a migration name is the file name without its extension, and must be unique` });
  }
  return problems;
}

async function listMigrationFiles(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new PromoteError(`the migrations folder ${dir} does not exist`, { cause: error, hint: 'create it, or set migrations.dir in promote.yaml' });
    if (code === 'ENOTDIR') throw new PromoteError(`the migrations folder ${dir} is not a folder`, { cause: error, hint: 'set migrations.dir in promote.yaml to a folder' });
    throw wrapError(`listing the migrations folder ${dir}`, error);
  }
  const names: string[] = [];
  for (const entry of entries) {
    if (!isMigrationFile(entry.name)) continue;
    // a symbolic link counts when it leads to a file; a folder named like a file does not
    const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(join(dir, entry.name)).then((target) => target.isFile(), () => false)));
    if (isFile) names.push(entry.name);
  }
  return names;
}

async function readLedger(dir: string): Promise<string | undefined> {
  try {
    return await readFile(join(dir, LEDGER_FILE), 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(`reading ${join(dir, LEDGER_FILE)}`, error);
  }
}
