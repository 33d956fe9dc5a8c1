import { chmod, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterFile } from './cleanup.js';

/** A scratch folder removed after the file's tests; traversable, since the embedded server may run as another user. */
export async function scratchFolder(prefix = 'promote-'): Promise<string> {
  const folder = await mkdtemp(join(tmpdir(), prefix));
  await chmod(folder, 0o755);
  afterFile(`removing ${folder}`, async () => {
    await rm(folder, { recursive: true, force: true });
  });
  return folder;
}
