import { execFile, spawn } from 'node:child_process';
import { chown } from 'node:fs/promises';
import { promisify } from 'node:util';
import { PromoteError, wrapError } from '../../errors.js';

const exec = promisify(execFile);

/** Who the server processes run as: PostgreSQL refuses to start as root, so root hands over to a system user. */
export interface RunAs {
  uid?: number;
  gid?: number;
  user?: string;
}

const SERVICE_USER = 'postgres';

export async function resolveRunAs(): Promise<RunAs> {
  if (process.getuid?.() !== 0) return {};
  let ids = await lookupUser(SERVICE_USER);
  if (!ids) {
    try {
      await exec('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', SERVICE_USER]);
    } catch (error) {
      throw wrapError(`creating the system user "${SERVICE_USER}" to run the embedded PostgreSQL (it refuses to run as root)`, error, {
        hint: 'create the user yourself, run Promote as a non-root user, or set DATABASE_URL',
      });
    }
    ids = await lookupUser(SERVICE_USER);
    if (!ids) throw new PromoteError(`the system user "${SERVICE_USER}" was created but cannot be looked up`);
  }
  return { ...ids, user: SERVICE_USER };
}

async function lookupUser(name: string): Promise<{ uid: number; gid: number } | undefined> {
  try {
    const [uid, gid] = await Promise.all([exec('id', ['-u', name]), exec('id', ['-g', name])]);
    return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
  } catch {
    return undefined;
  }
}

export async function giveTo(runAs: RunAs, path: string): Promise<void> {
  if (runAs.uid === undefined || runAs.gid === undefined) return;
  await chown(path, runAs.uid, runAs.gid);
}

/** Fails early, with a message naming the folder, when the service user cannot reach a path we hand it. */
export async function assertReachable(runAs: RunAs, path: string, what: string): Promise<void> {
  if (runAs.uid === undefined) return;
  const ok = await new Promise<boolean>((resolve) => {
    const child = spawn('/bin/sh', ['-c', 'test -x "$1" && test -r "$1"', 'sh', path], { uid: runAs.uid, gid: runAs.gid, stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('exit', (code) => resolve(code === 0));
  });
  if (!ok) {
    throw new PromoteError(
      `PostgreSQL refuses to run as root, so Promote runs it as user "${runAs.user}", who cannot reach ${what} at ${path}`,
      { hint: 'move the project to a folder every user can traverse, run Promote as a non-root user, or set DATABASE_URL' },
    );
  }
}
