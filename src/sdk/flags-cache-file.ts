import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { ServedRuleset } from '../flags/source.js';

/**
 * The flags client's cache file: the last ruleset the server sent, so an instance that starts while
 * the server is down still evaluates flags as they were. Written whole to a temporary file and renamed,
 * so a crash mid-write leaves the previous file, never half of one.
 */
export async function writeCacheFile(file: string, ruleset: ServedRuleset): Promise<void> {
  await mkdir(dirname(file), { recursive: true });
  const temporary = `${file}.${process.pid}.tmp`;
  await writeFile(temporary, JSON.stringify({ savedAt: new Date().toISOString(), ruleset }));
  await rename(temporary, file);
}

/** The cached ruleset, or undefined when there is no usable file (missing, unreadable or not a ruleset). */
export async function readCacheFile(file: string): Promise<ServedRuleset | undefined> {
  try {
    const parsed = JSON.parse(await readFile(file, 'utf8')) as { ruleset?: ServedRuleset };
    return parsed.ruleset && Array.isArray(parsed.ruleset.features) ? parsed.ruleset : undefined;
  } catch {
    return undefined;
  }
}
