import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { PromoteError } from '../../errors.js';
import { readJson } from '../../system/files.js';

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
  const value = await readJson(path);
  if (value === undefined) return undefined;
  const marker = (typeof value === 'object' && value !== null ? value : {}) as Partial<Marker>;
  if (marker.createdBy !== 'promote' || marker.format !== 1 || typeof marker.password !== 'string' || typeof marker.postgresMajor !== 'number') {
    const problem = value === 'damaged' ? 'not JSON' : 'fields are missing or have the wrong type';
    throw new PromoteError(`${path} is damaged (${problem}); refusing to guess the embedded database's settings`, {
      hint: `restore the file from a backup, or move ${home} away to start with an empty state store`,
    });
  }
  return marker as Marker;
}

/** Who started the running server; a missing or unreadable file means nobody recorded it. */
export async function readOwner(home: string): Promise<Owner | undefined> {
  const value = await readJson(join(home, layout.owner)).catch(() => undefined);
  return typeof value === 'object' && value !== null ? (value as Owner) : undefined;
}
