import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PromoteError, wrapError } from '../../errors.js';

/**
 * What lives in the embedded server's home (`.promote/pg`). The marker file is how we know a folder
 * is ours: without it we never touch a data folder, so a foreign or damaged folder is reported, never
 * silently re-initialised.
 */
export const layout = {
  marker: 'promote-pg.json',
  data: 'data',
  log: 'postgres.log',
  lock: 'start.lock',
  owner: 'owner.json',
  initPrefix: 'data.init-',
  passwordFilePrefix: 'pwfile-',
} as const;

export interface Marker {
  format: 1;
  createdBy: 'promote';
  postgresMajor: number;
  superuser: string;
  password: string;
  database: string;
  /** false until initdb has finished and the data folder has been moved into place */
  initialised: boolean;
  createdAt: string;
}

/** Who started the running server, and whether it should outlive that process (`promote db start`). */
export interface Owner {
  pid: number;
  keep: boolean;
}

export function newMarker(postgresMajor: number): Marker {
  return {
    format: 1,
    createdBy: 'promote',
    postgresMajor,
    superuser: 'postgres',
    password: randomBytes(24).toString('base64url'),
    database: 'promote',
    initialised: false,
    createdAt: new Date().toISOString(),
  };
}

export async function readMarker(home: string): Promise<Marker | undefined> {
  const path = join(home, layout.marker);
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw wrapError(`reading ${path}`, error);
  }
  try {
    const marker = JSON.parse(text) as Partial<Marker>;
    if (marker.createdBy !== 'promote' || marker.format !== 1 || typeof marker.password !== 'string' || typeof marker.postgresMajor !== 'number') {
      throw new Error('fields are missing or have the wrong type');
    }
    return marker as Marker;
  } catch (error) {
    throw new PromoteError(`${path} is damaged (${(error as Error).message}); refusing to guess the embedded database's settings`, {
      cause: error,
      hint: `restore the file from a backup, or move ${home} away to start with an empty state store`,
    });
  }
}

export async function readOwner(home: string): Promise<Owner | undefined> {
  try {
    return JSON.parse(await readFile(join(home, layout.owner), 'utf8')) as Owner;
  } catch {
    return undefined;
  }
}
