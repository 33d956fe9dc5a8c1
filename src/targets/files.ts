/**
 * What a target keeps on disk: `<stateDir>/<environment>/<version>/` holds one JSON record and one log
 * per instance. Records are the controller's memory across restarts, so they are written atomically.
 */
import { createHash } from 'node:crypto';
import { open, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { redactSecrets, wrapError } from '../errors.js';

/**
 * A folder name for a version or environment: kept as written when it is a plain name, otherwise
 * percent-encoded, so "1.0/beta" or ".." can never leave the state folder.
 */
export function folderName(name: string): string {
  let encoded = '';
  for (const byte of Buffer.from(name, 'utf8')) {
    const char = String.fromCharCode(byte);
    encoded += /[A-Za-z0-9_+-]/.test(char) || (char === '.' && encoded !== '') ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (encoded.length <= 200) return encoded;
  return `${encoded.slice(0, 150)}~${createHash('sha256').update(name).digest('hex').slice(0, 32)}`;
}

export function versionFolder(stateDir: string, environment: string, version: string): string {
  return join(stateDir, folderName(environment), folderName(version));
}

/** Files of a folder, empty when it does not exist. */
export async function listFolder(path: string): Promise<string[]> {
  try {
    return await readdir(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw wrapError(`listing ${path}`, error);
  }
}

export async function removeFile(path: string): Promise<void> {
  try {
    await rm(path, { force: true });
  } catch (error) {
    throw wrapError(`removing ${path}`, error);
  }
}

/** Starts each run's section of a log; the tail shown in errors begins after the last one. */
export const logSectionMark = '--- promote: ';

export function logSectionHeader(text: string): string {
  return `${logSectionMark}${new Date().toISOString()} ${text}\n`;
}

/**
 * The last `lines` lines of a log's latest section (secrets in URLs masked, long lines cut), for
 * error messages. Reads at most the last 64 KiB.
 */
export async function logTail(path: string, lines = 20): Promise<string[]> {
  let text: string;
  try {
    const handle = await open(path, 'r');
    try {
      const { size } = await handle.stat();
      const length = Math.min(size, 65_536);
      const buffer = Buffer.alloc(length);
      await handle.read(buffer, 0, length, size - length);
      text = buffer.toString('utf8');
    } finally {
      await handle.close();
    }
  } catch {
    return [];
  }
  const mark = text.lastIndexOf(logSectionMark);
  if (mark >= 0) text = text.slice(text.indexOf('\n', mark) + 1);
  return text
    .split('\n')
    .map((line) => line.trimEnd())
    .filter((line, index, all) => line !== '' || index < all.length - 1)
    .slice(-lines)
    .map((line) => redactSecrets(line.length > 400 ? `${line.slice(0, 400)}…` : line));
}

/** "last lines of <path>:" and the lines indented, or a note that the log is empty. */
export function formatTail(path: string, lines: string[]): string {
  if (lines.length === 0) return `(nothing in ${path})`;
  return `last lines of ${path}:\n${lines.map((line) => `  ${line}`).join('\n')}`;
}
